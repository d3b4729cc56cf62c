/*
 * Certificate objects: store one next to its key (checked against the
 * key, stored once, read back), and delete an object only once it is known
 * to be the one meant.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "internal.h"

/* DER of the certificate's subject, issuer and serial, for the object. */
struct cert_names {
	unsigned char *subject, *issuer, *serial;
	int subject_len, issuer_len, serial_len;
};

static void
cert_names_free(struct cert_names *c)
{
	OPENSSL_free(c->subject);
	OPENSSL_free(c->issuer);
	OPENSSL_free(c->serial);
}

static int
cert_names_get(X509 *x, struct cert_names *c)
{
	memset(c, 0, sizeof(*c));
	c->subject_len = i2d_X509_NAME(X509_get_subject_name(x), &c->subject);
	c->issuer_len = i2d_X509_NAME(X509_get_issuer_name(x), &c->issuer);
	c->serial_len = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &c->serial);
	return c->subject_len > 0 && c->issuer_len > 0 && c->serial_len > 0;
}

static imss_err
parse_certificate(imss_ctx *ctx, const unsigned char *der, size_t len, X509 **out)
{
	const unsigned char *p = der;

	*out = d2i_X509(NULL, &p, (long)len);
	if (*out == NULL || p != der + len) {
		X509_free(*out);
		*out = NULL;
		return ctx_fail(ctx, IMSS_ERR_INVALID_ARG,
		                _("The certificate is not a single well-formed DER X.509 certificate."));
	}
	return IMSS_OK;
}

/* Is this exact certificate already on the token?  Its handle if so. */
static imss_err
certificate_present(imss_token *tok, const unsigned char *der, size_t len,
                    CK_OBJECT_HANDLE *h, int *present)
{
	CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &klass, sizeof(klass) },
		{ CKA_VALUE, (void *)der, len },
	};
	CK_ULONG count = 0;
	imss_err err;

	err = token_find(tok, tmpl, 2, h, 1, &count);
	*present = count > 0;
	return err;
}

/* Read CKA_VALUE back and compare it with what was written. */
static imss_err
certificate_read_back(imss_token *tok, CK_OBJECT_HANDLE h, const unsigned char *der,
                      size_t len)
{
	unsigned char *buf = malloc(len);
	CK_ATTRIBUTE v = { CKA_VALUE, buf, len };
	imss_err err;

	if (buf == NULL)
		return IMSS_ERR_NOMEM;
	err = token_get_fixed(tok, h, &v, 1);
	if (err == IMSS_OK && (v.ulValueLen != len || memcmp(buf, der, len) != 0))
		err = ctx_fail(tok->ctx, IMSS_ERR_VERIFY,
		               _("The certificate read back from the token differs from the one written."));
	free(buf);
	return err;
}

static imss_err
certificate_create(imss_token *tok, const imss_key *key, X509 *x,
                   const unsigned char *der, size_t len, const char *label,
                   CK_OBJECT_HANDLE *h)
{
	CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ctype = CKC_X_509;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	struct cert_names names;
	imss_err err = IMSS_OK;
	CK_RV rv;

	if (!cert_names_get(x, &names)) {
		cert_names_free(&names);
		return ctx_fail_openssl(tok->ctx, _("certificate names"));
	}
	{
		CK_ATTRIBUTE tmpl[] = {
			{ CKA_CLASS, &klass, sizeof(klass) },
			{ CKA_CERTIFICATE_TYPE, &ctype, sizeof(ctype) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &no, sizeof(no) },
			{ CKA_LABEL, (void *)label, strlen(label) },
			{ CKA_ID, (void *)key->id, key->id_len },
			{ CKA_SUBJECT, names.subject, (CK_ULONG)names.subject_len },
			{ CKA_ISSUER, names.issuer, (CK_ULONG)names.issuer_len },
			{ CKA_SERIAL_NUMBER, names.serial, (CK_ULONG)names.serial_len },
			{ CKA_VALUE, (void *)der, len },
		};

		rv = tok->f->C_CreateObject(tok->session, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), h);
		if (rv != CKR_OK)
			err = token_fail(tok, "C_CreateObject", rv);
	}
	cert_names_free(&names);
	return err;
}

imss_err
imss_token_store_certificate(imss_token *tok, const imss_key *key,
                             const unsigned char *der, size_t len,
                             const char *label, char **uri_out)
{
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	X509 *x = NULL;
	int present = 0;
	imss_err err;

	if (uri_out != NULL)
		*uri_out = NULL;
	ctx_clear_detail(tok->ctx);
	if (label == NULL)
		label = key->label;
	err = parse_certificate(tok->ctx, der, len, &x);
	if (err != IMSS_OK)
		goto out;
	if (EVP_PKEY_eq(X509_get0_pubkey(x), key->pub) != 1) {
		err = ctx_fail(tok->ctx, IMSS_ERR_MISMATCH,
		               _("The certificate is for another key than '%s'; the token was not changed."),
		               key->label);
		goto out;
	}
	err = certificate_present(tok, der, len, &h, &present);
	if (err != IMSS_OK || present)
		goto out;
	err = certificate_create(tok, key, x, der, len, label, &h);
	if (err != IMSS_OK)
		goto out;
	err = certificate_read_back(tok, h, der, len);
	if (err != IMSS_OK && tok->session != CK_INVALID_HANDLE)
		tok->f->C_DestroyObject(tok->session, h);
out:
	if (err == IMSS_OK && uri_out != NULL) {
		*uri_out = object_uri(tok, CKO_CERTIFICATE, key->id, key->id_len, label);
		if (*uri_out == NULL)
			err = IMSS_ERR_NOMEM;
	}
	X509_free(x);
	return err;
}

imss_err
imss_token_delete_object(imss_token *tok, const char *uri, EVP_PKEY *expected)
{
	CK_OBJECT_HANDLE h;
	EVP_PKEY *actual = NULL;
	imss_err err;
	CK_RV rv;

	ctx_clear_detail(tok->ctx);
	if (expected == NULL)
		return ctx_fail(tok->ctx, IMSS_ERR_INVALID_ARG,
		                _("Refusing to delete without the public key to check against."));
	err = token_find_one(tok, uri, (CK_OBJECT_CLASS)-1, &h);
	if (err != IMSS_OK)
		return err;
	err = object_public_key(tok, h, &actual);
	if (err != IMSS_OK)
		return err;
	if (EVP_PKEY_eq(actual, expected) != 1) {
		EVP_PKEY_free(actual);
		return ctx_fail(tok->ctx, IMSS_ERR_MISMATCH,
		                _("'%s' holds another public key than expected; nothing was deleted."), uri);
	}
	EVP_PKEY_free(actual);
	rv = tok->f->C_DestroyObject(tok->session, h);
	if (rv != CKR_OK)
		return token_fail(tok, "C_DestroyObject", rv);
	return IMSS_OK;
}
