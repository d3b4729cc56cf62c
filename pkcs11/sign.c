/*
 * Signing with a token key.  The token's hash-and-sign mechanism first;
 * without one, the host hashes and the token signs the digest with the raw
 * mechanism (CKM_RSA_PKCS over a DigestInfo, CKM_RSA_PKCS_PSS, CKM_ECDSA).
 * ECDSA's r||s comes back as DER.  Keys with CKA_ALWAYS_AUTHENTICATE get a
 * context-specific login between C_SignInit and C_Sign.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "token-internal.h"

struct hash_info {
	imss_hash hash;
	const char *ossl_name;
	size_t len;
	CK_MECHANISM_TYPE ck_hash;
	CK_RSA_PKCS_MGF_TYPE mgf;
	CK_MECHANISM_TYPE rsa_pkcs, rsa_pss, ecdsa;
	const char *rsa_pkcs_name, *rsa_pss_name, *ecdsa_name;
	unsigned char digest_info[19]; /* DER prefix of DigestInfo, RFC 8017 9.2 */
};

/* The row of SHA-<bits>: the names follow from the size, and so does the
 * DigestInfo prefix but for the last arc of the algorithm's OID
 * (2.16.840.1.101.3.4.2.arc): SEQUENCE of 17 + size bytes, the
 * AlgorithmIdentifier, then the OCTET STRING header. */
#define HASH_BYTES(bits) ((bits) / 8)
#define HASH_ROW(bits, arc)                                                                         \
	{                                                                                           \
		IMSS_HASH_SHA##bits, "SHA" #bits, HASH_BYTES(bits), CKM_SHA##bits,                  \
		        CKG_MGF1_SHA##bits, CKM_SHA##bits##_RSA_PKCS, CKM_SHA##bits##_RSA_PKCS_PSS, \
		        CKM_ECDSA_SHA##bits, "CKM_SHA" #bits "_RSA_PKCS",                           \
		        "CKM_SHA" #bits "_RSA_PKCS_PSS", "CKM_ECDSA_SHA" #bits,                     \
		{                                                                                   \
			0x30, 0x11 + HASH_BYTES(bits), 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48,    \
			        0x01, 0x65, 0x03, 0x04, 0x02, arc, 0x05, 0x00, 0x04,                \
			        HASH_BYTES(bits)                                                    \
		}                                                                                   \
	}

static const struct hash_info hashes[] = {
	HASH_ROW(256, 0x01),
	HASH_ROW(384, 0x02),
	HASH_ROW(512, 0x03),
};
#undef HASH_ROW
#undef HASH_BYTES

static const struct hash_info *
hash_lookup(imss_hash hash)
{
	size_t i;

	for (i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
		if (hashes[i].hash == hash)
			return &hashes[i];
	return NULL;
}

static imss_err
check_key_padding(imss_key *key, imss_padding pad)
{
	int ok = key->kind == IMSS_KEY_EC ? pad == IMSS_PAD_NONE
	                                  : pad == IMSS_PAD_PKCS1 || pad == IMSS_PAD_PSS;

	if (ok)
		return IMSS_OK;
	return ctx_fail(key->tok->ctx, IMSS_ERR_INVALID_ARG, _("This padding does not fit a %s key."),
	                key->kind == IMSS_KEY_EC ? "EC" : "RSA");
}

/* Largest signature the key makes: RSA modulus bytes, or r||s. */
static size_t
max_signature_len(const imss_key *key)
{
	size_t bytes = (key->bits + 7) / 8;

	return key->kind == IMSS_KEY_EC ? 2 * bytes : bytes;
}

/* C_SignInit, the context login where the key wants it, and C_Sign. */
static imss_err
token_sign_raw(imss_key *key, CK_MECHANISM *mech, const unsigned char *in, size_t inlen,
               unsigned char **out, size_t *outlen)
{
	imss_token *tok = key->tok;
	CK_ULONG len = max_signature_len(key);
	unsigned char *sig = NULL;
	imss_err err;
	CK_RV rv;

	rv = tok->f->C_SignInit(tok->session, mech, key->priv);
	if (rv != CKR_OK)
		return token_fail(tok, "C_SignInit", rv);
	if (key->always_authenticate) {
		err = token_context_login(tok, key->label);
		if (err != IMSS_OK) {
			/* A failing C_Sign ends the operation C_SignInit began;
			 * without it the session stays busy. */
			unsigned char scratch[1024];
			CK_ULONG n = sizeof(scratch);

			if (tok->session != CK_INVALID_HANDLE)
				tok->f->C_Sign(tok->session, (CK_BYTE *)in, inlen, scratch, &n);
			return err;
		}
	}
	for (;;) {
		OPENSSL_free(sig);
		sig = OPENSSL_malloc(len ? len : 1);
		if (sig == NULL)
			return IMSS_ERR_NOMEM;
		rv = tok->f->C_Sign(tok->session, (CK_BYTE *)in, inlen, sig, &len);
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;
	}
	if (rv != CKR_OK) {
		OPENSSL_free(sig);
		return token_fail(tok, "C_Sign", rv);
	}
	*out = sig;
	*outlen = len;
	return IMSS_OK;
}

/* r||s (each half the length) to an ECDSA-Sig-Value; BN_bin2bn drops the
 * leading zeros DER must not have, i2d adds the 0x00 a high bit needs. */
static imss_err
ecdsa_raw_to_der(imss_ctx *ctx, const unsigned char *raw, size_t len, unsigned char **der,
                 size_t *derlen)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, (int)(len / 2), NULL);
	BIGNUM *s = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL);
	unsigned char *p = NULL;
	int n;

	if (len == 0 || len % 2 != 0 || sig == NULL || r == NULL || s == NULL ||
	    ECDSA_SIG_set0(sig, r, s) != 1) {
		ECDSA_SIG_free(sig);
		BN_free(r);
		BN_free(s);
		return ctx_fail(ctx, IMSS_ERR_CRYPTO,
		                _("The token returned a malformed ECDSA signature (%zu bytes)."),
		                len);
	}
	n = i2d_ECDSA_SIG(sig, &p);
	ECDSA_SIG_free(sig);
	if (n <= 0)
		return ctx_fail_openssl(ctx, "i2d_ECDSA_SIG");
	*der = p;
	*derlen = (size_t)n;
	return IMSS_OK;
}

/* Sign with mech; for ECDSA convert to DER. */
static imss_err
sign_with(imss_key *key, CK_MECHANISM *mech, const char *name, const unsigned char *in,
          size_t inlen, unsigned char **sig, size_t *siglen)
{
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	imss_err err;

	err = token_sign_raw(key, mech, in, inlen, &raw, &rawlen);
	if (err != IMSS_OK)
		return err;
	key->last_mechanism = name;
	if (key->kind != IMSS_KEY_EC) {
		*sig = raw;
		*siglen = rawlen;
		return IMSS_OK;
	}
	err = ecdsa_raw_to_der(key->tok->ctx, raw, rawlen, sig, siglen);
	OPENSSL_free(raw);
	return err;
}

static void
pss_params_set(CK_RSA_PKCS_PSS_PARAMS *pss, const struct hash_info *h)
{
	pss->hashAlg = h->ck_hash;
	pss->mgf = h->mgf;
	pss->sLen = h->len;
}

static imss_err
sign_digest(imss_key *key, imss_hash hash, imss_padding pad, const unsigned char *digest,
            size_t len, unsigned char **sig, size_t *siglen)
{
	const struct hash_info *h = hash_lookup(hash);
	unsigned char block[19 + 64];
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_MECHANISM mech = { CKM_RSA_PKCS, NULL, 0 };
	size_t order_bytes = (key->bits + 7) / 8;
	imss_err err;

	ctx_clear_detail(key->tok->ctx);
	if (h == NULL || len != h->len)
		return ctx_fail(key->tok->ctx, IMSS_ERR_INVALID_ARG,
		                _("The digest length does not match the hash."));
	err = check_key_padding(key, pad);
	if (err != IMSS_OK)
		return err;
	switch (pad) {
	case IMSS_PAD_PKCS1:
		memcpy(block, h->digest_info, sizeof(h->digest_info));
		memcpy(block + sizeof(h->digest_info), digest, len);
		return sign_with(key, &mech, "CKM_RSA_PKCS", block, sizeof(h->digest_info) + len,
		                 sig, siglen);
	case IMSS_PAD_PSS:
		pss_params_set(&pss, h);
		mech.mechanism = CKM_RSA_PKCS_PSS;
		mech.pParameter = &pss;
		mech.ulParameterLen = sizeof(pss);
		return sign_with(key, &mech, "CKM_RSA_PKCS_PSS", digest, len, sig, siglen);
	case IMSS_PAD_NONE:
		/* ECDSA uses the leftmost order-size bytes of a longer digest. */
		mech.mechanism = CKM_ECDSA;
		return sign_with(key, &mech, "CKM_ECDSA", digest,
		                 len < order_bytes ? len : order_bytes, sig, siglen);
	}
	return IMSS_ERR_INVALID_ARG;
}

/* The token's own hash-and-sign; IMSS_ERR_UNSUPPORTED when it has none. */
static imss_err
sign_hash_and_sign(imss_key *key, const struct hash_info *h, imss_padding pad,
                   const unsigned char *data, size_t len, unsigned char **sig, size_t *siglen)
{
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_MECHANISM mech = { 0, NULL, 0 };
	const char *name;
	imss_err err;

	switch (pad) {
	case IMSS_PAD_PKCS1:
		mech.mechanism = h->rsa_pkcs;
		name = h->rsa_pkcs_name;
		break;
	case IMSS_PAD_PSS:
		pss_params_set(&pss, h);
		mech.mechanism = h->rsa_pss;
		mech.pParameter = &pss;
		mech.ulParameterLen = sizeof(pss);
		name = h->rsa_pss_name;
		break;
	default:
		mech.mechanism = h->ecdsa;
		name = h->ecdsa_name;
		break;
	}
	if (!token_may_have_mechanism(key->tok, mech.mechanism))
		return IMSS_ERR_UNSUPPORTED;
	/* Tried directly rather than looked up: the mechanism list costs two
	 * calls on every run, a refusal one call on raw-only tokens only. */
	err = sign_with(key, &mech, name, data, len, sig, siglen);
	if (err == IMSS_ERR_UNSUPPORTED)
		token_mechanism_refused(key->tok, mech.mechanism);
	return err;
}

/* The digest made here, signed by the token (CKM_RSA_PKCS, _PSS, CKM_ECDSA). */
static imss_err
sign_host_hash(imss_key *key, imss_hash hash, imss_padding pad, const unsigned char *data,
               size_t len, unsigned char **sig, size_t *siglen)
{
	const struct hash_info *h = hash_lookup(hash);
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (EVP_Digest(data, len, digest, &dlen, EVP_get_digestbyname(h->ossl_name), NULL) != 1)
		return ctx_fail_openssl(key->tok->ctx, "EVP_Digest");
	return sign_digest(key, hash, pad, digest, dlen, sig, siglen);
}

static imss_err
sign_data(imss_key *key, imss_hash hash, imss_padding pad, const unsigned char *data, size_t len,
          unsigned char **sig, size_t *siglen)
{
	const struct hash_info *h = hash_lookup(hash);
	imss_err err;

	ctx_clear_detail(key->tok->ctx);
	if (h == NULL)
		return ctx_fail(key->tok->ctx, IMSS_ERR_INVALID_ARG, _("Unknown hash."));
	err = check_key_padding(key, pad);
	if (err != IMSS_OK)
		return err;
	/*
	 * ECDSA signs a digest whoever makes it: hashed here, signed with
	 * CKM_ECDSA, which EC tokens have, in one C_SignInit.  Trying the
	 * token's CKM_ECDSA_SHA* first cost a refused call per signature on
	 * tokens without them (SoftHSM).  They remain the fallback.
	 */
	if (key->kind == IMSS_KEY_EC && token_may_have_mechanism(key->tok, CKM_ECDSA)) {
		ctx_log(key->tok->ctx, IMSS_LOG_DEBUG,
		        _("EC key: hashing on the host (%s), the token signs with CKM_ECDSA"),
		        h->ossl_name);
		err = sign_host_hash(key, hash, pad, data, len, sig, siglen);
		if (err != IMSS_ERR_UNSUPPORTED)
			return err;
		token_mechanism_refused(key->tok, CKM_ECDSA);
		return sign_hash_and_sign(key, h, pad, data, len, sig, siglen);
	}
	err = sign_hash_and_sign(key, h, pad, data, len, sig, siglen);
	if (err != IMSS_ERR_UNSUPPORTED)
		return err;
	ctx_log(key->tok->ctx, IMSS_LOG_DEBUG,
	        _("token has no hash-and-sign mechanism for %s: hashing on the host"), h->ossl_name);
	return sign_host_hash(key, hash, pad, data, len, sig, siglen);
}

typedef imss_err (*sign_fn)(imss_key *key, imss_hash hash, imss_padding pad, const unsigned char *in,
                            size_t len, unsigned char **sig, size_t *siglen);

/*
 * The key's operations hold its token (imss_token_acquire) from the first
 * call to the last: another thread's renewal may use the token between
 * them (a pipelined fleet's network steps sign while no step holds it).
 */
static imss_err
sign_holding_token(sign_fn sign, imss_key *key, imss_hash hash, imss_padding pad,
                   const unsigned char *in, size_t len, unsigned char **sig, size_t *siglen)
{
	imss_err err;

	imss_token_acquire(key->tok);
	err = sign(key, hash, pad, in, len, sig, siglen);
	imss_token_release(key->tok);
	return err;
}

imss_err
imss_key_sign_digest(imss_key *key, imss_hash hash, imss_padding pad, const unsigned char *digest,
                     size_t len, unsigned char **sig, size_t *siglen)
{
	return sign_holding_token(sign_digest, key, hash, pad, digest, len, sig, siglen);
}

imss_err
imss_key_sign(imss_key *key, imss_hash hash, imss_padding pad, const unsigned char *data,
              size_t len, unsigned char **sig, size_t *siglen)
{
	return sign_holding_token(sign_data, key, hash, pad, data, len, sig, siglen);
}

/*
 * RSA PKCS#1 v1.5 decryption (CKM_RSA_PKCS) of a key encrypted to the
 * key's certificate (a SCEP CA's answer).  The token decides whether the
 * key may decrypt (CKA_DECRYPT); a refusal says so.
 */
static imss_err
key_decrypt(imss_key *key, const unsigned char *in, size_t inlen, unsigned char **out, size_t *outlen)
{
	CK_MECHANISM mech = { CKM_RSA_PKCS, NULL, 0 };
	imss_token *tok = key->tok;
	CK_ULONG len = (key->bits + 7) / 8;
	unsigned char *plain = NULL;
	imss_err err = IMSS_OK;
	CK_RV rv;

	*out = NULL;
	*outlen = 0;
	if (key->kind != IMSS_KEY_RSA)
		return ctx_fail(tok->ctx, IMSS_ERR_UNSUPPORTED,
		                _("The key '%s' is not an RSA key: it cannot decrypt."), key->label);
	rv = tok->f->C_DecryptInit(tok->session, &mech, key->priv);
	if (rv == CKR_KEY_FUNCTION_NOT_PERMITTED || rv == CKR_KEY_TYPE_INCONSISTENT)
		return ctx_fail(tok->ctx, IMSS_ERR_UNSUPPORTED,
		                _("The token does not let the key '%s' decrypt (CKA_DECRYPT is false), and the answer is encrypted to it."),
		                key->label);
	if (rv != CKR_OK)
		return token_fail(tok, "C_DecryptInit", rv);
	if ((plain = OPENSSL_malloc(len ? len : 1)) == NULL)
		return IMSS_ERR_NOMEM;
	if (key->always_authenticate && (err = token_context_login(tok, key->label)) != IMSS_OK) {
		/* A failing C_Decrypt ends the operation C_DecryptInit began. */
		if (tok->session != CK_INVALID_HANDLE)
			tok->f->C_Decrypt(tok->session, (CK_BYTE *)in, inlen, plain, &len);
		OPENSSL_clear_free(plain, (key->bits + 7) / 8);
		return err;
	}
	rv = tok->f->C_Decrypt(tok->session, (CK_BYTE *)in, inlen, plain, &len);
	if (rv != CKR_OK) {
		OPENSSL_clear_free(plain, (key->bits + 7) / 8);
		return token_fail(tok, "C_Decrypt", rv);
	}
	*out = plain;
	*outlen = len;
	return IMSS_OK;
}

imss_err
token_key_decrypt(imss_key *key, const unsigned char *in, size_t inlen, unsigned char **out,
                  size_t *outlen)
{
	imss_err err;

	imss_token_acquire(key->tok);
	err = key_decrypt(key, in, inlen, out, outlen);
	imss_token_release(key->tok);
	return err;
}

/*
 * Is the EC private key priv the other half of pub?  Its public half is
 * not on the token (no point on an EC private key, no public key object:
 * a renewal's key before its certificate is stored): it signs a random
 * digest, which pub must verify.
 */
imss_err
token_key_proves(imss_token *tok, CK_OBJECT_HANDLE priv, EVP_PKEY *pub, int *proved)
{
	imss_key key = { .tok = tok, .priv = priv, .kind = IMSS_KEY_EC };
	CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
	unsigned char digest[32], *raw = NULL, *der = NULL;
	size_t rawlen = 0, derlen = 0;
	EVP_PKEY_CTX *vctx = NULL;
	imss_err err;

	*proved = 0;
	if (!EVP_PKEY_is_a(pub, "EC"))
		return IMSS_OK;
	key.bits = (unsigned)EVP_PKEY_get_bits(pub);
	key.label = "";
	if (RAND_bytes(digest, sizeof(digest)) != 1)
		return ctx_fail_openssl(tok->ctx, "RAND_bytes");
	err = token_sign_raw(&key, &mech, digest, sizeof(digest), &raw, &rawlen);
	if (err == IMSS_OK)
		err = ecdsa_raw_to_der(tok->ctx, raw, rawlen, &der, &derlen);
	if (err == IMSS_OK && (vctx = EVP_PKEY_CTX_new(pub, NULL)) != NULL &&
	    EVP_PKEY_verify_init(vctx) == 1)
		*proved = EVP_PKEY_verify(vctx, der, derlen, digest, sizeof(digest)) == 1;
	EVP_PKEY_CTX_free(vctx);
	OPENSSL_free(raw);
	OPENSSL_free(der);
	/* A key that will not sign is not this one; a lost token stops. */
	if (err != IMSS_OK && err != IMSS_ERR_NOMEM && err != IMSS_ERR_SESSION_LOST &&
	    err != IMSS_ERR_TOKEN_REMOVED && err != IMSS_ERR_DEVICE) {
		ctx_clear_detail(tok->ctx);
		err = IMSS_OK;
	}
	return err;
}
