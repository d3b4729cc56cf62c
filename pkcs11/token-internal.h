/*
 * The token layer's private header: declarations shared by the files of
 * pkcs11/ and offered to the layers above it inside the library (the
 * credential operations and the renewal engine).  Nothing here is part of
 * the public API.  It includes the base (imss-renew/base.h) and nothing
 * from src/.
 */
#ifndef IMSS_PKCS11_INTERNAL_H
#define IMSS_PKCS11_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/provider.h>

#include "imss-renew/base.h"

#define IMSS_ID_MAX 64

/* A loaded module and how it came to be loaded. */
struct imss_module {
	CK_FUNCTION_LIST *funcs;
	char *path; /* NULL for registry modules */
	char *name; /* for messages */
	int from_registry;
};

struct imss_token {
	imss_ctx *ctx;
	CK_FUNCTION_LIST *f;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session;
	int read_write;
	int logged_in;
	imss_token_info info;
	CK_MECHANISM_TYPE *mechs; /* cached C_GetMechanismList, NULL until asked */
	CK_ULONG n_mechs;
	imss_pin_source *pin_source;   /* not owned: for context-specific logins */
	CK_MECHANISM_TYPE refused[16]; /* hash-and-sign mechanisms C_SignInit refused */
	size_t n_refused;
	/* The last key pair generation C_GetMechanismInfo answered for (a
	 * fleet's renewals on one token ask once). */
	CK_MECHANISM_TYPE keygen_mech;
	CK_MECHANISM_INFO keygen_info;
	int keygen_known;
	/* A key's public half the caller knows from elsewhere (a renewal's
	 * journal): its key keeps no public key object (token_know_public). */
	EVP_PKEY *known_pub;
	unsigned char known_id[IMSS_ID_MAX];
	size_t known_id_len;
	pthread_mutex_t use; /* one thread at a time on the session (imss_token_acquire) */
};

struct imss_key {
	imss_token *tok;
	CK_OBJECT_HANDLE priv;
	imss_key_kind kind;
	unsigned bits;
	unsigned char id[IMSS_ID_MAX];
	size_t id_len;
	char *label;
	char *uri;
	EVP_PKEY *pub;
	int always_authenticate;
	const char *last_mechanism;
	/* CKA_LOCAL read TRUE with the key's other attributes: the token
	 * generated it (the attribute is the token's own, read-only); 0 when
	 * FALSE, not read or not answered. */
	int local;
};

/* sign.c: RSA PKCS#1 v1.5 decryption with the key (C_Decrypt); *out is
 * freed with OPENSSL_clear_free(). */
imss_err token_key_decrypt(imss_key *key, const unsigned char *in, size_t inlen,
                           unsigned char **out, size_t *outlen);
/* sign.c: *proved when the EC private key priv signs a random digest that
 * pub verifies (its public half is not on the token). */
imss_err token_key_proves(imss_token *tok, CK_OBJECT_HANDLE priv, EVP_PKEY *pub, int *proved);

/* ckr.c: CK_RV in words. */
const char *ckr_name(CK_RV rv);
const char *ckr_message(CK_RV rv);
imss_next ckr_next(CK_RV rv);
imss_err ckr_to_err(CK_RV rv);

/*
 * Record a PKCS#11 failure in ctx->detail ("C_Sign: the token was removed
 * (CKR_DEVICE_REMOVED). Insert ...") and return the matching imss_err.
 */
imss_err ctx_fail_rv(imss_ctx *ctx, const char *function, CK_RV rv);

/* module.c: make sure the modules are loaded; for a URI with module-path=,
 * load and return that one. */
imss_err ctx_load_modules(imss_ctx *ctx);
imss_err ctx_module_for_uri(imss_ctx *ctx, P11KitUri *uri, struct imss_module **only);
const char *ctx_module_name(imss_ctx *ctx, CK_FUNCTION_LIST *f);

/* provider.c: the library context with the token key provider. */
imss_err ctx_libctx(imss_ctx *ctx, OSSL_LIB_CTX **out);
void ctx_libctx_free(imss_ctx *ctx);

/* token.c */
imss_err token_info_fill(imss_ctx *ctx, CK_FUNCTION_LIST *f, CK_SLOT_ID slot, imss_token_info *info);
void token_info_clear(imss_token_info *info);
imss_err token_parse_uri(imss_ctx *ctx, const char *text, P11KitUri **out);
imss_err token_mechanisms(imss_token *tok);
int token_has_mechanism(imss_token *tok, CK_MECHANISM_TYPE m);
/* Could this mechanism work?  Without a fetched mechanism list: yes,
 * unless C_SignInit refused it before (one call saved per run). */
int token_may_have_mechanism(imss_token *tok, CK_MECHANISM_TYPE m);
void token_mechanism_refused(imss_token *tok, CK_MECHANISM_TYPE m);
/* Turn a failure of a call on the session into an error; CKR_USER_NOT_LOGGED_IN
 * etc. keep their own words. */
imss_err token_fail(imss_token *tok, const char *function, CK_RV rv);

/* objects.c: attribute and search helpers. */
imss_err token_find(imss_token *tok, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *found,
                    CK_ULONG max, CK_ULONG *count);
/* Every handle matching tmpl (n_tmpl 0: every object); *out malloc'd. */
imss_err token_find_all(imss_token *tok, CK_ATTRIBUTE *tmpl, CK_ULONG n_tmpl,
                        CK_OBJECT_HANDLE **out, CK_ULONG *count);
/* Read attributes whose sizes are not known: allocates every pValue
 * (free with attrs_free_values); an attribute the object lacks gets
 * ulValueLen = CK_UNAVAILABLE_INFORMATION and pValue NULL. */
imss_err token_get_attrs(imss_token *tok, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *attrs, CK_ULONG n);
/* One C_GetAttributeValue into the caller's buffers. */
imss_err token_get_fixed(imss_token *tok, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *attrs, CK_ULONG n);
/* The one object of class klass ((CK_OBJECT_CLASS)-1: the URI's type=)
 * matching the URI's id= and object=. */
imss_err token_find_one(imss_token *tok, const char *uri, CK_OBJECT_CLASS klass,
                        CK_OBJECT_HANDLE *out);
/* What token_find_read() reads from the object it found into out. */
typedef imss_err (*token_object_reader)(imss_token *tok, CK_OBJECT_HANDLE h, void *out);
/* token_find_one() (the last error's detail cleared first), then read the
 * object into out (the public find-by-URI calls). */
imss_err token_find_read(imss_token *tok, const char *uri, CK_OBJECT_CLASS klass,
                         token_object_reader read, void *out);
void attrs_free_values(CK_ATTRIBUTE *attrs, CK_ULONG n);
CK_ATTRIBUTE *attrs_find(CK_ATTRIBUTE *attrs, CK_ULONG n, CK_ATTRIBUTE_TYPE t);
int attr_bool(const CK_ATTRIBUTE *a); /* 1, 0, or -1 when unavailable */
/* An object's URI: the token's URI attributes plus id, object, type. */
char *object_uri(imss_token *tok, CK_OBJECT_CLASS klass, const unsigned char *id, size_t id_len,
                 const char *label);
/* Is any object on the token carrying this CKA_ID? */
imss_err token_id_in_use(imss_token *tok, const unsigned char *id, size_t len, int *in_use);

/* key.c: build the public EVP_PKEY from token attributes. */
EVP_PKEY *pubkey_from_rsa(const unsigned char *n, size_t nlen, const unsigned char *e, size_t elen);
EVP_PKEY *pubkey_from_ec(const unsigned char *params, size_t plen, const unsigned char *point,
                         size_t ptlen);
unsigned rsa_modulus_bits(const unsigned char *n, size_t len);
unsigned ec_params_bits(const unsigned char *params, size_t len);
/* Public key of an object: key objects from their attributes (an EC
 * private key through its public key or certificate), certificates from
 * their value. */
imss_err object_public_key(imss_token *tok, CK_OBJECT_HANDLE h, EVP_PKEY **out);
/* RFC 5280 method 1 key identifier: SHA-1 of the subjectPublicKey bits. */
imss_err pubkey_key_identifier(const EVP_PKEY *pub, unsigned char out[20]);
/* Load the imss_key for a private key object (reads its public half). */
/* The private key uri names and the certificate with its public key
 * (*cert NULL when there is none), from one search. */
imss_err key_with_certificate(imss_token *tok, const char *uri, imss_key **key, X509 **cert);
/* Kind, size and URI of a key whose pub, id and label are set. */
imss_err key_finish(imss_key *key);
imss_err key_from_handle(imss_token *tok, CK_OBJECT_HANDLE priv, imss_key **out);
/* The same, for an EC private key whose public half the caller proved
 * (pub: used when the key does not carry its point). */
imss_err key_from_handle_with(imss_token *tok, CK_OBJECT_HANDLE priv, EVP_PKEY *pub, imss_key **out);
/* The public half of the private key with CKA_ID id, known to the caller
 * (a renewal's journal recorded it): an EC private key carries no point,
 * and a key generated with its public key in the session keeps no public
 * key object, so key lookups take it from here (one key at a time; NULL
 * forgets it). */
void token_know_public(imss_token *tok, const unsigned char *id, size_t id_len, EVP_PKEY *pub);

/* keygen.c: imss_token_generate_keypair() for a caller that vouches
 * (not exported). */
/* The caller vouches that no object on the token has the label (one made
 * unique by construction): the search for it is skipped. */
#define KEYGEN_LABEL_IS_NEW 1u
/* The pair keeps the random ID it was generated with (unique by
 * construction: 160 random bits, recorded by the caller) instead of taking
 * the key identifier: no search and no C_SetAttributeValue (the renewal's
 * call budget). */
#define KEYGEN_KEEP_ID 2u
imss_err token_generate_keypair_ex(imss_token *tok, const imss_keyspec *spec, const char *label,
                                   unsigned flags, imss_key **out, imss_keygen_report *report);

/* certs.c: imss_token_store_certificate() for a caller that vouches
 * (not exported). */
/* The caller knows the certificate is not on the token (a journal says no
 * store was ever begun): the search for a copy is skipped. */
#define TOKEN_STORE_NEW 1u
/* Refuse when the key already has another certificate (the engine's store:
 * a renewal's key keeps the one certificate it was issued). */
#define TOKEN_STORE_ONE_PER_KEY 2u
imss_err token_store_certificate_ex(imss_token *tok, const imss_key *key, const unsigned char *der,
                                    size_t len, const char *label, unsigned flags, char **uri_out);

/* keygen.c: the renewal engine's key generation.  The pair is generated
 * with the caller's random CKA_ID (KEYGEN_TMP_ID_LEN bytes, recorded by
 * the caller beforehand, so that a pair cut short is found by it);
 * generated, when set, is called with the new public key once the pair is
 * made and its protection checked, before the ID is changed to the key
 * identifier (a failure there destroys the pair). */
#define KEYGEN_TMP_ID_LEN 20
struct keygen_anchor {
	const unsigned char *id;
	imss_err (*generated)(void *user, EVP_PKEY *pub);
	void *user;
};
/* keygen.c: the one object carrying label and id (a pair's random ID,
 * recorded before C_GenerateKeyPair) when it is a private key whose public
 * half the token cannot tell (an EC key generated with a session public
 * key, its run stopped before the request was saved): destroyed
 * (*dropped).  A key the token says it did not generate (CKA_LOCAL
 * false) is never this run's: kept. */
imss_err token_drop_half_made(imss_token *tok, const char *label, const unsigned char *id,
                              size_t id_len, int *dropped);
imss_err token_generate_anchored(imss_token *tok, const imss_keyspec *spec, const char *label,
                                 unsigned flags, const struct keygen_anchor *anchor, imss_key **out,
                                 imss_keygen_report *report);
/*
 * keygen.c: a keygen cut short between its two C_SetAttributeValue calls
 * leaves the pair on two IDs: the private key on the key identifier, the
 * public key still on the random one.  When one private key and one public
 * key carry label on different IDs and same_pair accepts them (pub: the
 * public key object's key; priv_pub: the private key's public half, NULL
 * when the token does not show it; priv_id: the private key's ID), the
 * public key gets the private key's ID.  *have_priv: a private key has the
 * label.
 */
typedef imss_err (*token_pair_check)(void *user, EVP_PKEY *pub, EVP_PKEY *priv_pub,
                                     const unsigned char *priv_id, size_t priv_id_len);
imss_err token_rejoin_pair(imss_token *tok, const char *label, token_pair_check same_pair,
                           void *user, int *have_priv);
/* Is any object on the token (visible to the session) labelled so? */
imss_err token_label_in_use(imss_token *tok, const char *label, int *in_use);

/* pin.c: for messages, which source a PIN came from. */
const char *pin_source_describe(const imss_pin_source *src);

/* certs.c: give every object with this CKA_ID a new label. */
imss_err token_relabel_id(imss_token *tok, const unsigned char *id, size_t id_len,
                          const char *label, unsigned *count);

/* certs.c: is a certificate on the token for this public key, or does
 * one carry this CKA_ID?  (A key with a certificate beside it is somebody's
 * credential.) */
imss_err token_certificate_beside(imss_token *tok, const unsigned char *id, size_t id_len,
                                  const EVP_PKEY *pub, int *beside);

/* certs.c: a certificate object with this label and ID (no check of a
 * key beside it), and the check that CKA_VALUE reads back as written.  A
 * token that refuses the object gets a message saying what it cannot do
 * and what still works. */
imss_err token_certificate_create(imss_token *tok, const unsigned char *id, size_t id_len, X509 *x,
                                  const unsigned char *der, size_t len, const char *label,
                                  CK_OBJECT_HANDLE *h);
imss_err token_certificate_read_back(imss_token *tok, CK_OBJECT_HANDLE h, const unsigned char *der,
                                     size_t len);

/* doctor.c: one check into a report (ms -1: not timed). */
imss_err doctor_check_add(imss_doctor_report *r, const char *name, imss_check_status status,
                          imss_check_result result, long ms, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));
/* The key types renew accepts, as --type names them; NULL-terminated. */
extern const char *const doctor_key_types[];
/* Does the token list generation of this key type at this size (*listed;
 * the cached mechanism list, then C_GetMechanismInfo: nothing tried)?  An
 * error only when the token fails (removed, ...). */
imss_err token_keygen_listed(imss_token *tok, const imss_keyspec *spec, int *listed);

/* preflight.c: what the renewal can check on the token before the service
 * is contacted, without side effects (see token_preflight's comment).
 * current: the renewal's current key when it is on a token (else NULL):
 * made on tok as spec asks, it stands for C_GetMechanismInfo. */
#define PREFLIGHT_SKIP_KEYGEN 1u /* the renewal does not generate its key */
imss_err token_preflight(imss_token *tok, const imss_keyspec *spec, const imss_key *current,
                         unsigned flags);
/* Does the token say it has too little private memory free for a new key
 * (0 when it does not say)? */
int token_memory_short(const imss_token_info *ti);

/* login.c: the context-specific login of CKA_ALWAYS_AUTHENTICATE keys. */
imss_err token_context_login(imss_token *tok, const char *key_label);

#endif
