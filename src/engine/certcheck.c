/*
 * A certificate from the service is believed only after it checks out:
 * its public key is the new token key, it chains to the trusted CA, its
 * subject is the same employer, its validity is sane, it is an employer's
 * signing certificate (no CA, signatures allowed, no server-only EKU, no
 * SHA-1).  Then it is saved to the state directory (the copy a resumed
 * run reads, and checks again) before the token is touched, and the
 * user's copy is written to the output directory (never read back).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

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

/* Within the clock skew: not before now + skew, not after now. */
static int
valid_now(X509 *x, time_t now)
{
	time_t ahead = now + CLOCK_SKEW;

	return X509_cmp_time(X509_get0_notBefore(x), &ahead) < 0 &&
	       X509_cmp_time(X509_get0_notAfter(x), &now) > 0;
}

/* cert verified against cas (signatures only, no times): the context
 * holding its chain, to be freed with chain_free, or NULL. */
static X509_STORE_CTX *
chain_verified(STACK_OF(X509) * cas, X509 *cert)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	int i, ok = store != NULL && vctx != NULL && cas != NULL;

	for (i = 0; ok && i < sk_X509_num(cas); i++)
		X509_STORE_add_cert(store, sk_X509_value(cas, i));
	if (ok)
		X509_STORE_set_flags(store, X509_V_FLAG_NO_CHECK_TIME | X509_V_FLAG_PARTIAL_CHAIN);
	ok = ok && X509_STORE_CTX_init(vctx, store, cert, NULL) == 1 && X509_verify_cert(vctx) == 1;
	ERR_clear_error();
	if (!ok) {
		X509_STORE_CTX_free(vctx);
		X509_STORE_free(store);
		return NULL;
	}
	return vctx;
}

static void
chain_free(X509_STORE_CTX *vctx)
{
	X509_STORE *store = vctx ? X509_STORE_CTX_get0_store(vctx) : NULL;

	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
}

int
imss_cert_chains_to(X509 *cert, STACK_OF(X509) * cas)
{
	X509_STORE_CTX *vctx = chain_verified(cas, cert);

	chain_free(vctx);
	return vctx != NULL;
}

/*
 * Does cert chain to the trusted CA?  Times are left out of OpenSSL's
 * check (it would use this very second, so a certificate issued by a
 * clock a few seconds ahead would be blamed on the CA) and checked here
 * on every certificate of the chain, with the clock skew.
 */
static const char *
chain_problem(struct renew *r, X509 *cert)
{
	X509_STORE_CTX *vctx = chain_verified(r->issuer, cert);
	const char *why = NULL;
	time_t now = time(NULL);
	STACK_OF(X509) * chain;
	int i;

	if (vctx == NULL)
		return _("it does not chain to the service's CA");
	chain = X509_STORE_CTX_get0_chain(vctx);
	for (i = 1; why == NULL && i < sk_X509_num(chain); i++)
		if (!valid_now(sk_X509_value(chain, i), now))
			why = _("the service's CA that issued it has expired or is not valid yet");
	chain_free(vctx);
	return why;
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

/* The same entries in any order (a CA may sort them: micromdm's puts C,
 * O, OU ... CN), each attribute once. */
static int
same_entries(const X509_NAME *name, const X509_NAME *want)
{
	int i, ok = X509_NAME_entry_count(name) == X509_NAME_entry_count(want);

	for (i = 0; ok && i < X509_NAME_entry_count(want); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(want, i);
		unsigned char *utf8 = NULL;
		int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));

		ok = len >= 0 && strlen((char *)utf8) == (size_t)len &&
		     same_entry(name, OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)), (char *)utf8);
		OPENSSL_free(utf8);
	}
	return ok;
}

/* The employer's identity, field by field (the reason names the field and
 * what was expected, never what the service sent); the e-mail too for a
 * certificate just asked for (an older one may carry an e-mail changed
 * since).  NULL when it is this employer. */
static const char *
employer_problem(struct renew *r, X509 *cert, int with_email, char *buf, size_t size)
{
	const X509_NAME *n = X509_get_subject_name(cert);
	const struct idse_company *c = &r->company;
	const struct {
		int nid;
		const char *want, *field;
	} fields[] = {
		{ NID_organizationalUnitName, c->registro_patronal, "OU (registro patronal)" },
		{ NID_x500UniqueIdentifier, c->rfc, "x500UniqueIdentifier (RFC)" },
		{ NID_organizationName, c->razon_social, "O (razon social)" },
		{ NID_commonName, c->razon_social, "CN (razon social)" },
		{ NID_pkcs9_emailAddress, with_email ? c->email : NULL, "emailAddress" },
	};
	size_t i;

	/* A first enrollment: the subject asked for; a standard protocol's
	 * renewal: the current certificate's subject, as it is. */
	if (renew_is_first(r))
		return same_entries(n, renew_wanted_subject(r))
		               ? NULL
		               : _("its subject is not the one requested (the same attributes and values, in any order)");
	if (r->o->protocol != IMSS_PROTOCOL_IDSE)
		return X509_NAME_cmp(n, renew_wanted_subject(r)) == 0
		               ? NULL
		               : _("its subject is not the current certificate's");
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (fields[i].want == NULL || same_entry(n, fields[i].nid, fields[i].want))
			continue;
		snprintf(buf, size, _("its subject is not this employer: its %s is not '%s'"),
		         fields[i].field, fields[i].want);
		return buf;
	}
	return NULL;
}

/* What an employer's signing certificate must be: no CA, usable for
 * signatures, for clients or e-mail (not a server's), a signature of a
 * hash that is not broken.  NULL when it is. */
static const char *
usage_problem(X509 *cert)
{
	uint32_t flags = X509_get_extension_flags(cert);
	int md = NID_undef;

	if (flags & EXFLAG_INVALID)
		return _("its extensions cannot be read");
	if ((flags & EXFLAG_BCONS) && (flags & EXFLAG_CA))
		return _("it is a CA certificate (basicConstraints CA:TRUE), not an employer's");
	if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE))
		return _("its key usage does not allow digital signatures");
	if ((flags & EXFLAG_XKUSAGE) &&
	    !(X509_get_extended_key_usage(cert) & (XKU_SSL_CLIENT | XKU_SMIME)))
		return _("its extended key usage allows neither clientAuth nor emailProtection (a server's certificate?)");
	if (!X509_get_signature_info(cert, &md, NULL, NULL, NULL))
		return _("its signature algorithm is unknown");
	if (md == NID_sha1 || md == NID_md5 || md == NID_md5_sha1 || md == NID_md4 || md == NID_md2)
		return _("it is signed with a broken hash (SHA-1 or MD5)");
	return NULL;
}

static const char *
validity_problem(const imss_cert_info *info)
{
	long long now = (long long)time(NULL);

	if (info->not_after <= now)
		return _("it has expired");
	if (info->not_before > now + CLOCK_SKEW)
		return _("it is not valid yet");
	if (info->not_after <= info->not_before ||
	    info->not_after - info->not_before > (long long)MAX_VALIDITY_DAYS * 86400)
		return _("its validity period makes no sense");
	return NULL;
}

/*
 * The full check, the same for every certificate that may reach the token
 * (received, resumed from the state directory, recovered): its key, its
 * validity (the clock skew allowed), its usage, its chain to the trusted
 * CA, its employer.  NULL when it passes, else the reason (in buf, or a
 * constant).
 */
const char *
renew_certificate_problem(struct renew *r, X509 *cert, EVP_PKEY *key_pub, int with_email, char *buf,
                          size_t size)
{
	imss_cert_info info;
	const char *why;

	if (cert == NULL)
		return _("no certificate");
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), key_pub) != 1)
		return _("it is for another key than the one generated on the token");
	if (imss_cert_describe(cert, &info) != IMSS_OK)
		return _("it cannot be read");
	/* The validity before the chain, whose check would blame the CA. */
	why = validity_problem(&info);
	imss_cert_info_clear(&info);
	if (why == NULL)
		why = usage_problem(cert);
	if (why == NULL)
		why = chain_problem(r, cert);
	if (why == NULL)
		why = employer_problem(r, cert, with_email, buf, size);
	return why;
}

imss_err
renew_check_certificate(struct renew *r, X509 *cert, EVP_PKEY *key_pub, int with_email)
{
	char buf[512];
	const char *why = renew_certificate_problem(r, cert, key_pub, with_email, buf, sizeof(buf));

	ctx_clear_detail(r->ctx);
	return why ? refuse(r, why) : IMSS_OK;
}

static imss_err
write_der(struct renew *r, const char *path, X509 *cert, unsigned mode)
{
	unsigned char *der = NULL;
	int len = i2d_X509(cert, &der);
	imss_err err = len > 0 ? imss_write_file_atomic(r->ctx, path, der, (size_t)len, mode, 1)
	                       : IMSS_ERR_NOMEM;

	OPENSSL_free(der);
	return err;
}

/* The user's copy: OUT_DIR/certificado-RP-SERIAL.cer (DER). */
imss_err
renew_write_certificate(struct renew *r, X509 *cert, char **path)
{
	imss_cert_info info = { 0 };
	imss_err err = imss_cert_describe(cert, &info);
	char *rp = renew_file_safe(r->company.registro_patronal);
	char *serial = info.serial ? renew_file_safe(info.serial) : NULL;

	*path = NULL;
	if (err == IMSS_OK &&
	    (rp == NULL || serial == NULL ||
	     (*path = str_printf("%s/certificado-%s-%s.cer", r->out_dir, rp, serial)) == NULL))
		err = IMSS_ERR_NOMEM;
	if (err == IMSS_OK)
		err = write_der(r, *path, cert, 0644);
	if (err != IMSS_OK) {
		free(*path);
		*path = NULL;
	}
	imss_cert_info_clear(&info);
	free(rp);
	free(serial);
	return err;
}

imss_err
renew_user_copy(struct renew *r, X509 *cert)
{
	char *path = NULL;
	imss_err err = renew_write_certificate(r, cert, &path);

	if (err == IMSS_OK) {
		free(r->result->cert_path);
		r->result->cert_path = path;
	}
	return err;
}

imss_err
renew_keep_certificate(struct renew *r, X509 *cert, char **path)
{
	imss_err err;

	*path = renew_state_file(r, "certificate", "der");
	if (*path == NULL)
		return IMSS_ERR_NOMEM;
	err = write_der(r, *path, cert, 0600);
	if (err != IMSS_OK) {
		free(*path);
		*path = NULL;
	}
	return err;
}

imss_err
renew_save_certificate(struct renew *r, X509 *cert)
{
	char *kept = NULL;
	imss_cert_info info = { 0 };
	imss_err err = imss_cert_describe(cert, &info);

	if (err == IMSS_OK)
		err = renew_keep_certificate(r, cert, &kept);
	if (err == IMSS_OK)
		err = journal_set(&r->j.cert_path, kept);
	if (err == IMSS_OK)
		err = journal_set(&r->j.cert_serial, info.serial);
	if (err == IMSS_OK) {
		/* Fetched again on resume: the state stays where it was. */
		if (r->j.state < JOURNAL_CERT_RECEIVED)
			r->j.state = JOURNAL_CERT_RECEIVED;
		err = journal_save(r->ctx, &r->j);
	}
	if (err == IMSS_OK)
		err = renew_user_copy(r, cert);
	if (err == IMSS_OK) {
		const char *f[] = { "serial", info.serial, "certificate", r->result->cert_path, NULL };

		renew_emit(r, "certificate", 6, f,
		           _("Certificate %s received and checked (key, CA, employer, validity); saved to %s."),
		           info.serial, r->result->cert_path);
	}
	imss_cert_info_clear(&info);
	free(kept);
	return err;
}
