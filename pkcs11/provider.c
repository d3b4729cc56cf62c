/*
 * An OpenSSL 3 provider, built in, that turns a token key into an EVP_PKEY
 * whose private operations are C_Sign calls through the token layer.
 *
 * It lives in a library context of its own (one per imss_ctx), next to the
 * default provider, with "?provider=default" as the context's default
 * property query: ordinary keys never land in this provider's key manager,
 * and a token key is made only by an explicit "provider=imss-token" fetch.
 *
 * Key manager ("RSA", "EC"): a key object holds the imss_key (not owned:
 * the EVP_PKEY must be freed before the imss_key) and its public key as a
 * default-provider EVP_PKEY.  Public keys are imported too, so that
 * EVP_PKEY_eq() (X509_check_private_key, CMS, TLS) can compare a
 * certificate's key with a token key.  Export refuses anything that asks
 * for the private key, which sends OpenSSL's signature set-up to this
 * provider's own signature code.
 *
 * Signature ("RSA", "ECDSA"): digest-sign gathers the data and hands it to
 * imss_key_sign() (token hash-and-sign, else host hashing); sign on a
 * digest uses imss_key_sign_digest().
 */
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "token-internal.h"

#define PROV_NAME "imss-token"
#define PROV_PROPS "provider=imss-token"
#define PARAM_KEY_REF "imss-key-ref"
#define SIGN_DATA_MAX (64u * 1024 * 1024)

struct prov_key {
	imss_key *key; /* NULL for an imported public key */
	EVP_PKEY *pub; /* default-provider public key */
};

/* ---- key manager ---------------------------------------------------- */

static void *
km_new(void *provctx)
{
	return OPENSSL_zalloc(sizeof(struct prov_key));
}

static void
km_free(void *keydata)
{
	struct prov_key *pk = keydata;

	if (pk == NULL)
		return;
	EVP_PKEY_free(pk->pub);
	OPENSSL_free(pk);
}

static void *
km_dup(const void *keydata, int selection)
{
	const struct prov_key *src = keydata;
	struct prov_key *pk = km_new(NULL);

	if (pk == NULL)
		return NULL;
	pk->key = src->key;
	if (src->pub != NULL && EVP_PKEY_up_ref(src->pub))
		pk->pub = src->pub;
	return pk;
}

static int
km_has(const void *keydata, int selection)
{
	const struct prov_key *pk = keydata;

	if (pk == NULL || pk->pub == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && pk->key == NULL)
		return 0;
	return 1;
}

static int
km_match(const void *a, const void *b, int selection)
{
	const struct prov_key *x = a, *y = b;

	if (x->pub == NULL || y->pub == NULL)
		return 0;
	return EVP_PKEY_eq(x->pub, y->pub) == 1;
}

/* Import: our key reference, or a plain public key of this type. */
static int
km_import_type(struct prov_key *pk, const char *type, int selection, const OSSL_PARAM params[])
{
	const OSSL_PARAM *ref = OSSL_PARAM_locate_const(params, PARAM_KEY_REF);
	EVP_PKEY_CTX *ctx;
	void *ptr = NULL;
	size_t len = 0;
	int ok = 0;

	if (ref != NULL) {
		if (!OSSL_PARAM_get_octet_ptr(ref, (const void **)&ptr, &len) || ptr == NULL ||
		    len != sizeof(struct imss_key))
			return 0;
		pk->key = ptr;
		pk->pub = imss_key_get_public(pk->key);
		return EVP_PKEY_up_ref(pk->pub);
	}
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) ||
	    !(selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY))
		return 0;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, "provider=default");
	if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &pk->pub, EVP_PKEY_PUBLIC_KEY, (OSSL_PARAM *)params) == 1)
		ok = 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static int
km_rsa_import(void *keydata, int selection, const OSSL_PARAM params[])
{
	return km_import_type(keydata, "RSA", selection, params);
}

static int
km_ec_import(void *keydata, int selection, const OSSL_PARAM params[])
{
	return km_import_type(keydata, "EC", selection, params);
}

static const OSSL_PARAM *
km_rsa_import_types(int selection)
{
	static const OSSL_PARAM types[] = { OSSL_PARAM_octet_ptr(PARAM_KEY_REF, NULL, 0),
		                            OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
		                            OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
		                            OSSL_PARAM_END };

	return types;
}

static const OSSL_PARAM *
km_ec_import_types(int selection)
{
	static const OSSL_PARAM types[] = {
		OSSL_PARAM_octet_ptr(PARAM_KEY_REF, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0), OSSL_PARAM_END
	};

	return types;
}

struct export_cb {
	OSSL_CALLBACK *cb;
	void *arg;
};

static int
km_export_collect(const OSSL_PARAM params[], void *arg)
{
	struct export_cb *e = arg;

	return e->cb(params, e->arg);
}

/* The public half only; a request that includes the private key fails. */
static int
km_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct prov_key *pk = keydata;
	struct export_cb e = { cb, cbarg };

	if (pk->pub == NULL || (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY))
		return 0;
	return EVP_PKEY_export(pk->pub, selection, km_export_collect, &e);
}

static const OSSL_PARAM *
km_rsa_export_types(int selection)
{
	return km_rsa_import_types(selection) + 1;
}

static const OSSL_PARAM *
km_ec_export_types(int selection)
{
	return km_ec_import_types(selection) + 1;
}

/* Size, security bits, group, public values: the public key answers. */
static int
km_get_params(void *keydata, OSSL_PARAM params[])
{
	struct prov_key *pk = keydata;

	if (pk->pub == NULL)
		return 0;
	return EVP_PKEY_get_params(pk->pub, params);
}

static const OSSL_PARAM *
km_gettable_params(void *provctx)
{
	static const OSSL_PARAM gettable[] = {
		OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
		OSSL_PARAM_END
	};

	return gettable;
}

static const char *
km_rsa_operation(int operation_id)
{
	return operation_id == OSSL_OP_SIGNATURE || operation_id == OSSL_OP_ASYM_CIPHER ? "RSA"
	                                                                                : NULL;
}

static const char *
km_ec_operation(int operation_id)
{
	return operation_id == OSSL_OP_SIGNATURE ? "ECDSA" : NULL;
}

/* The key management of one kind (rsa, ec): the same functions but for
 * import, its types and the operation's name. */
#define KEYMGMT_FUNCTIONS(kind)                                                                    \
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_new },                                         \
	        { OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free },                               \
	        { OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))km_dup },                                 \
	        { OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has },                                 \
	        { OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match },                             \
	        { OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export },                           \
	        { OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params },                   \
	        { OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))km_gettable_params },         \
	        { OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_##kind##_import },                  \
	        { OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))km_##kind##_import_types },      \
	        { OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))km_##kind##_export_types },      \
	        { OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))km_##kind##_operation }, \
	{                                                                                          \
		0, NULL                                                                            \
	}

static const OSSL_DISPATCH km_rsa_functions[] = { KEYMGMT_FUNCTIONS(rsa) };
static const OSSL_DISPATCH km_ec_functions[] = { KEYMGMT_FUNCTIONS(ec) };
#undef KEYMGMT_FUNCTIONS

/* ---- signature ------------------------------------------------------ */

struct sig_ctx {
	struct prov_key *pk;
	imss_hash hash;      /* 0 until a digest is set */
	int pad;             /* RSA_PKCS1_PADDING or RSA_PKCS1_PSS_PADDING */
	unsigned char *data; /* gathered by digest_sign_update */
	size_t len, cap;
};

static void *
sig_newctx(void *provctx, const char *propq)
{
	struct sig_ctx *sc = OPENSSL_zalloc(sizeof(*sc));

	if (sc != NULL)
		sc->pad = RSA_PKCS1_PADDING;
	return sc;
}

static void
sig_freectx(void *ctx)
{
	struct sig_ctx *sc = ctx;

	if (sc == NULL)
		return;
	OPENSSL_clear_free(sc->data, sc->cap);
	OPENSSL_free(sc);
}

static void *
sig_dupctx(void *ctx)
{
	struct sig_ctx *src = ctx, *sc = OPENSSL_memdup(src, sizeof(*src));

	if (sc == NULL)
		return NULL;
	sc->data = NULL;
	sc->cap = 0;
	if (src->cap > 0) {
		sc->data = OPENSSL_memdup(src->data, src->cap);
		if (sc->data == NULL) {
			OPENSSL_free(sc);
			return NULL;
		}
		sc->cap = src->cap;
	}
	return sc;
}

static imss_hash
hash_from_name(const char *name)
{
	EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
	imss_hash h = 0;

	if (md == NULL)
		return 0;
	if (EVP_MD_is_a(md, "SHA256"))
		h = IMSS_HASH_SHA256;
	else if (EVP_MD_is_a(md, "SHA384"))
		h = IMSS_HASH_SHA384;
	else if (EVP_MD_is_a(md, "SHA512"))
		h = IMSS_HASH_SHA512;
	EVP_MD_free(md);
	return h;
}

static const char *
hash_name(imss_hash h)
{
	switch (h) {
	case IMSS_HASH_SHA384:
		return "SHA384";
	case IMSS_HASH_SHA512:
		return "SHA512";
	default:
		return "SHA256";
	}
}

static int sig_set_ctx_params(void *ctx, const OSSL_PARAM params[]);

static int
sig_init(void *ctx, void *keydata, const OSSL_PARAM params[])
{
	struct sig_ctx *sc = ctx;
	struct prov_key *pk = keydata;

	if (pk == NULL || pk->key == NULL) {
		ERR_raise_data(ERR_LIB_PROV, ERR_R_PASSED_INVALID_ARGUMENT, _("not a token key"));
		return 0;
	}
	sc->pk = pk;
	sc->len = 0;
	return sig_set_ctx_params(ctx, params);
}

static imss_padding
sig_padding(const struct sig_ctx *sc)
{
	if (imss_key_get_kind(sc->pk->key) == IMSS_KEY_EC)
		return IMSS_PAD_NONE;
	return sc->pad == RSA_PKCS1_PSS_PADDING ? IMSS_PAD_PSS : IMSS_PAD_PKCS1;
}

/* Largest signature: the RSA modulus, or a DER ECDSA-Sig-Value. */
static size_t
sig_max_size(const struct sig_ctx *sc)
{
	size_t bytes = (imss_key_get_bits(sc->pk->key) + 7) / 8;
	size_t content = 2 * (bytes + 3);

	if (imss_key_get_kind(sc->pk->key) != IMSS_KEY_EC)
		return bytes;
	return content + (content < 128 ? 2 : 3);
}

static int
sig_deliver(imss_err err, unsigned char *made, size_t madelen, unsigned char *sig, size_t *siglen,
            size_t sigsize, imss_key *key)
{
	if (err != IMSS_OK) {
		ERR_raise_data(ERR_LIB_PROV, ERR_R_OPERATION_FAIL, _("token signature: %s: %s"),
		               imss_strerror(err), imss_ctx_detail(imss_key_get_token(key)->ctx));
		return 0;
	}
	if (madelen > sigsize) {
		OPENSSL_free(made);
		ERR_raise(ERR_LIB_PROV, ERR_R_PASSED_INVALID_ARGUMENT);
		return 0;
	}
	memcpy(sig, made, madelen);
	*siglen = madelen;
	OPENSSL_free(made);
	return 1;
}

static int
sig_sign(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize, const unsigned char *tbs,
         size_t tbslen)
{
	struct sig_ctx *sc = ctx;
	unsigned char *made = NULL;
	size_t madelen = 0;
	imss_hash h = sc->hash;
	imss_err err;

	if (sig == NULL) {
		*siglen = sig_max_size(sc);
		return 1;
	}
	if (h == 0)
		h = tbslen == 48   ? IMSS_HASH_SHA384
		    : tbslen == 64 ? IMSS_HASH_SHA512
		                   : IMSS_HASH_SHA256;
	err = imss_key_sign_digest(sc->pk->key, h, sig_padding(sc), tbs, tbslen, &made, &madelen);
	return sig_deliver(err, made, madelen, sig, siglen, sigsize, sc->pk->key);
}

static int
sig_digest_init(void *ctx, const char *mdname, void *keydata, const OSSL_PARAM params[])
{
	struct sig_ctx *sc = ctx;

	if (!sig_init(ctx, keydata, params))
		return 0;
	if (mdname != NULL && mdname[0] != '\0') {
		sc->hash = hash_from_name(mdname);
		if (sc->hash == 0) {
			ERR_raise_data(ERR_LIB_PROV, ERR_R_UNSUPPORTED,
			               _("digest %s (SHA-256, SHA-384 or SHA-512 only)"), mdname);
			return 0;
		}
	} else if (sc->hash == 0) {
		sc->hash = IMSS_HASH_SHA256;
	}
	return 1;
}

static int
sig_digest_update(void *ctx, const unsigned char *data, size_t len)
{
	struct sig_ctx *sc = ctx;
	unsigned char *grown;
	size_t cap;

	if (len > SIGN_DATA_MAX - sc->len)
		return 0;
	if (sc->len + len > sc->cap) {
		cap = sc->cap ? sc->cap : 1024;
		while (cap < sc->len + len)
			cap *= 2;
		grown = OPENSSL_clear_realloc(sc->data, sc->cap, cap);
		if (grown == NULL)
			return 0;
		sc->data = grown;
		sc->cap = cap;
	}
	memcpy(sc->data + sc->len, data, len);
	sc->len += len;
	return 1;
}

static int
sig_digest_final(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize)
{
	struct sig_ctx *sc = ctx;
	unsigned char *made = NULL;
	size_t madelen = 0;
	imss_err err;

	if (sig == NULL) {
		*siglen = sig_max_size(sc);
		return 1;
	}
	err = imss_key_sign(sc->pk->key, sc->hash ? sc->hash : IMSS_HASH_SHA256, sig_padding(sc),
	                    sc->data ? sc->data : (const unsigned char *)"", sc->len, &made,
	                    &madelen);
	sc->len = 0;
	return sig_deliver(err, made, madelen, sig, siglen, sigsize, sc->pk->key);
}

/* RSASSA-PSS AlgorithmIdentifier: hash, MGF1 with the same hash, salt as
 * long as the digest (what the token's PSS mechanisms do). */
static int
pss_algorithm_id(const char *mdname, unsigned char **der)
{
	const EVP_MD *md = EVP_get_digestbyname(mdname);
	RSA_PSS_PARAMS *pss = RSA_PSS_PARAMS_new();
	X509_ALGOR *mgf1md = X509_ALGOR_new(), *alg = X509_ALGOR_new();
	ASN1_STRING *packed = NULL;
	int len = -1;

	if (md == NULL || pss == NULL || mgf1md == NULL || alg == NULL)
		goto out;
	pss->hashAlgorithm = X509_ALGOR_new();
	pss->maskGenAlgorithm = X509_ALGOR_new();
	pss->saltLength = ASN1_INTEGER_new();
	if (pss->hashAlgorithm == NULL || pss->maskGenAlgorithm == NULL ||
	    pss->saltLength == NULL || !ASN1_INTEGER_set(pss->saltLength, EVP_MD_get_size(md)))
		goto out;
	X509_ALGOR_set_md(pss->hashAlgorithm, md);
	X509_ALGOR_set_md(mgf1md, md);
	packed = ASN1_item_pack(mgf1md, ASN1_ITEM_rptr(X509_ALGOR), NULL);
	if (packed == NULL ||
	    !X509_ALGOR_set0(pss->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE, packed))
		goto out;
	packed = ASN1_item_pack(pss, ASN1_ITEM_rptr(RSA_PSS_PARAMS), NULL);
	if (packed == NULL ||
	    !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, packed))
		goto out;
	packed = NULL;
	len = i2d_X509_ALGOR(alg, der);
out:
	ASN1_STRING_free(packed);
	RSA_PSS_PARAMS_free(pss);
	X509_ALGOR_free(mgf1md);
	X509_ALGOR_free(alg);
	return len;
}

/* DER AlgorithmIdentifier of what this context signs with. */
static int
sig_algorithm_id(const struct sig_ctx *sc, unsigned char **der)
{
	static const int rsa_nids[] = { 0, NID_sha256WithRSAEncryption, NID_sha384WithRSAEncryption,
		                        NID_sha512WithRSAEncryption };
	static const int ec_nids[] = { 0, NID_ecdsa_with_SHA256, NID_ecdsa_with_SHA384,
		                       NID_ecdsa_with_SHA512 };
	imss_hash h = sc->hash ? sc->hash : IMSS_HASH_SHA256;
	X509_ALGOR *alg = X509_ALGOR_new();
	int len = -1;

	if (alg == NULL)
		return -1;
	switch (sig_padding(sc)) {
	case IMSS_PAD_NONE:
		if (X509_ALGOR_set0(alg, OBJ_nid2obj(ec_nids[h]), V_ASN1_UNDEF, NULL))
			len = i2d_X509_ALGOR(alg, der);
		break;
	case IMSS_PAD_PKCS1:
		if (X509_ALGOR_set0(alg, OBJ_nid2obj(rsa_nids[h]), V_ASN1_NULL, NULL))
			len = i2d_X509_ALGOR(alg, der);
		break;
	case IMSS_PAD_PSS:
		len = pss_algorithm_id(hash_name(h), der);
		break;
	}
	X509_ALGOR_free(alg);
	return len;
}

static int
sig_get_ctx_params(void *ctx, OSSL_PARAM params[])
{
	struct sig_ctx *sc = ctx;
	OSSL_PARAM *p;

	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID)) != NULL) {
		unsigned char *der = NULL;
		int len = sc->pk ? sig_algorithm_id(sc, &der) : -1;
		int ok = len > 0 && OSSL_PARAM_set_octet_string(p, der, (size_t)len);

		OPENSSL_free(der);
		if (!ok)
			return 0;
	}
	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL &&
	    !OSSL_PARAM_set_utf8_string(p, hash_name(sc->hash)))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL) {
		int ok = p->data_type == OSSL_PARAM_INTEGER
		                 ? OSSL_PARAM_set_int(p, sc->pad)
		                 : OSSL_PARAM_set_utf8_string(p,
		                                              sc->pad == RSA_PKCS1_PSS_PADDING
		                                                      ? OSSL_PKEY_RSA_PAD_MODE_PSS
		                                                      : OSSL_PKEY_RSA_PAD_MODE_PKCSV15);
		if (!ok)
			return 0;
	}
	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) != NULL) {
		int ok = p->data_type == OSSL_PARAM_INTEGER
		                 ? OSSL_PARAM_set_int(p, RSA_PSS_SALTLEN_DIGEST)
		                 : OSSL_PARAM_set_utf8_string(p, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST);
		if (!ok)
			return 0;
	}
	return 1;
}

static const OSSL_PARAM *
sig_gettable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM gettable[] = {
		OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
		OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL),
		OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL), OSSL_PARAM_END
	};

	return gettable;
}

static int
set_pad_mode(struct sig_ctx *sc, const OSSL_PARAM *p)
{
	const char *s = NULL;
	int mode = 0;

	if (p->data_type == OSSL_PARAM_INTEGER) {
		if (!OSSL_PARAM_get_int(p, &mode))
			return 0;
	} else if (OSSL_PARAM_get_utf8_string_ptr(p, &s)) {
		mode = strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PSS) == 0       ? RSA_PKCS1_PSS_PADDING
		       : strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0 ? RSA_PKCS1_PADDING
		                                                        : 0;
	}
	if (mode != RSA_PKCS1_PADDING && mode != RSA_PKCS1_PSS_PADDING) {
		ERR_raise_data(ERR_LIB_PROV, ERR_R_UNSUPPORTED,
		               _("token keys sign with PKCS#1 v1.5 or PSS padding only"));
		return 0;
	}
	sc->pad = mode;
	return 1;
}

/* The token's PSS salt is the digest length; "digest", -1 and that length
 * are accepted, anything else is refused rather than silently changed. */
static int
set_salt_length(struct sig_ctx *sc, const OSSL_PARAM *p)
{
	const char *s = NULL;
	int len = 0;

	if (p->data_type == OSSL_PARAM_INTEGER) {
		if (!OSSL_PARAM_get_int(p, &len))
			return 0;
		if (len == RSA_PSS_SALTLEN_DIGEST)
			return 1;
		if (sc->hash != 0 && len == EVP_MD_get_size(EVP_get_digestbyname(hash_name(sc->hash))))
			return 1;
	} else if (OSSL_PARAM_get_utf8_string_ptr(p, &s) &&
	           strcmp(s, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) == 0) {
		return 1;
	}
	ERR_raise_data(ERR_LIB_PROV, ERR_R_UNSUPPORTED,
	               _("token PSS signatures use a salt as long as the digest"));
	return 0;
}

static int
sig_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
	struct sig_ctx *sc = ctx;
	const OSSL_PARAM *p;
	const char *s = NULL;

	if (params == NULL)
		return 1;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL) {
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &s) || (sc->hash = hash_from_name(s)) == 0)
			return 0;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL &&
	    !set_pad_mode(sc, p))
		return 0;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) != NULL &&
	    !set_salt_length(sc, p))
		return 0;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) != NULL) {
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &s) ||
		    (sc->hash != 0 && hash_from_name(s) != sc->hash))
			return 0;
	}
	return 1;
}

static const OSSL_PARAM *
sig_settable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM settable[] = {
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
		OSSL_PARAM_END
	};

	return settable;
}

static const OSSL_DISPATCH sig_functions[] = {
	{ OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_newctx },
	{ OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx },
	{ OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx },
	{ OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))sig_init },
	{ OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sig_sign },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_digest_init },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))sig_digest_update },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_digest_final },
	{ OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_ctx_params },
	{ OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))sig_gettable_ctx_params },
	{ OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_ctx_params },
	{ OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))sig_settable_ctx_params },
	{ 0, NULL }
};

/* ---- the provider --------------------------------------------------- */

/* ---- asymmetric cipher: RSA PKCS#1 v1.5 decryption ------------------ */

/* A CA's answer (SCEP) is encrypted to the current certificate: its key
 * unwraps the content key with C_Decrypt.  Only PKCS#1 v1.5 padding (what
 * CMS's rsaEncryption recipients use); encryption is the public key's
 * business and left to the default provider. */
struct dec_ctx {
	struct prov_key *pk;
};

static void *
dec_newctx(void *provctx)
{
	(void)provctx;
	return OPENSSL_zalloc(sizeof(struct dec_ctx));
}

static void
dec_freectx(void *ctx)
{
	OPENSSL_free(ctx);
}

static int dec_set_ctx_params(void *ctx, const OSSL_PARAM params[]);

static int
dec_init(void *ctx, void *keydata, const OSSL_PARAM params[])
{
	struct dec_ctx *dc = ctx;
	struct prov_key *pk = keydata;

	if (pk == NULL || pk->key == NULL || imss_key_get_kind(pk->key) != IMSS_KEY_RSA) {
		ERR_raise_data(ERR_LIB_PROV, ERR_R_PASSED_INVALID_ARGUMENT, _("not a token RSA key"));
		return 0;
	}
	dc->pk = pk;
	return dec_set_ctx_params(ctx, params);
}

static int
dec_decrypt(void *ctx, unsigned char *out, size_t *outlen, size_t outsize, const unsigned char *in,
            size_t inlen)
{
	struct dec_ctx *dc = ctx;
	unsigned char *plain = NULL;
	size_t plainlen = 0;
	imss_err err;

	if (out == NULL) {
		*outlen = (imss_key_get_bits(dc->pk->key) + 7) / 8;
		return 1;
	}
	err = token_key_decrypt(dc->pk->key, in, inlen, &plain, &plainlen);
	if (err != IMSS_OK) {
		ERR_raise_data(ERR_LIB_PROV, ERR_R_OPERATION_FAIL, _("token decryption: %s: %s"),
		               imss_strerror(err),
		               imss_ctx_detail(imss_key_get_token(dc->pk->key)->ctx));
		return 0;
	}
	if (plainlen > outsize) {
		OPENSSL_clear_free(plain, plainlen);
		ERR_raise(ERR_LIB_PROV, ERR_R_PASSED_INVALID_ARGUMENT);
		return 0;
	}
	memcpy(out, plain, plainlen);
	*outlen = plainlen;
	OPENSSL_clear_free(plain, plainlen);
	return 1;
}

/* PKCS#1 v1.5 padding only; implicit rejection (OpenSSL 3.2) is the
 * token's business and accepted off. */
static int
dec_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
	const OSSL_PARAM *p;
	int pad = RSA_PKCS1_PADDING;

	(void)ctx;
	p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE);
	if (p != NULL && p->data_type == OSSL_PARAM_INTEGER && !OSSL_PARAM_get_int(p, &pad))
		return 0;
	if (p != NULL && p->data_type == OSSL_PARAM_UTF8_STRING)
		pad = strcmp(p->data, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0 ? RSA_PKCS1_PADDING : -1;
	if (pad != RSA_PKCS1_PADDING) {
		ERR_raise_data(ERR_LIB_PROV, ERR_R_UNSUPPORTED,
		               _("token decryption: PKCS#1 v1.5 only"));
		return 0;
	}
	return 1;
}

static const OSSL_PARAM *
dec_settable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM settable[] = {
		OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0),
		OSSL_PARAM_int(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL), OSSL_PARAM_END
	};

	(void)ctx;
	(void)provctx;
	return settable;
}

static int
dec_get_ctx_params(void *ctx, OSSL_PARAM params[])
{
	OSSL_PARAM *p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE);

	(void)ctx;
	return p == NULL || OSSL_PARAM_set_int(p, RSA_PKCS1_PADDING);
}

static const OSSL_PARAM *
dec_gettable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM gettable[] = { OSSL_PARAM_int(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL),
		                               OSSL_PARAM_END };

	(void)ctx;
	(void)provctx;
	return gettable;
}

static const OSSL_DISPATCH dec_functions[] = {
	{ OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))dec_newctx },
	{ OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))dec_freectx },
	{ OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))dec_init },
	{ OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))dec_decrypt },
	{ OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, (void (*)(void))dec_set_ctx_params },
	{ OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))dec_settable_ctx_params },
	{ OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, (void (*)(void))dec_get_ctx_params },
	{ OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))dec_gettable_ctx_params },
	{ 0, NULL }
};

static const OSSL_ALGORITHM prov_asym_cipher[] = { { "RSA:rsaEncryption", PROV_PROPS, dec_functions,
	                                             "token RSA decryption" },
	                                           { NULL, NULL, NULL, NULL } };

static const OSSL_ALGORITHM prov_keymgmt[] = {
	{ "RSA:rsaEncryption", PROV_PROPS, km_rsa_functions, "token RSA key" },
	{ "EC:id-ecPublicKey", PROV_PROPS, km_ec_functions, "token EC key" },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM prov_signature[] = {
	{ "RSA:rsaEncryption", PROV_PROPS, sig_functions, "token RSA signature" },
	{ "ECDSA", PROV_PROPS, sig_functions, "token ECDSA signature" },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM *
prov_query(void *provctx, int operation_id, int *no_cache)
{
	*no_cache = 0;
	switch (operation_id) {
	case OSSL_OP_KEYMGMT:
		return prov_keymgmt;
	case OSSL_OP_SIGNATURE:
		return prov_signature;
	case OSSL_OP_ASYM_CIPHER:
		return prov_asym_cipher;
	default:
		return NULL;
	}
}

static const OSSL_DISPATCH prov_functions[] = {
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))prov_query }, { 0, NULL }
};

static int
prov_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in, const OSSL_DISPATCH **out,
          void **provctx)
{
	*out = prov_functions;
	*provctx = (void *)handle;
	return 1;
}

/* ---- the library's side --------------------------------------------- */

imss_err
ctx_libctx(imss_ctx *ctx, OSSL_LIB_CTX **out)
{
	OSSL_LIB_CTX *lib;

	if (ctx->libctx != NULL) {
		*out = ctx->libctx;
		return IMSS_OK;
	}
	lib = OSSL_LIB_CTX_new();
	if (lib == NULL)
		return ctx_fail_openssl(ctx, "OSSL_LIB_CTX_new");
	if ((ctx->prov_default = OSSL_PROVIDER_load(lib, "default")) == NULL ||
	    !OSSL_PROVIDER_add_builtin(lib, PROV_NAME, prov_init) ||
	    (ctx->prov_token = OSSL_PROVIDER_load(lib, PROV_NAME)) == NULL ||
	    !EVP_set_default_properties(lib, "?provider=default")) {
		OSSL_PROVIDER_unload(ctx->prov_token);
		OSSL_PROVIDER_unload(ctx->prov_default);
		ctx->prov_token = ctx->prov_default = NULL;
		OSSL_LIB_CTX_free(lib);
		return ctx_fail_openssl(ctx, _("cannot set up the token key provider"));
	}
	ctx->libctx = lib;
	*out = lib;
	return IMSS_OK;
}

void
ctx_libctx_free(imss_ctx *ctx)
{
	OSSL_PROVIDER_unload(ctx->prov_token);
	OSSL_PROVIDER_unload(ctx->prov_default);
	OSSL_LIB_CTX_free(ctx->libctx);
	ctx->prov_token = ctx->prov_default = NULL;
	ctx->libctx = NULL;
}

OSSL_LIB_CTX *
imss_ctx_libctx(imss_ctx *ctx)
{
	OSSL_LIB_CTX *lib = NULL;

	return ctx_libctx(ctx, &lib) == IMSS_OK ? lib : NULL;
}

imss_err
imss_key_get_evp(imss_key *key, EVP_PKEY **out)
{
	imss_ctx *ctx = key->tok->ctx;
	OSSL_PARAM params[2];
	EVP_PKEY_CTX *pctx = NULL;
	OSSL_LIB_CTX *lib;
	imss_err err;

	*out = NULL;
	err = ctx_libctx(ctx, &lib);
	if (err != IMSS_OK)
		return err;
	params[0] = OSSL_PARAM_construct_octet_ptr(PARAM_KEY_REF, (void **)&key, sizeof(*key));
	params[1] = OSSL_PARAM_construct_end();
	pctx = EVP_PKEY_CTX_new_from_name(lib, key->kind == IMSS_KEY_RSA ? "RSA" : "EC", PROV_PROPS);
	if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, out, EVP_PKEY_KEYPAIR, params) != 1)
		err = ctx_fail_openssl(ctx, _("cannot make an OpenSSL key of the token key"));
	EVP_PKEY_CTX_free(pctx);
	return err;
}
