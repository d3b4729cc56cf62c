/*
 * CMS SignedData with any credential: SHA-256, signing time, the signer's
 * certificate included.  Every signature is verified before it is given
 * out, so a broken token or key never produces a letter that IMSS (or the
 * reference service) would reject later.
 */
#include <limits.h>

#include <openssl/cms.h>
#include <openssl/err.h>

#include "credential.h"

/* Verify the signature as it will be given out: parsed back from its DER
 * (the in-memory one still holds the signing key, which for a token key
 * signs only), over the same data; the signer's chain is the relying
 * party's business. */
static int
cms_self_check(const unsigned char *der, size_t derlen, const unsigned char *data, size_t len,
               unsigned flags)
{
	const unsigned char *p = der;
	CMS_ContentInfo *copy = d2i_CMS_ContentInfo(NULL, &p, (long)derlen);
	BIO *content = NULL;
	int ok = 0;

	if (copy == NULL || p != der + derlen)
		goto out;
	if (!(flags & IMSS_CMS_ATTACHED) && (content = BIO_new_mem_buf(data, (int)len)) == NULL)
		goto out;
	ok = CMS_verify(copy, NULL, NULL, content, NULL, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) == 1;
out:
	BIO_free(content);
	CMS_ContentInfo_free(copy);
	return ok;
}

/* The signed attribute binding a renewal request (NULL: none). */
static int
add_request_digest(CMS_SignerInfo *si, const unsigned char *request_sha256)
{
	ASN1_OBJECT *oid;
	int ok;

	if (request_sha256 == NULL)
		return 1;
	oid = OBJ_txt2obj(IMSS_OID_RENEWAL_REQUEST_SHA256, 1);
	ok = oid != NULL &&
	     CMS_signed_add1_attr_by_OBJ(si, oid, V_ASN1_OCTET_STRING, request_sha256, 32) == 1;
	ASN1_OBJECT_free(oid);
	return ok;
}

static imss_err
cms_sign(imss_ctx *ctx, const imss_credential *cred, const unsigned char *data, size_t len,
         unsigned flags, const unsigned char *request_sha256, unsigned char **der, size_t *derlen)
{
	X509 *cert = imss_credential_get_certificate(cred);
	unsigned cms_flags = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	OSSL_LIB_CTX *lib;
	BIO *in = NULL;
	imss_err err;
	int n;

	*der = NULL;
	*derlen = 0;
	ctx_clear_detail(ctx);
	if (cert == NULL)
		return ctx_fail(ctx, IMSS_ERR_NO_OBJECT,
		                _("The key '%s' has no certificate to sign with. Import its certificate first (imss-renew import)."),
		                imss_credential_get_location(cred));
	if (len > INT_MAX)
		return ctx_fail(ctx, IMSS_ERR_INVALID_ARG, _("The file is too large to sign."));
	err = ctx_libctx(ctx, &lib);
	if (err != IMSS_OK)
		return err;
	if (!(flags & IMSS_CMS_ATTACHED))
		cms_flags |= CMS_DETACHED;
	in = BIO_new_mem_buf(data, (int)len);
	cms = in ? CMS_sign_ex(NULL, NULL, NULL, NULL, cms_flags, lib, NULL) : NULL;
	si = cms ? CMS_add1_signer(cms, cert, imss_credential_get_key(cred), EVP_sha256(), cms_flags)
	         : NULL;
	if (si == NULL || !add_request_digest(si, request_sha256) ||
	    CMS_final(cms, in, NULL, cms_flags) != 1) {
		if (imss_ctx_detail(ctx)[0] == '\0')
			ctx_fail_openssl(ctx, _("the CMS signature could not be made"));
		err = IMSS_ERR_CRYPTO;
		goto out;
	}
	n = i2d_CMS_ContentInfo(cms, der);
	if (n <= 0) {
		err = ctx_fail_openssl(ctx, "i2d_CMS_ContentInfo");
		goto out;
	}
	if (!cms_self_check(*der, (size_t)n, data, len, flags)) {
		OPENSSL_free(*der);
		*der = NULL;
		err = ctx_fail(ctx, IMSS_ERR_VERIFY,
		               _("The new signature does not verify; nothing was written."));
		goto out;
	}
	*derlen = (size_t)n;
out:
	ERR_clear_error();
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return err;
}

imss_err
imss_cms_sign(imss_ctx *ctx, const imss_credential *cred, const unsigned char *data, size_t len,
              unsigned flags, unsigned char **der, size_t *derlen)
{
	return cms_sign(ctx, cred, data, len, flags, NULL, der, derlen);
}

imss_err
cms_sign_binding(imss_ctx *ctx, const imss_credential *cred, const unsigned char *data, size_t len,
                 const unsigned char request_sha256[32], unsigned char **der, size_t *derlen)
{
	return cms_sign(ctx, cred, data, len, 0, request_sha256, der, derlen);
}
