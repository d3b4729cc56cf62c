/*
 * A certificate from the service is believed only after it checks out:
 * its public key is the new token key, it chains to the service's CA, its
 * subject is the same employer, its validity is sane.  Then it is saved to
 * disk before the token is touched.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "renew.h"

#define MAX_VALIDITY_DAYS (3 * 366)
#define CLOCK_SKEW 600

static imss_err
refuse(struct renew *r, const char *why)
{
	return ctx_fail(r->ctx, IMSS_ERR_REFUSED_CERT,
	                _("The certificate sent by the service was refused: %s. Nothing was stored; the token holds only the new key of this renewal."),
	                why);
}

static int
chains_to_issuer(struct renew *r, X509 *cert)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	int i, ok = 0;

	if (store == NULL || vctx == NULL || r->issuer == NULL)
		goto out;
	for (i = 0; i < sk_X509_num(r->issuer); i++)
		X509_STORE_add_cert(store, sk_X509_value(r->issuer, i));
	if (X509_STORE_CTX_init(vctx, store, cert, NULL) == 1)
		ok = X509_verify_cert(vctx) == 1;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	return ok;
}

static int
same_entry(const X509_NAME *name, int nid, const char *want)
{
	int i = X509_NAME_get_index_by_NID(name, nid, -1);
	unsigned char *utf8 = NULL;
	int len, ok;

	if (i < 0 || X509_NAME_get_index_by_NID(name, nid, i) >= 0)
		return 0;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	ok = len >= 0 && (size_t)len == strlen(want) && memcmp(utf8, want, (size_t)len) == 0;
	OPENSSL_free(utf8);
	return ok;
}

/* The employer's identity; the e-mail too for a certificate just asked
 * for (an older one may carry an e-mail changed since). */
static int
same_employer(struct renew *r, X509 *cert, int with_email)
{
	const X509_NAME *n = X509_get_subject_name(cert);
	const struct idse_company *c = &r->company;

	return same_entry(n, NID_organizationName, c->razon_social) &&
	       same_entry(n, NID_organizationalUnitName, c->registro_patronal) &&
	       same_entry(n, NID_x500UniqueIdentifier, c->rfc) &&
	       (!with_email || same_entry(n, NID_pkcs9_emailAddress, c->email));
}

imss_err
renew_check_certificate(struct renew *r, X509 *cert, EVP_PKEY *key_pub, int with_email)
{
	imss_cert_info info;
	long long now = (long long)time(NULL);
	const char *why = NULL;
	imss_err err;

	if (cert == NULL)
		return refuse(r, _("no certificate"));
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), key_pub) != 1)
		return refuse(r, _("it is for another key than the one generated on the token"));
	err = imss_cert_describe(cert, &info);
	if (err != IMSS_OK)
		return err;
	/* The validity before the chain, whose check fails on an expired
	 * certificate too and would blame the CA. */
	if (info.not_after <= now)
		why = _("it has expired");
	else if (info.not_before > now + CLOCK_SKEW)
		why = _("it is not valid yet");
	else if (info.not_after <= info.not_before ||
	         info.not_after - info.not_before > (long long)MAX_VALIDITY_DAYS * 86400)
		why = _("its validity period makes no sense");
	else if (!chains_to_issuer(r, cert))
		why = _("it does not chain to the service's CA");
	else if (!same_employer(r, cert, with_email))
		why = _("its subject is not this employer (razon social, registro patronal, RFC, e-mail)");
	imss_cert_info_clear(&info);
	return why ? refuse(r, why) : IMSS_OK;
}

/* The user's copy: OUT_DIR/certificado-RP-SERIAL.cer (DER). */
imss_err
renew_write_certificate(struct renew *r, X509 *cert, char **path)
{
	unsigned char *der = NULL;
	imss_cert_info info = { 0 };
	int len = i2d_X509(cert, &der);
	imss_err err = len > 0 ? imss_cert_describe(cert, &info) : IMSS_ERR_NOMEM;
	char *rp = renew_file_safe(r->company.registro_patronal);
	char *serial = info.serial ? renew_file_safe(info.serial) : NULL;

	*path = NULL;
	if (err == IMSS_OK && (rp == NULL || serial == NULL ||
	    (*path = str_printf("%s/certificado-%s-%s.cer", r->out_dir, rp, serial)) == NULL))
		err = IMSS_ERR_NOMEM;
	if (err == IMSS_OK)
		err = imss_write_file_atomic(r->ctx, *path, der, (size_t)len, 0644, 1);
	if (err != IMSS_OK) {
		free(*path);
		*path = NULL;
	}
	imss_cert_info_clear(&info);
	OPENSSL_free(der);
	free(rp);
	free(serial);
	return err;
}

imss_err
renew_save_certificate(struct renew *r, X509 *cert)
{
	char *copy = NULL;
	imss_cert_info info = { 0 };
	imss_err err = imss_cert_describe(cert, &info);

	if (err == IMSS_OK)
		err = renew_write_certificate(r, cert, &copy);
	if (err == IMSS_OK)
		err = journal_set(&r->j.cert_path, copy);
	if (err == IMSS_OK)
		err = journal_set(&r->j.cert_serial, info.serial);
	if (err == IMSS_OK) {
		r->j.state = JOURNAL_CERT_RECEIVED;
		err = journal_save(r->ctx, &r->j);
	}
	if (err == IMSS_OK) {
		const char *f[] = { "serial", info.serial, "certificate", copy, NULL };

		renew_emit(r, "certificate", 6, f,
		           _("Certificate %s received and checked (key, CA, employer, validity); saved to %s."),
		           info.serial, copy);
	}
	imss_cert_info_clear(&info);
	free(copy);
	return err;
}
