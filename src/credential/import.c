/*
 * Importing a certificate onto a token: it goes next to its key or not at
 * all, and only once it is checked (chain when a CA is given, validity
 * unless forced).
 */
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "token-internal.h"

static imss_err
check_validity(imss_ctx *ctx, X509 *cert, unsigned flags)
{
	imss_cert_info info;
	imss_err err = imss_cert_describe(cert, &info);

	if (err != IMSS_OK)
		return err;
	if ((info.expired || info.not_yet_valid) && !(flags & IMSS_IMPORT_FORCE))
		err = ctx_fail_next(ctx, IMSS_ERR_CERT_VALIDITY, IMSS_NEXT_FORCE,
		                    info.expired
		                            ? _("Certificate %s expired %ld days ago; it was not imported. It can still be stored if you ask for that explicitly.")
		                            : _("Certificate %s is not valid yet; it was not imported. It can still be stored if you ask for that explicitly."),
		                    info.serial, -info.days_left);
	imss_cert_info_clear(&info);
	return err;
}

static imss_err
check_chain(imss_ctx *ctx, X509 *cert, STACK_OF(X509) * ca, unsigned flags)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	imss_err err = IMSS_OK;
	int i, rc;

	if (store == NULL || vctx == NULL) {
		err = IMSS_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < sk_X509_num(ca); i++)
		X509_STORE_add_cert(store, sk_X509_value(ca, i));
	if (!X509_STORE_CTX_init(vctx, store, cert, ca)) {
		err = ctx_fail_openssl(ctx, "X509_STORE_CTX_init");
		goto out;
	}
	if (flags & IMSS_IMPORT_FORCE)
		X509_STORE_CTX_set_flags(vctx, X509_V_FLAG_NO_CHECK_TIME);
	rc = X509_verify_cert(vctx);
	if (rc != 1)
		err = ctx_fail(ctx, IMSS_ERR_CHAIN,
		               _("The certificate does not chain to the given CA: %s. It was not imported."),
		               X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
out:
	ERR_clear_error();
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	return err;
}

imss_err
imss_token_import_certificate(imss_token *tok, X509 *cert, STACK_OF(X509) * ca, const char *label,
                              unsigned flags, char **uri_out)
{
	unsigned char *der = NULL;
	imss_key *key = NULL;
	imss_err err;
	int len;

	if (uri_out != NULL)
		*uri_out = NULL;
	ctx_clear_detail(tok->ctx);
	err = check_validity(tok->ctx, cert, flags);
	if (err == IMSS_OK && ca != NULL)
		err = check_chain(tok->ctx, cert, ca, flags);
	if (err == IMSS_OK)
		err = imss_token_find_key_for(tok, X509_get0_pubkey(cert), &key);
	if (err == IMSS_ERR_NO_OBJECT)
		ctx_append_detail(tok->ctx,
		                  _(" The certificate is for a key that is not on this token; the token was not changed."));
	if (err != IMSS_OK)
		goto out;
	len = i2d_X509(cert, &der);
	if (len <= 0) {
		err = ctx_fail_openssl(tok->ctx, "i2d_X509");
		goto out;
	}
	err = imss_token_store_certificate(tok, key, der, (size_t)len, label, uri_out);
out:
	OPENSSL_free(der);
	imss_key_free(key);
	return err;
}
