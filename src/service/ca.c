/*
 * imss-renew-service: the CA (see ca.h).  OpenSSL 3 non-deprecated APIs
 * only.  The CA and TLS keys are EC P-256; certificates are signed with
 * SHA-256.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "util.h"

#define CA_DAYS 3650
#define TLS_DAYS 825
#define DAY 86400L
#define PEM_MAX (64 * 1024)

struct ext {
	int nid;
	const char *value;
};

static const struct ext ca_exts[] = {
	{ NID_basic_constraints, "critical,CA:TRUE,pathlen:0" },
	{ NID_key_usage, "critical,keyCertSign,cRLSign" },
	{ NID_subject_key_identifier, "hash" },
	{ NID_authority_key_identifier, "keyid:always" },
	{ 0, NULL },
};

static const struct ext tls_exts[] = {
	{ NID_basic_constraints, "critical,CA:FALSE" },
	{ NID_key_usage, "critical,digitalSignature" },
	{ NID_ext_key_usage, "serverAuth" },
	{ NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1" },
	{ NID_subject_key_identifier, "hash" },
	{ NID_authority_key_identifier, "keyid:always" },
	{ 0, NULL },
};

static const struct ext employer_exts[] = {
	{ NID_basic_constraints, "critical,CA:FALSE" },
	{ NID_key_usage, "critical,digitalSignature,nonRepudiation" },
	{ NID_ext_key_usage, "clientAuth,emailProtection" },
	{ NID_subject_alt_name, "email:copy" },
	{ NID_subject_key_identifier, "hash" },
	{ NID_authority_key_identifier, "keyid:always" },
	{ 0, NULL },
};

static void
set_err(char *err, size_t size, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char ssl[256] = "";

	if (e)
		ERR_error_string_n(e, ssl, sizeof(ssl));
	ERR_clear_error();
	if (err && size)
		snprintf(err, size, "%s%s%s", what, *ssl ? ": " : "", ssl);
}

EVP_PKEY *
ca_keygen(const char *spec)
{
	if (strcmp(spec, "rsa:2048") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (strcmp(spec, "rsa:3072") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	if (strcmp(spec, "rsa:4096") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	if (strcmp(spec, "ec:prime256v1") == 0 || strcmp(spec, "ec:P-256") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (strcmp(spec, "ec:secp384r1") == 0 || strcmp(spec, "ec:P-384") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	return NULL;
}

static int
set_serial(X509 *x)
{
	unsigned char b[SVC_SERIAL_BYTES];
	BIGNUM *bn = NULL;
	int rc = -1;

	if (svc_random(b, sizeof(b)) != 0)
		goto out;
	b[0] = (unsigned char)((b[0] & 0x7F) | 0x40); /* positive, full length */
	bn = BN_bin2bn(b, sizeof(b), NULL);
	if (bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		rc = 0;
out:
	BN_free(bn);
	return rc;
}

static int
add_exts(X509 *x, X509 *issuer, const struct ext *exts)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	for (; exts->nid; exts++) {
		e = X509V3_EXT_conf_nid(NULL, &ctx, exts->nid, exts->value);
		if (!e)
			return -1;
		ok = X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
		if (!ok)
			return -1;
	}
	return 0;
}

/* A certificate for pub, signed by sign_key (issuer NULL: self-signed). */
static int
build(X509 *issuer, EVP_PKEY *sign_key, EVP_PKEY *pub, const X509_NAME *subject, time_t nb,
      time_t na, const struct ext *exts, X509 **out)
{
	X509 *x = X509_new();
	int rc = -1;

	if (!x || !X509_set_version(x, X509_VERSION_3) || set_serial(x) != 0 ||
	    !X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : subject) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), nb) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), na) || !X509_set_pubkey(x, pub) ||
	    add_exts(x, issuer, exts) != 0 || X509_sign(x, sign_key, EVP_sha256()) <= 0)
		goto out;
	*out = x;
	x = NULL;
	rc = 0;
out:
	X509_free(x);
	return rc;
}

static X509_NAME *
simple_name(const char *o, const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	if (n &&
	    X509_NAME_add_entry_by_NID(n, NID_organizationName, MBSTRING_UTF8,
	                               (const unsigned char *)o, -1, -1, 0) &&
	    X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn,
	                               -1, -1, 0))
		return n;
	X509_NAME_free(n);
	return NULL;
}

X509_NAME *
ca_subject_name(const struct subject *s)
{
	X509_NAME *n = X509_NAME_new();
	const struct {
		int nid;
		const char *value;
	} e[] = {
		{ NID_organizationName, s->razon_social },
		{ NID_organizationalUnitName, s->registro_patronal },
		{ NID_x500UniqueIdentifier, s->rfc },
		{ NID_commonName, s->razon_social },
		{ NID_pkcs9_emailAddress, s->email },
	};
	size_t i;

	for (i = 0; n && i < sizeof(e) / sizeof(e[0]); i++) {
		if (!X509_NAME_add_entry_by_NID(n, e[i].nid, MBSTRING_UTF8,
		                                (const unsigned char *)e[i].value, -1, -1, 0)) {
			X509_NAME_free(n);
			n = NULL;
		}
	}
	return n;
}

static int
write_key(const char *dir, const char *name, EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_mem());
	char path[PATH_MAX];
	char *data;
	long len;
	int rc = -1;

	if (!b || !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) ||
	    svc_path(path, sizeof(path), dir, name) != 0)
		goto out;
	len = BIO_get_mem_data(b, &data);
	if (len > 0 && svc_write_file(path, data, (size_t)len, 0600) == 0)
		rc = 0;
out:
	BIO_free(b);
	return rc;
}

static int
write_cert(const char *dir, const char *name, X509 *x)
{
	char path[PATH_MAX];
	char *pem = ca_cert_pem(x);
	int rc = -1;

	if (pem && svc_path(path, sizeof(path), dir, name) == 0 &&
	    svc_write_file(path, pem, strlen(pem), 0644) == 0)
		rc = 0;
	free(pem);
	return rc;
}

/*
 * A new key and its certificate (a struct ca, the CA's or the TLS
 * server's) for cn, valid from an hour ago for days, issued by issuer
 * (NULL: self-signed).  0, or -1 with what there is in out (ca_clear
 * frees it).
 */
static int
make_identity(const struct ca *issuer, const char *cn, long days, const struct ext *exts,
              time_t now, struct ca *out)
{
	X509_NAME *name = simple_name("imss-renew reference service (not IMSS)", cn);
	int rc = -1;

	out->key = ca_keygen("ec:prime256v1");
	if (name && out->key &&
	    build(issuer ? issuer->cert : NULL, issuer ? issuer->key : out->key, out->key, name,
	          now - 3600, now + days * DAY, exts, &out->cert) == 0)
		rc = 0;
	X509_NAME_free(name);
	return rc;
}

static int
write_identity(const char *dir, const char *key_file, const char *cert_file, const struct ca *id)
{
	if (write_key(dir, key_file, id->key) != 0 || write_cert(dir, cert_file, id->cert) != 0)
		return -1;
	return 0;
}

int
ca_create(const char *dir, char *err, size_t errsize)
{
	static const char ca_cn[] = "imss-renew reference CA (not IMSS)";
	struct ca ca = { 0 }, tls = { 0 };
	time_t now = time(NULL);
	int rc = -1;

	if (make_identity(NULL, ca_cn, CA_DAYS, ca_exts, now, &ca) != 0 ||
	    make_identity(&ca, "localhost", TLS_DAYS, tls_exts, now, &tls) != 0) {
		set_err(err, errsize, "cannot make the CA and TLS keys and certificates");
		goto out;
	}
	if (write_identity(dir, SVC_CA_KEY, SVC_CA_CERT, &ca) != 0 ||
	    write_identity(dir, SVC_TLS_KEY, SVC_TLS_CERT, &tls) != 0) {
		set_err(err, errsize, "cannot write the CA and TLS files");
		goto out;
	}
	rc = 0;
out:
	ca_clear(&ca);
	ca_clear(&tls);
	return rc;
}

int
ca_load(const char *dir, struct ca *ca, char *err, size_t errsize)
{
	char path[PATH_MAX];
	BIO *b = NULL;
	int rc = -1;

	memset(ca, 0, sizeof(*ca));
	if (svc_path(path, sizeof(path), dir, SVC_CA_KEY) != 0 || !(b = BIO_new_file(path, "r")) ||
	    !(ca->key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL))) {
		set_err(err, errsize, "cannot read the CA key " SVC_CA_KEY);
		goto out;
	}
	BIO_free(b);
	if (svc_path(path, sizeof(path), dir, SVC_CA_CERT) != 0 || !(b = BIO_new_file(path, "r")) ||
	    !(ca->cert = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
		set_err(err, errsize, "cannot read the CA certificate " SVC_CA_CERT);
		goto out;
	}
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		set_err(err, errsize, "the CA key does not match the CA certificate");
		goto out;
	}
	rc = 0;
out:
	BIO_free(b);
	if (rc != 0)
		ca_clear(ca);
	return rc;
}

void
ca_clear(struct ca *ca)
{
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	ca->key = NULL;
	ca->cert = NULL;
}

int
ca_issue(const struct ca *ca, EVP_PKEY *pub, const struct subject *s, time_t not_before,
         time_t not_after, X509 **out)
{
	X509_NAME *name = ca_subject_name(s);
	int rc = -1;

	if (name)
		rc = build(ca->cert, ca->key, pub, name, not_before, not_after, employer_exts, out);
	X509_NAME_free(name);
	return rc;
}

int
ca_serial_text(const X509 *x, char *buf, size_t size)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	int rc = -1;

	if (hex && strlen(hex) < size && hex[0] != '-') {
		memcpy(buf, hex, strlen(hex) + 1);
		rc = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

int
ca_cert_der(X509 *x, unsigned char **der, size_t *len)
{
	int n;

	*der = NULL;
	n = i2d_X509(x, der);
	if (n <= 0)
		return -1;
	*len = (size_t)n;
	return 0;
}

static char *
bio_text(BIO *b)
{
	char *data, *s = NULL;
	long len = BIO_get_mem_data(b, &data);

	if (len >= 0 && len < PEM_MAX && (s = malloc((size_t)len + 1))) {
		memcpy(s, data, (size_t)len);
		s[len] = '\0';
	}
	return s;
}

char *
ca_cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b && PEM_write_bio_X509(b, x))
		s = bio_text(b);
	BIO_free(b);
	return s;
}

char *
ca_subject_text(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b && X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0)
		s = bio_text(b);
	BIO_free(b);
	return s;
}

int
ca_spki_sha256(EVP_PKEY *pub, unsigned char out[32])
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(pub, &der);
	int rc = -1;

	if (n > 0)
		rc = svc_sha256(der, (size_t)n, out);
	OPENSSL_free(der);
	return rc;
}

static int
asn1_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return -1;
	*out = timegm(&tm);
	return 0;
}

int
ca_cert_times(const X509 *x, time_t *not_before, time_t *not_after)
{
	if (asn1_time(X509_get0_notBefore(x), not_before) != 0 ||
	    asn1_time(X509_get0_notAfter(x), not_after) != 0)
		return -1;
	return 0;
}

int
ca_signed_by(const struct ca *ca, X509 *x)
{
	EVP_PKEY *pub = X509_get0_pubkey(ca->cert);
	int ok;

	ok = pub && X509_check_issued(ca->cert, x) == X509_V_OK && X509_verify(x, pub) == 1;
	ERR_clear_error();
	return ok;
}
