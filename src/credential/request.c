/*
 * PKCS#10 requests signed by a token key.  The request carries the key's
 * public half; the token signs it; the signature is checked against the
 * token's public key before anyone sees the request.
 */
#include <openssl/err.h>
#include <openssl/x509.h>

#include "credential.h"

/* The challengePassword attribute (PKCS#9; SCEP's PKCSReq, and renewals
 * at CAs that ask for it too), as a UTF8String. */
static int
add_challenge(X509_REQ *req, const char *challenge)
{
	return challenge == NULL ||
	       X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword, MBSTRING_UTF8,
	                                 (const unsigned char *)challenge, -1) == 1;
}

imss_err
imss_request_make(imss_key *key, const X509_NAME *subject, X509_REQ **out)
{
	return request_make_with_challenge(key, subject, NULL, out);
}

imss_err
request_make_with_challenge(imss_key *key, const X509_NAME *subject, const char *challenge,
                            X509_REQ **out)
{
	imss_ctx *ctx = imss_key_get_token(key)->ctx;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	X509_REQ *req = NULL;
	OSSL_LIB_CTX *lib;
	imss_err err;

	*out = NULL;
	ctx_clear_detail(ctx);
	err = ctx_libctx(ctx, &lib);
	if (err == IMSS_OK)
		err = imss_key_get_evp(key, &pkey);
	if (err != IMSS_OK)
		goto out;
	req = X509_REQ_new_ex(lib, NULL);
	md = EVP_MD_CTX_new();
	if (req == NULL || md == NULL || !X509_REQ_set_version(req, 0) ||
	    !X509_REQ_set_subject_name(req, subject) ||
	    !X509_REQ_set_pubkey(req, imss_key_get_public(key)) || !add_challenge(req, challenge)) {
		err = ctx_fail_openssl(ctx, _("cannot build the request"));
		goto out;
	}
	if (EVP_DigestSignInit_ex(md, NULL, "SHA256", lib, NULL, pkey, NULL) != 1 ||
	    X509_REQ_sign_ctx(req, md) <= 0) {
		if (imss_ctx_detail(ctx)[0] == '\0')
			ctx_fail_openssl(ctx, _("the token could not sign the request"));
		err = IMSS_ERR_CRYPTO;
		goto out;
	}
	if (X509_REQ_verify_ex(req, imss_key_get_public(key), NULL, NULL) != 1) {
		err = ctx_fail(ctx, IMSS_ERR_VERIFY,
		               _("The request's signature does not verify against the token's public key; nothing was written."));
		goto out;
	}
	*out = req;
	req = NULL;
out:
	ERR_clear_error();
	X509_REQ_free(req);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	return err;
}
