/*
 * cms-bind CERT.pem KEY.pem DATA OUT.der HEX: a detached CMS SignedData
 * over DATA (SHA-256, as `openssl cms -sign -binary` makes it) whose
 * signed attributes also hold the renewal-request binding of
 * docs/protocol.md: IMSS_OID_RENEWAL_REQUEST_SHA256 with HEX as its
 * OCTET STRING (32 bytes for a valid one; any length, to test refusals).
 * The openssl command cannot add such an attribute; the service's tests
 * need one made outside the project's library.
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <imss-renew/imss-renew.h>

int
main(int argc, char **argv)
{
	unsigned flags = CMS_BINARY | CMS_DETACHED | CMS_PARTIAL;
	BIO *cb = NULL, *kb = NULL, *in = NULL, *out = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si = NULL;
	ASN1_OBJECT *oid = NULL;
	unsigned char *value = NULL;
	long n = 0;
	int rc = 1;

	if (argc != 6) {
		fprintf(stderr, "usage: cms-bind CERT.pem KEY.pem DATA OUT.der HEX\n");
		return 2;
	}
	if ((cb = BIO_new_file(argv[1], "r")) == NULL || (kb = BIO_new_file(argv[2], "r")) == NULL ||
	    (in = BIO_new_file(argv[3], "rb")) == NULL ||
	    (cert = PEM_read_bio_X509(cb, NULL, NULL, NULL)) == NULL ||
	    (key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL)) == NULL ||
	    (value = OPENSSL_hexstr2buf(argv[5], &n)) == NULL ||
	    (oid = OBJ_txt2obj(IMSS_OID_RENEWAL_REQUEST_SHA256, 1)) == NULL)
		goto out;
	if ((cms = CMS_sign(NULL, NULL, NULL, NULL, flags)) == NULL ||
	    (si = CMS_add1_signer(cms, cert, key, EVP_sha256(), flags)) == NULL ||
	    CMS_signed_add1_attr_by_OBJ(si, oid, V_ASN1_OCTET_STRING, value, (int)n) != 1 ||
	    CMS_final(cms, in, NULL, flags) != 1 || (out = BIO_new_file(argv[4], "wb")) == NULL ||
	    i2d_CMS_bio(out, cms) != 1)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		ERR_print_errors_fp(stderr);
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	ASN1_OBJECT_free(oid);
	OPENSSL_free(value);
	EVP_PKEY_free(key);
	X509_free(cert);
	BIO_free(in);
	BIO_free(kb);
	BIO_free(cb);
	return rc;
}
