/*
 * Token keys as the host sees them: the public half as an EVP_PKEY, the
 * RFC 5280 key identifier, and the imss_key handle.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "token-internal.h"

unsigned
rsa_modulus_bits(const unsigned char *n, size_t len)
{
	BIGNUM *bn = BN_bin2bn(n, (int)len, NULL);
	unsigned bits = bn ? (unsigned)BN_num_bits(bn) : 0;

	BN_free(bn);
	return bits;
}

/* The curve named by DER-encoded ECParameters (a named-curve OID). */
static int
ec_params_nid(const unsigned char *params, size_t len)
{
	const unsigned char *p = params;
	ASN1_OBJECT *oid = d2i_ASN1_OBJECT(NULL, &p, (long)len);
	int nid = oid ? OBJ_obj2nid(oid) : NID_undef;

	ASN1_OBJECT_free(oid);
	return nid;
}

unsigned
ec_params_bits(const unsigned char *params, size_t len)
{
	int nid = ec_params_nid(params, len);
	EC_GROUP *g = nid != NID_undef ? EC_GROUP_new_by_curve_name(nid) : NULL;
	unsigned bits = g ? (unsigned)EC_GROUP_get_degree(g) : 0;

	EC_GROUP_free(g);
	return bits;
}

static EVP_PKEY *
pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (params == NULL || pctx == NULL || EVP_PKEY_fromdata_init(pctx) <= 0 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	return pkey;
}

EVP_PKEY *
pubkey_from_rsa(const unsigned char *n, size_t nlen, const unsigned char *e, size_t elen)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL);
	BIGNUM *be = BN_bin2bn(e, (int)elen, NULL);
	EVP_PKEY *pkey = NULL;

	if (bld && bn && be && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		pkey = pkey_fromdata("RSA", bld);
	BN_free(bn);
	BN_free(be);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

static EVP_PKEY *
pubkey_from_ec_raw(const char *group, const unsigned char *point, size_t len)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY *pkey = NULL;

	if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, len))
		pkey = pkey_fromdata("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/*
 * CKA_EC_POINT is a DER OCTET STRING holding the point, but some tokens
 * hand back the bare point: try the standard form first.
 */
EVP_PKEY *
pubkey_from_ec(const unsigned char *params, size_t plen, const unsigned char *point, size_t ptlen)
{
	int nid = ec_params_nid(params, plen);
	const char *group = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
	const unsigned char *p = point;
	ASN1_OCTET_STRING *os;
	EVP_PKEY *pkey = NULL;

	if (group == NULL)
		return NULL;
	os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)ptlen);
	if (os != NULL && p == point + ptlen)
		pkey = pubkey_from_ec_raw(group, ASN1_STRING_get0_data(os),
		                          (size_t)ASN1_STRING_length(os));
	ASN1_OCTET_STRING_free(os);
	if (pkey == NULL)
		pkey = pubkey_from_ec_raw(group, point, ptlen);
	return pkey;
}

imss_err
pubkey_key_identifier(const EVP_PKEY *pub, unsigned char out[20])
{
	X509_PUBKEY *xpk = NULL;
	const unsigned char *bits;
	int len;
	imss_err err = IMSS_ERR_CRYPTO;

	if (X509_PUBKEY_set(&xpk, (EVP_PKEY *)pub) != 1)
		goto out;
	if (X509_PUBKEY_get0_param(NULL, &bits, &len, NULL, xpk) != 1)
		goto out;
	SHA1(bits, (size_t)len, out);
	err = IMSS_OK;
out:
	X509_PUBKEY_free(xpk);
	return err;
}

void
token_know_public(imss_token *tok, const unsigned char *id, size_t id_len, EVP_PKEY *pub)
{
	EVP_PKEY_free(tok->known_pub);
	tok->known_pub = NULL;
	if (pub == NULL || id_len == 0 || id_len > sizeof(tok->known_id) || !EVP_PKEY_up_ref(pub))
		return;
	tok->known_pub = pub;
	memcpy(tok->known_id, id, id_len);
	tok->known_id_len = id_len;
}

/* The public half the caller told (token_know_public) for a key with
 * this ID, or NULL. */
static EVP_PKEY *
known_public(imss_token *tok, const CK_ATTRIBUTE *id)
{
	if (tok->known_pub == NULL || id->ulValueLen != tok->known_id_len ||
	    memcmp(id->pValue, tok->known_id, tok->known_id_len) != 0 ||
	    !EVP_PKEY_up_ref(tok->known_pub))
		return NULL;
	return tok->known_pub;
}

/* The public point of an EC key: from the public key object with the same
 * CKA_ID, or failing that from a certificate with that ID, or failing both
 * the one the caller told for its ID (a renewal's key keeps no public key
 * object).  What the token holds comes first: a journal cannot make a key
 * that has its own public half on the token look like another. */
static imss_err
ec_public_point(imss_token *tok, const CK_ATTRIBUTE *id, const CK_ATTRIBUTE *params, EVP_PKEY **out)
{
	CK_OBJECT_CLASS pubclass = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &pubclass, sizeof(pubclass) },
		{ CKA_ID, id->pValue, id->ulValueLen },
	};
	CK_ATTRIBUTE pt = { CKA_EC_POINT, NULL, 0 };
	CK_OBJECT_HANDLE h;
	CK_ULONG count = 0;
	imss_err err;

	*out = NULL;
	err = token_find(tok, tmpl, 2, &h, 1, &count);
	if (err == IMSS_OK && count == 0) {
		pubclass = CKO_CERTIFICATE;
		err = token_find(tok, tmpl, 2, &h, 1, &count);
		if (err == IMSS_OK && count == 1)
			return object_public_key(tok, h, out);
	}
	if (err != IMSS_OK)
		return err;
	if (count == 0 && (*out = known_public(tok, id)) != NULL)
		return IMSS_OK;
	if (count == 0)
		return ctx_fail(tok->ctx, IMSS_ERR_NO_OBJECT,
		                _("The EC key has no public key or certificate with the same ID on the token, so its public half is unknown."));
	err = token_get_attrs(tok, h, &pt, 1);
	if (err != IMSS_OK)
		return err;
	if (pt.pValue != NULL)
		*out = pubkey_from_ec(params->pValue, params->ulValueLen, pt.pValue, pt.ulValueLen);
	attrs_free_values(&pt, 1);
	if (*out == NULL)
		return ctx_fail_openssl(tok->ctx, _("the token's EC public key cannot be read"));
	return IMSS_OK;
}

static imss_err
certificate_public_key(imss_token *tok, const CK_ATTRIBUTE *value, EVP_PKEY **out)
{
	const unsigned char *p = value ? value->pValue : NULL;
	X509 *x = p ? d2i_X509(NULL, &p, (long)value->ulValueLen) : NULL;

	if (x == NULL)
		return ctx_fail_openssl(tok->ctx, _("a certificate on the token cannot be parsed"));
	*out = X509_get_pubkey(x);
	X509_free(x);
	return *out ? IMSS_OK : ctx_fail_openssl(tok->ctx, _("certificate public key"));
}

/* The public half of a private key object from attributes already read:
 * RSA from its modulus and exponent, EC from its point when the token
 * keeps one there, else from the public key or certificate with its ID. */
static imss_err
key_public_from(imss_token *tok, CK_ATTRIBUTE *attrs, CK_ULONG n, EVP_PKEY **out)
{
	CK_ATTRIBUTE *mod = attrs_find(attrs, n, CKA_MODULUS);
	CK_ATTRIBUTE *exp = attrs_find(attrs, n, CKA_PUBLIC_EXPONENT);
	CK_ATTRIBUTE *params = attrs_find(attrs, n, CKA_EC_PARAMS);
	CK_ATTRIBUTE *point = attrs_find(attrs, n, CKA_EC_POINT);
	CK_ATTRIBUTE *id = attrs_find(attrs, n, CKA_ID);

	*out = NULL;
	if (mod && exp)
		*out = pubkey_from_rsa(mod->pValue, mod->ulValueLen, exp->pValue, exp->ulValueLen);
	else if (params && point)
		*out = pubkey_from_ec(params->pValue, params->ulValueLen, point->pValue,
		                      point->ulValueLen);
	else if (params && id)
		return ec_public_point(tok, id, params, out);
	if (*out == NULL)
		return ctx_fail(tok->ctx, IMSS_ERR_UNSUPPORTED,
		                _("The token object is neither an RSA nor an EC key the tool can read."));
	return IMSS_OK;
}

imss_err
object_public_key(imss_token *tok, CK_OBJECT_HANDLE h, EVP_PKEY **out)
{
	CK_ATTRIBUTE attrs[] = {
		{ CKA_CLASS, NULL, 0 },           { CKA_ID, NULL, 0 },
		{ CKA_VALUE, NULL, 0 },           { CKA_MODULUS, NULL, 0 },
		{ CKA_PUBLIC_EXPONENT, NULL, 0 }, { CKA_EC_PARAMS, NULL, 0 },
		{ CKA_EC_POINT, NULL, 0 },
	};
	const CK_ULONG n = sizeof(attrs) / sizeof(attrs[0]);
	CK_ATTRIBUTE *klass;
	imss_err err;

	*out = NULL;
	err = token_get_attrs(tok, h, attrs, n);
	if (err != IMSS_OK)
		return err;
	klass = attrs_find(attrs, n, CKA_CLASS);
	if (klass && klass->ulValueLen == sizeof(CK_OBJECT_CLASS) &&
	    *(CK_OBJECT_CLASS *)klass->pValue == CKO_CERTIFICATE)
		err = certificate_public_key(tok, attrs_find(attrs, n, CKA_VALUE), out);
	else
		err = key_public_from(tok, attrs, n, out);
	attrs_free_values(attrs, n);
	return err;
}

/* A key handle from attributes already read (point: an EC public key's
 * CKA_EC_POINT found elsewhere, or NULL; cert_pub: else the public key of
 * a certificate with the key's CKA_ID, or NULL). */
static imss_err
key_build(imss_token *tok, CK_OBJECT_HANDLE priv, CK_ATTRIBUTE *attrs, CK_ULONG n,
          const CK_ATTRIBUTE *point, EVP_PKEY *cert_pub, imss_key **out)
{
	CK_ATTRIBUTE *id = attrs_find(attrs, n, CKA_ID);
	CK_ATTRIBUTE *label = attrs_find(attrs, n, CKA_LABEL);
	CK_ATTRIBUTE *params = attrs_find(attrs, n, CKA_EC_PARAMS);
	imss_key *key;
	imss_err err;

	*out = NULL;
	key = calloc(1, sizeof(*key));
	if (key == NULL)
		return IMSS_ERR_NOMEM;
	key->tok = tok;
	key->priv = priv;
	if (point != NULL && params != NULL && attrs_find(attrs, n, CKA_MODULUS) == NULL) {
		key->pub = pubkey_from_ec(params->pValue, params->ulValueLen, point->pValue,
		                          point->ulValueLen);
		err = key->pub ? IMSS_OK
		               : ctx_fail_openssl(tok->ctx,
		                                  _("the token's EC public key cannot be read"));
	} else if (cert_pub != NULL && params != NULL && attrs_find(attrs, n, CKA_MODULUS) == NULL &&
	           attrs_find(attrs, n, CKA_EC_POINT) == NULL && EVP_PKEY_up_ref(cert_pub)) {
		key->pub = cert_pub;
		err = IMSS_OK;
	} else {
		err = key_public_from(tok, attrs, n, &key->pub);
	}
	if (id && id->ulValueLen <= sizeof(key->id)) {
		memcpy(key->id, id->pValue, id->ulValueLen);
		key->id_len = id->ulValueLen;
	}
	key->label = strndup(label ? label->pValue : "", label ? label->ulValueLen : 0);
	key->always_authenticate = attr_bool(attrs_find(attrs, n, CKA_ALWAYS_AUTHENTICATE)) == 1;
	key->local = attr_bool(attrs_find(attrs, n, CKA_LOCAL)) == 1;
	if (err == IMSS_OK)
		err = key_finish(key);
	if (err != IMSS_OK)
		imss_key_free(key);
	else
		*out = key;
	return err;
}

/* What a key handle is built from (CKA_LOCAL: was the key made on this
 * token?  The preflight's proof that the token makes such keys). */
#define KEY_ATTRS                                                                          \
	{ CKA_ID, NULL, 0 }, { CKA_LABEL, NULL, 0 }, { CKA_ALWAYS_AUTHENTICATE, NULL, 0 }, \
	        { CKA_MODULUS, NULL, 0 }, { CKA_PUBLIC_EXPONENT, NULL, 0 },                \
	        { CKA_EC_PARAMS, NULL, 0 }, { CKA_EC_POINT, NULL, 0 },                     \
	{                                                                                  \
		CKA_LOCAL, NULL, 0                                                         \
	}
#define N_KEY_ATTRS 8

/* Everything the key handle needs, read in one call. */
imss_err
key_from_handle(imss_token *tok, CK_OBJECT_HANDLE priv, imss_key **out)
{
	return key_from_handle_with(tok, priv, NULL, out);
}

imss_err
key_from_handle_with(imss_token *tok, CK_OBJECT_HANDLE priv, EVP_PKEY *pub, imss_key **out)
{
	CK_ATTRIBUTE attrs[] = { KEY_ATTRS };
	const CK_ULONG n = sizeof(attrs) / sizeof(attrs[0]);
	imss_err err;

	*out = NULL;
	err = token_get_attrs(tok, priv, attrs, n);
	if (err == IMSS_OK)
		err = key_build(tok, priv, attrs, n, NULL, pub, out);
	attrs_free_values(attrs, n);
	return err;
}

/*
 * What a credential needs: the private key and the certificate that
 * uri's id= and object= name, found in one search of every class (one
 * call per object found after it) rather than one search per class.
 */
#define FOUND_CERT_IDS 16
#define FOUND_PRIV_ATTRS (N_KEY_ATTRS + 3)
struct found_objects {
	CK_ATTRIBUTE priv[FOUND_PRIV_ATTRS]; /* the private key's attributes */
	CK_OBJECT_HANDLE priv_handle;
	int n_priv;
	CK_ATTRIBUTE point; /* a public key's CKA_EC_POINT */
	STACK_OF(X509) * certs;
	/* each certificate's CKA_ID, in the order of certs (the first
	 * FOUND_CERT_IDS) */
	unsigned char cert_id[FOUND_CERT_IDS][IMSS_ID_MAX];
	size_t cert_id_len[FOUND_CERT_IDS];
};

/* The public key of a certificate found with the private key's CKA_ID
 * (not owned), or NULL. */
static EVP_PKEY *
found_certificate_public(const struct found_objects *f)
{
	const CK_ATTRIBUTE *id = attrs_find((CK_ATTRIBUTE *)f->priv, FOUND_PRIV_ATTRS, CKA_ID);
	int j;

	for (j = 0; id != NULL && j < sk_X509_num(f->certs) && j < FOUND_CERT_IDS; j++)
		if (f->cert_id_len[j] == id->ulValueLen &&
		    memcmp(f->cert_id[j], id->pValue, id->ulValueLen) == 0)
			return X509_get0_pubkey(sk_X509_value(f->certs, j));
	return NULL;
}

static imss_err
classify_object(imss_token *tok, CK_OBJECT_HANDLE h, struct found_objects *f)
{
	CK_ATTRIBUTE attrs[] = { KEY_ATTRS,
		                 { CKA_CLASS, NULL, 0 },
		                 { CKA_VALUE, NULL, 0 },
		                 { CKA_CERTIFICATE_TYPE, NULL, 0 } };
	const CK_ULONG n = sizeof(attrs) / sizeof(attrs[0]);
	CK_ATTRIBUTE *klass, *v;
	imss_err err;

	_Static_assert(sizeof(attrs) == sizeof(f->priv), "a private key's attributes are kept whole");
	err = token_get_attrs(tok, h, attrs, n);
	if (err != IMSS_OK)
		return err;
	klass = attrs_find(attrs, n, CKA_CLASS);
	switch (klass && klass->ulValueLen == sizeof(CK_OBJECT_CLASS)
	                ? *(CK_OBJECT_CLASS *)klass->pValue
	                : (CK_OBJECT_CLASS)-1) {
	case CKO_PRIVATE_KEY:
		if (f->n_priv++ == 0) {
			memcpy(f->priv, attrs, sizeof(f->priv)); /* takes the values */
			f->priv_handle = h;
			return IMSS_OK;
		}
		break;
	case CKO_PUBLIC_KEY:
		if ((v = attrs_find(attrs, n, CKA_EC_POINT)) != NULL && f->point.pValue == NULL) {
			f->point = *v;
			v->pValue = NULL;
		}
		break;
	case CKO_CERTIFICATE:
		if ((v = attrs_find(attrs, n, CKA_VALUE)) != NULL) {
			const unsigned char *p = v->pValue;
			X509 *x = d2i_X509(NULL, &p, (long)v->ulValueLen);
			CK_ATTRIBUTE *id = attrs_find(attrs, n, CKA_ID);
			int at = sk_X509_num(f->certs);

			if (x != NULL && !sk_X509_push(f->certs, x))
				X509_free(x);
			else if (x != NULL && at < FOUND_CERT_IDS && id != NULL &&
			         id->ulValueLen <= IMSS_ID_MAX) {
				memcpy(f->cert_id[at], id->pValue, id->ulValueLen);
				f->cert_id_len[at] = id->ulValueLen;
			}
		}
		break;
	default:
		break;
	}
	attrs_free_values(attrs, n);
	return IMSS_OK;
}

imss_err
key_with_certificate(imss_token *tok, const char *text, imss_key **key, X509 **cert)
{
	struct found_objects f = { .priv_handle = CK_INVALID_HANDLE };
	CK_OBJECT_HANDLE found[16];
	CK_ATTRIBUTE tmpl[2], *a;
	CK_ULONG n = 0, count = 0, i;
	P11KitUri *uri = NULL;
	imss_err err;
	int j;

	*key = NULL;
	*cert = NULL;
	ctx_clear_detail(tok->ctx);
	err = token_parse_uri(tok->ctx, text, &uri);
	if (err != IMSS_OK)
		return err;
	if ((a = p11_kit_uri_get_attribute(uri, CKA_ID)) != NULL)
		tmpl[n++] = *a;
	if ((a = p11_kit_uri_get_attribute(uri, CKA_LABEL)) != NULL)
		tmpl[n++] = *a;
	if (n == 0) {
		err = ctx_fail(tok->ctx, IMSS_ERR_INVALID_ARG,
		               _("'%s' names no key: add id= or object= (see 'imss-renew objects')."),
		               text);
		goto out;
	}
	if ((f.certs = sk_X509_new_null()) == NULL) {
		err = IMSS_ERR_NOMEM;
		goto out;
	}
	err = token_find(tok, tmpl, n, found, 16, &count);
	for (i = 0; err == IMSS_OK && i < count; i++)
		err = classify_object(tok, found[i], &f);
	if (err == IMSS_OK && f.n_priv != 1) {
		/* None, or several: let the precise search say which. */
		CK_OBJECT_HANDLE h;

		err = token_find_one(tok, text, CKO_PRIVATE_KEY, &h);
		if (err == IMSS_OK)
			err = ctx_fail(tok->ctx, IMSS_ERR_AMBIGUOUS_OBJECT,
			               _("'%s' matches more than one private key."), text);
	}
	if (err == IMSS_OK)
		err = key_build(tok, f.priv_handle, f.priv, N_KEY_ATTRS,
		                f.point.pValue ? &f.point : NULL, found_certificate_public(&f), key);
	for (j = 0; err == IMSS_OK && j < sk_X509_num(f.certs) && *cert == NULL; j++)
		if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(f.certs, j)), (*key)->pub) == 1 &&
		    X509_up_ref(sk_X509_value(f.certs, j)))
			*cert = sk_X509_value(f.certs, j);
out:
	if (f.n_priv > 0)
		attrs_free_values(f.priv, FOUND_PRIV_ATTRS);
	free(f.point.pValue);
	sk_X509_pop_free(f.certs, X509_free);
	p11_kit_uri_free(uri);
	return err;
}

/* Kind, size and URI from the public key, label and ID already set. */
imss_err
key_finish(imss_key *key)
{
	if (key->label == NULL)
		return IMSS_ERR_NOMEM;
	key->kind = EVP_PKEY_is_a(key->pub, "RSA") ? IMSS_KEY_RSA : IMSS_KEY_EC;
	key->bits = (unsigned)EVP_PKEY_get_bits(key->pub);
	key->uri = object_uri(key->tok, CKO_PRIVATE_KEY, key->id, key->id_len, key->label);
	return key->uri ? IMSS_OK : IMSS_ERR_NOMEM;
}

static imss_err
read_key(imss_token *tok, CK_OBJECT_HANDLE h, void *out)
{
	return key_from_handle(tok, h, out);
}

imss_err
imss_token_find_key(imss_token *tok, const char *uri, imss_key **out)
{
	*out = NULL;
	return token_find_read(tok, uri, CKO_PRIVATE_KEY, read_key, out);
}

void
imss_key_free(imss_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pub);
	free(key->label);
	free(key->uri);
	free(key);
}

imss_key_kind
imss_key_get_kind(const imss_key *key)
{
	return key->kind;
}
unsigned
imss_key_get_bits(const imss_key *key)
{
	return key->bits;
}
const char *
imss_key_get_uri(const imss_key *key)
{
	return key->uri;
}
const char *
imss_key_get_label(const imss_key *key)
{
	return key->label;
}
EVP_PKEY *
imss_key_get_public(const imss_key *key)
{
	return key->pub;
}
imss_token *
imss_key_get_token(const imss_key *key)
{
	return key->tok;
}
const char *
imss_key_last_mechanism(const imss_key *key)
{
	return key->last_mechanism;
}

const unsigned char *
imss_key_get_id(const imss_key *key, size_t *len)
{
	*len = key->id_len;
	return key->id;
}

imss_err
imss_key_get_protection(imss_key *key, int *sensitive, int *extractable, int *local,
                        int *never_extractable)
{
	CK_BBOOL v[4] = { 0 };
	CK_ATTRIBUTE a[] = {
		{ CKA_SENSITIVE, &v[0], 1 },
		{ CKA_EXTRACTABLE, &v[1], 1 },
		{ CKA_LOCAL, &v[2], 1 },
		{ CKA_NEVER_EXTRACTABLE, &v[3], 1 },
	};
	int *out[] = { sensitive, extractable, local, never_extractable };
	imss_err err;
	size_t i;

	err = token_get_fixed(key->tok, key->priv, a, 4);
	if (err != IMSS_OK)
		return err;
	for (i = 0; i < 4; i++)
		*out[i] = a[i].ulValueLen == 1 ? (v[i] ? 1 : 0) : -1;
	return IMSS_OK;
}
