/*
 * imss-renew-service: checking a renewal's PKCS#10 request (see csr.h).
 */
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "csr.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 16384

/* 1 when the entry's value, as UTF-8, is want. */
static int
entry_is(X509_NAME_ENTRY *e, const char *want, int nocase)
{
	unsigned char *utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
	int ok = n >= 0 && (size_t)n == strlen(want) && !memchr(utf8, '\0', (size_t)n) &&
	         (nocase ? strncasecmp((char *)utf8, want, (size_t)n)
	                 : memcmp(utf8, want, (size_t)n)) == 0;

	OPENSSL_free(utf8);
	return ok;
}

/* Each of the five attributes once, with the employer's values; no others. */
static int
subject_ok(const X509_NAME *name, const struct subject *s)
{
	const int nids[5] = { NID_organizationName, NID_organizationalUnitName,
		              NID_x500UniqueIdentifier, NID_commonName, NID_pkcs9_emailAddress };
	const char *values[5] = { s->razon_social, s->registro_patronal, s->rfc, s->razon_social,
		                  s->email };
	int seen[5] = { 0 };
	int i, j, nid;
	X509_NAME_ENTRY *e;

	if (X509_NAME_entry_count(name) != 5)
		return 0;
	for (i = 0; i < 5; i++) {
		e = X509_NAME_get_entry(name, i);
		nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		for (j = 0; j < 5 && nids[j] != nid; j++)
			;
		if (j == 5 || seen[j] || !entry_is(e, values[j], nid == NID_pkcs9_emailAddress))
			return 0;
		seen[j] = 1;
	}
	return 1;
}

static enum api_code
key_ok(EVP_PKEY *pub)
{
	char group[64];
	int nid;

	if (EVP_PKEY_is_a(pub, "RSA")) {
		if (EVP_PKEY_get_bits(pub) < RSA_MIN_BITS)
			return API_KEY_TOO_WEAK;
		return EVP_PKEY_get_bits(pub) <= RSA_MAX_BITS ? API_OK : API_KEY_UNSUPPORTED;
	}
	if (!EVP_PKEY_is_a(pub, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
	                                    NULL))
		return API_KEY_UNSUPPORTED;
	nid = OBJ_txt2nid(group);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(group);
	return nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 ? API_OK : API_KEY_UNSUPPORTED;
}

enum api_code
csr_check(const unsigned char *der, size_t len, const struct subject *s, EVP_PKEY **pub,
          unsigned char spki[32])
{
	const unsigned char *p = der;
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	enum api_code code = API_CSR_MALFORMED;

	if (len == 0 || len > INT_MAX)
		goto out;
	req = d2i_X509_REQ(NULL, &p, (long)len);
	if (!req || p != der + len || !(key = X509_REQ_get_pubkey(req)))
		goto out;
	code = API_SIGNATURE_INVALID;
	if (X509_REQ_verify(req, key) != 1)
		goto out;
	code = API_CSR_SUBJECT_MISMATCH;
	if (!subject_ok(X509_REQ_get_subject_name(req), s))
		goto out;
	code = key_ok(key);
	if (code != API_OK)
		goto out;
	code = API_INTERNAL;
	if (ca_spki_sha256(key, spki) != 0)
		goto out;
	*pub = key;
	key = NULL;
	code = API_OK;
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_REQ_free(req);
	return code;
}
