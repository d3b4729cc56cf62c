/*
 * imss-renew-service: checking CMS SignedData (see cmsv.h).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include <imss-renew/imss-renew.h>

#include "cmsv.h"

static enum api_code
form(CMS_ContentInfo *cms, int want_detached, CMS_SignerInfo **si)
{
	STACK_OF(CMS_SignerInfo) * sis;
	X509_ALGOR *dig = NULL;
	int nid;

	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
		return API_CMS_NOT_SIGNED;
	sis = CMS_get0_SignerInfos(cms);
	if (!sis || sk_CMS_SignerInfo_num(sis) == 0)
		return API_CMS_NOT_SIGNED;
	if (sk_CMS_SignerInfo_num(sis) != 1 || (CMS_is_detached(cms) ? 1 : 0) != want_detached)
		return API_CMS_MALFORMED;
	*si = sk_CMS_SignerInfo_value(sis, 0);
	CMS_SignerInfo_get0_algs(*si, NULL, NULL, &dig, NULL);
	nid = dig ? OBJ_obj2nid(dig->algorithm) : NID_undef;
	if (nid != NID_sha256 && nid != NID_sha384 && nid != NID_sha512)
		return API_CMS_DIGEST_WEAK;
	return API_OK;
}

/* The signer's certificate among those the CMS carries. */
static X509 *
included_signer(CMS_ContentInfo *cms, CMS_SignerInfo *si)
{
	STACK_OF(X509) *certs = CMS_get1_certs(cms);
	X509 *found = NULL;
	int i;

	for (i = 0; certs && i < sk_X509_num(certs) && !found; i++)
		if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0 &&
		    X509_up_ref(sk_X509_value(certs, i)))
			found = sk_X509_value(certs, i);
	sk_X509_pop_free(certs, X509_free);
	return found;
}

static int
verify(CMS_ContentInfo *cms, X509 *signer, const unsigned char *detached, size_t dlen,
       struct cms_signed *out)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *dcont = NULL, *mem = NULL, *bout = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int rc = -1;

	if (!sk || !bout || !sk_X509_push(sk, signer))
		goto out;
	/* Not a memory BIO itself: OpenSSL 3.0 copies one into a BIO that
	 * CMS_verify leaks when the SignedData is unusable (openssl#30471, a
	 * leak per request); behind a buffering filter it reads it as is. */
	if (detached) {
		if (!(dcont = BIO_new(BIO_f_buffer())) ||
		    !(mem = BIO_new_mem_buf(detached, (int)dlen)))
			goto out;
		BIO_push(dcont, mem);
		mem = NULL;
	}
	if (CMS_verify(cms, sk, NULL, dcont, bout,
	               CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN | CMS_BINARY) != 1)
		goto out;
	n = BIO_get_mem_data(bout, &data);
	if (!detached) {
		out->content = malloc(n > 0 ? (size_t)n : 1);
		if (!out->content)
			goto out;
		if (n > 0)
			memcpy(out->content, data, (size_t)n);
		out->content_len = n > 0 ? (size_t)n : 0;
	}
	rc = 0;
out:
	sk_X509_free(sk);
	BIO_free(mem);
	BIO_free_all(dcont);
	BIO_free(bout);
	return rc;
}

enum api_code
cms_check(const unsigned char *der, size_t len, X509 *expected, const unsigned char *detached,
          size_t dlen, struct cms_signed *out)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si = NULL;
	enum api_code code = API_CMS_MALFORMED;

	memset(out, 0, sizeof(*out));
	if (len > INT_MAX || dlen > INT_MAX)
		goto out;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (!cms || p != der + len)
		goto out;
	code = form(cms, detached != NULL, &si);
	if (code != API_OK)
		goto out;
	if (expected) {
		code = API_SIGNER_MISMATCH;
		if (CMS_SignerInfo_cert_cmp(si, expected) != 0 || !X509_up_ref(expected))
			goto out;
		out->signer = expected;
	} else {
		code = API_SIGNER_CERT_MISSING;
		out->signer = included_signer(cms, si);
		if (!out->signer)
			goto out;
	}
	code = API_SIGNATURE_INVALID;
	if (verify(cms, out->signer, detached, dlen, out) != 0)
		goto out;
	if (!detached && !out->content)
		goto out;
	code = API_OK;
out:
	ERR_clear_error();
	CMS_ContentInfo_free(cms);
	if (code != API_OK)
		cms_signed_clear(out);
	return code;
}

void
cms_signed_clear(struct cms_signed *s)
{
	X509_free(s->signer);
	free(s->content);
	memset(s, 0, sizeof(*s));
}

/* The one value of the binding attribute: an OCTET STRING of 32 bytes. */
static int
attr_digest(X509_ATTRIBUTE *attr, unsigned char out[32])
{
	ASN1_TYPE *v = X509_ATTRIBUTE_count(attr) == 1 ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;

	if (v == NULL || v->type != V_ASN1_OCTET_STRING ||
	    ASN1_STRING_length(v->value.octet_string) != 32)
		return -1;
	memcpy(out, ASN1_STRING_get0_data(v->value.octet_string), 32);
	return 1;
}

int
cms_bound_request(const unsigned char *der, size_t len, unsigned char out[32])
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = len <= INT_MAX ? d2i_CMS_ContentInfo(NULL, &p, (long)len) : NULL;
	STACK_OF(CMS_SignerInfo) *sis = cms ? CMS_get0_SignerInfos(cms) : NULL;
	CMS_SignerInfo *si = sk_CMS_SignerInfo_num(sis) == 1 ? sk_CMS_SignerInfo_value(sis, 0) : NULL;
	ASN1_OBJECT *oid = OBJ_txt2obj(IMSS_OID_RENEWAL_REQUEST_SHA256, 1);
	int at, rc = -1;

	if (si == NULL || oid == NULL)
		goto out;
	at = CMS_signed_get_attr_by_OBJ(si, oid, -1);
	if (at < 0)
		rc = 0;
	else if (CMS_signed_get_attr_by_OBJ(si, oid, at) < 0) /* once */
		rc = attr_digest(CMS_signed_get_attr(si, at), out);
out:
	ASN1_OBJECT_free(oid);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return rc;
}
