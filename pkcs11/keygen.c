/*
 * Key generation on the token.  The private key is made on the token,
 * kept there (token, private), sensitive, not extractable and usable for
 * signing only.  CKA_ID becomes the RFC 5280 key identifier of the public
 * key, set on both halves, unless the token refuses the change or another
 * object already has that ID; the key then keeps the unique random ID it
 * was generated with.  With keyspec.public_in_session the public key is
 * a session object (a token public key where the token refuses one): the
 * token keeps the private key, the certificate stored beside it the
 * public key.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "token-internal.h"

/* DER OIDs of the supported curves (ECParameters namedCurve). */
static const unsigned char oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const unsigned char oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };

imss_err
imss_keyspec_parse(const char *text, imss_keyspec *out)
{
	memset(out, 0, sizeof(*out));
	if (text == NULL || strcasecmp(text, "rsa:2048") == 0 || strcasecmp(text, "rsa") == 0) {
		out->kind = IMSS_KEY_RSA;
		out->bits = 2048;
	} else if (strcasecmp(text, "rsa:3072") == 0) {
		out->kind = IMSS_KEY_RSA;
		out->bits = 3072;
	} else if (strcasecmp(text, "rsa:4096") == 0) {
		out->kind = IMSS_KEY_RSA;
		out->bits = 4096;
	} else if (strcasecmp(text, "ec:prime256v1") == 0 || strcasecmp(text, "ec:P-256") == 0 ||
	           strcasecmp(text, "ec:secp256r1") == 0) {
		out->kind = IMSS_KEY_EC;
		out->bits = 256;
		out->curve = "prime256v1";
	} else if (strcasecmp(text, "ec:secp384r1") == 0 || strcasecmp(text, "ec:P-384") == 0) {
		out->kind = IMSS_KEY_EC;
		out->bits = 384;
		out->curve = "secp384r1";
	} else {
		return IMSS_ERR_INVALID_ARG;
	}
	return IMSS_OK;
}

void
imss_keygen_report_clear(imss_keygen_report *report)
{
	if (report == NULL)
		return;
	STR_FREE_EACH(report->uri, report->id_hex, report->refused, report->refused_reason);
	memset(report, 0, sizeof(*report));
}

/*
 * Templates, from the strictest down; the level is a mask of what is left
 * out.  Level 0 states every protection; RELAX_EXTRACTABLE drops
 * CKA_EXTRACTABLE, which some tokens refuse to be told; RELAX_USAGE drops
 * the "not for encryption/decryption/wrap/unwrap/derive" flags (tpm2-pkcs11
 * makes only keys that sign and decrypt); the last level drops both.
 * CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE and CKA_SIGN are never dropped,
 * and the protection is read back whatever the level.
 */
enum { RELAX_EXTRACTABLE = 1, RELAX_USAGE = 2 };
#define KEYGEN_LEVELS 4
static const char *const refused_at_level[KEYGEN_LEVELS] = {
	NULL,
	"CKA_EXTRACTABLE",
	"CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE, CKA_ENCRYPT, CKA_WRAP",
	"CKA_EXTRACTABLE, CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE, CKA_ENCRYPT, CKA_WRAP",
};

struct keygen_templates {
	CK_ATTRIBUTE pub[10];
	CK_ULONG npub;
	CK_ATTRIBUTE priv[12];
	CK_ULONG npriv;
	CK_ULONG modulus_bits;
};

static CK_BBOOL ck_true = CK_TRUE, ck_false = CK_FALSE;
static unsigned char rsa_f4[] = { 0x01, 0x00, 0x01 };

#define ADD(arr, n, t, v, l)                   \
	do {                                   \
		(arr)[n].type = (t);           \
		(arr)[n].pValue = (void *)(v); \
		(arr)[n].ulValueLen = (l);     \
		(n)++;                         \
	} while (0)

static void
templates_build(struct keygen_templates *t, const imss_keyspec *spec, const char *label,
                const unsigned char *id, size_t id_len, int level, int session_public)
{
	size_t llen = strlen(label);

	t->npub = t->npriv = 0;
	t->modulus_bits = spec->bits;
	/* A session public key is gone when the session closes: the token
	 * keeps the private key, and the certificate stored beside it later
	 * carries the public key. */
	ADD(t->pub, t->npub, CKA_TOKEN, session_public ? &ck_false : &ck_true, sizeof(CK_BBOOL));
	ADD(t->pub, t->npub, CKA_PRIVATE, &ck_false, sizeof(CK_BBOOL));
	ADD(t->pub, t->npub, CKA_VERIFY, &ck_true, sizeof(CK_BBOOL));
	if (!(level & RELAX_USAGE)) {
		ADD(t->pub, t->npub, CKA_ENCRYPT, &ck_false, sizeof(CK_BBOOL));
		ADD(t->pub, t->npub, CKA_WRAP, &ck_false, sizeof(CK_BBOOL));
	}
	ADD(t->pub, t->npub, CKA_LABEL, label, llen);
	ADD(t->pub, t->npub, CKA_ID, id, id_len);
	if (spec->kind == IMSS_KEY_RSA) {
		ADD(t->pub, t->npub, CKA_MODULUS_BITS, &t->modulus_bits, sizeof(CK_ULONG));
		ADD(t->pub, t->npub, CKA_PUBLIC_EXPONENT, rsa_f4, sizeof(rsa_f4));
	} else if (spec->bits == 256) {
		ADD(t->pub, t->npub, CKA_EC_PARAMS, oid_p256, sizeof(oid_p256));
	} else {
		ADD(t->pub, t->npub, CKA_EC_PARAMS, oid_p384, sizeof(oid_p384));
	}
	ADD(t->priv, t->npriv, CKA_TOKEN, &ck_true, sizeof(CK_BBOOL));
	ADD(t->priv, t->npriv, CKA_PRIVATE, &ck_true, sizeof(CK_BBOOL));
	ADD(t->priv, t->npriv, CKA_SENSITIVE, &ck_true, sizeof(CK_BBOOL));
	ADD(t->priv, t->npriv, CKA_SIGN, &ck_true, sizeof(CK_BBOOL));
	ADD(t->priv, t->npriv, CKA_LABEL, label, llen);
	ADD(t->priv, t->npriv, CKA_ID, id, id_len);
	if (!(level & RELAX_EXTRACTABLE))
		ADD(t->priv, t->npriv, CKA_EXTRACTABLE, &ck_false, sizeof(CK_BBOOL));
	if (!(level & RELAX_USAGE)) {
		ADD(t->priv, t->npriv, CKA_DECRYPT, spec->decrypt ? &ck_true : &ck_false,
		    sizeof(CK_BBOOL));
		ADD(t->priv, t->npriv, CKA_UNWRAP, &ck_false, sizeof(CK_BBOOL));
		ADD(t->priv, t->npriv, CKA_DERIVE, &ck_false, sizeof(CK_BBOOL));
	}
}

/*
 * Does rv say something about the token, the session, the login or the
 * key type rather than the template?  Then a relaxed template fails the
 * same way and the fallback stops.  Every other answer may be a refused
 * template: modules answer one with CKR_TEMPLATE_*, CKR_ATTRIBUTE_*,
 * CKR_GENERAL_ERROR (tpm2-pkcs11 1.9), CKR_FUNCTION_FAILED,
 * CKR_DEVICE_ERROR...
 */
static int
rv_ends_fallback(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
	case CKR_KEY_SIZE_RANGE:
	case CKR_CURVE_NOT_SUPPORTED:
	case CKR_DOMAIN_PARAMS_INVALID:
	case CKR_HOST_MEMORY:
	case CKR_DEVICE_MEMORY:
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_TOKEN_NOT_RECOGNIZED:
	case CKR_TOKEN_WRITE_PROTECTED:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
	case CKR_FUNCTION_CANCELED:
	case CKR_OPERATION_ACTIVE:
	case CKR_MECHANISM_INVALID:
	case CKR_FUNCTION_NOT_SUPPORTED:
		return 1;
	default:
		/* CKR_PIN_* (0xa0..0xa5), CKR_SESSION_* (0xb0..0xb8), CKR_USER_*
		 * (0x100..0x105) */
		return (rv >= CKR_PIN_INCORRECT && rv <= CKR_PIN_LOCKED + 1) ||
		       (rv >= CKR_SESSION_CLOSED && rv <= CKR_SESSION_READ_WRITE_SO_EXISTS) ||
		       (rv >= CKR_USER_ALREADY_LOGGED_IN && rv <= CKR_USER_TOO_MANY_TYPES);
	}
}

/* Is any object on the token labelled so?  A new pair's label must be its
 * own, so that it names that pair and nothing else. */
imss_err
token_label_in_use(imss_token *tok, const char *label, int *in_use)
{
	CK_ATTRIBUTE tmpl = { CKA_LABEL, (void *)label, strlen(label) };
	CK_OBJECT_HANDLE h;
	CK_ULONG count = 0;
	imss_err err;

	err = token_find(tok, &tmpl, 1, &h, 1, &count);
	*in_use = count > 0;
	return err;
}

/* The random ID the pair keeps when the token refuses the key identifier
 * must be its own: only the pair may carry it. */
static imss_err
check_random_id(imss_token *tok, const unsigned char *id, size_t len)
{
	CK_ATTRIBUTE tmpl = { CKA_ID, (void *)id, len };
	CK_OBJECT_HANDLE h[3];
	CK_ULONG count = 0;
	imss_err err;

	err = token_find(tok, &tmpl, 1, h, 3, &count);
	if (err == IMSS_OK && count != 2)
		err = ctx_fail(tok->ctx, IMSS_ERR_PKCS11,
		               _("Another object on the token has the new key's random ID."));
	return err;
}

/* What the template fallback went through: the level that worked (or
 * KEYGEN_LEVELS) and the token's answer to each template it refused. */
struct keygen_attempts {
	int level;
	char why[256];
};

static void
attempts_note(struct keygen_attempts *att, CK_RV rv)
{
	size_t used = strlen(att->why);

	snprintf(att->why + used, sizeof(att->why) - used, "%s%s", used ? ", " : "", ckr_name(rv));
}

static imss_err
all_templates_refused(imss_token *tok, const imss_keyspec *spec, const struct keygen_attempts *att)
{
	return ctx_fail(tok->ctx, IMSS_ERR_UNSUPPORTED,
	                _("Token '%s' refused every template for a %s %u key, the strictest and the relaxed ones (it answered %s). It cannot make a key this tool can use: try another key type, or another token."),
	                tok->info.label, spec->kind == IMSS_KEY_RSA ? "RSA" : "EC", spec->bits,
	                att->why);
}

/* Does rv name the template (an attribute or the set of them)?  Then the
 * token made nothing; any other failure may come after the work. */
static int
rv_is_template(CK_RV rv)
{
	return (rv >= CKR_ATTRIBUTE_READ_ONLY && rv <= CKR_ATTRIBUTE_VALUE_INVALID) ||
	       rv == CKR_TEMPLATE_INCOMPLETE || rv == CKR_TEMPLATE_INCONSISTENT;
}

/* One private and one public key among the n objects found: *priv, *pub. */
static imss_err
one_pair(imss_token *tok, const CK_OBJECT_HANDLE *h, CK_ULONG n, CK_OBJECT_HANDLE *pub,
         CK_OBJECT_HANDLE *priv, int *is_pair)
{
	CK_OBJECT_CLASS klass[2] = { 0, 0 };
	CK_ATTRIBUTE a = { CKA_CLASS, &klass[0], sizeof(klass[0]) };
	CK_ATTRIBUTE b = { CKA_CLASS, &klass[1], sizeof(klass[1]) };
	imss_err err;

	*is_pair = 0;
	if (n != 2)
		return IMSS_OK;
	err = token_get_fixed(tok, h[0], &a, 1);
	if (err == IMSS_OK)
		err = token_get_fixed(tok, h[1], &b, 1);
	if (err != IMSS_OK || klass[0] == klass[1] ||
	    (klass[0] != CKO_PRIVATE_KEY && klass[1] != CKO_PRIVATE_KEY) ||
	    (klass[0] != CKO_PUBLIC_KEY && klass[1] != CKO_PUBLIC_KEY))
		return err;
	*priv = klass[0] == CKO_PRIVATE_KEY ? h[0] : h[1];
	*pub = klass[0] == CKO_PRIVATE_KEY ? h[1] : h[0];
	*is_pair = 1;
	return IMSS_OK;
}

/*
 * The token answered rv, not about the template, to C_GenerateKeyPair:
 * some modules fail after making the pair.  Objects with this run's label
 * and random ID (160 bits, recorded before the call) are this run's: one
 * pair is taken (*made; its protection is checked like a new pair's and it
 * is destroyed if wrong); anything else found is destroyed and the keygen
 * stops.  A second pair is never made beside one.
 */
static imss_err
made_anyway(imss_token *tok, const char *label, const unsigned char *id, size_t id_len, CK_RV rv,
            CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv, int *made)
{
	CK_ATTRIBUTE tmpl[] = { { CKA_ID, (void *)id, id_len },
		                { CKA_LABEL, (void *)label, strlen(label) } };
	CK_OBJECT_HANDLE h[3];
	CK_ULONG n = 0, i;
	imss_err err;

	*made = 0;
	err = token_find(tok, tmpl, 2, h, 3, &n);
	if (err == IMSS_OK && n > 0)
		err = one_pair(tok, h, n, pub, priv, made);
	if (err != IMSS_OK || n == 0 || *made) {
		if (*made)
			ctx_log(tok->ctx, IMSS_LOG_WARN,
			        _("the token answered %s to C_GenerateKeyPair but made the pair; that pair is taken (no second one is made) and its protection checked"),
			        ckr_name(rv));
		return err;
	}
	for (i = 0; i < n; i++)
		tok->f->C_DestroyObject(tok->session, h[i]);
	return ctx_fail(tok->ctx, IMSS_ERR_PKCS11,
	                _("The token answered %s to C_GenerateKeyPair but left %lu objects labelled '%s' with the new key's ID, not one key pair; they were deleted. Try again, or use another token."),
	                ckr_name(rv), (unsigned long)n, label);
}

/* One C_GenerateKeyPair with the templates of level (session_public: the
 * public key a session object); *rv its answer.  An answer that is neither
 * a template error nor one that ends the fallback may come after the work:
 * a pair made anyway is taken (*made, made_anyway). */
static imss_err
try_templates(imss_token *tok, const imss_keyspec *spec, const char *label, const unsigned char *id,
              size_t id_len, int level, int session_public, CK_OBJECT_HANDLE *pub,
              CK_OBJECT_HANDLE *priv, CK_RV *rv, int *made)
{
	CK_MECHANISM mech = { spec->kind == IMSS_KEY_RSA ? CKM_RSA_PKCS_KEY_PAIR_GEN
		                                         : CKM_EC_KEY_PAIR_GEN,
		              NULL, 0 };
	struct keygen_templates t;

	*made = 0;
	templates_build(&t, spec, label, id, id_len, level, session_public);
	*rv = tok->f->C_GenerateKeyPair(tok->session, &mech, t.pub, t.npub, t.priv, t.npriv, pub,
	                                priv);
	if (*rv != CKR_OK) /* a module may have written them anyway */
		*pub = *priv = CK_INVALID_HANDLE;
	if (rv_ends_fallback(*rv))
		return IMSS_OK;
	ctx_log(tok->ctx, IMSS_LOG_DEBUG, _("C_GenerateKeyPair: %s at template level %d"),
	        ckr_name(*rv), level);
	if (rv_is_template(*rv))
		return IMSS_OK;
	return made_anyway(tok, label, id, id_len, *rv, pub, priv, made);
}

/*
 * The template fallback.  With spec->public_in_session each level is
 * tried with a session public key first and, refused, with a token public
 * key before any protection is relaxed: a token that refuses session
 * public keys gets a token one, and a token that refuses the level for
 * another reason tries the next level with a session public key again.
 */
static imss_err
generate(imss_token *tok, const imss_keyspec *spec, const char *label, const unsigned char *id,
         size_t id_len, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv, struct keygen_attempts *att)
{
	CK_RV rv = CKR_OK, session_rv;
	int made = 0, session = spec->public_in_session != 0;
	imss_err err = IMSS_OK;

	att->why[0] = '\0';
	for (att->level = 0; att->level < KEYGEN_LEVELS; att->level++) {
		err = try_templates(tok, spec, label, id, id_len, att->level, session, pub, priv,
		                    &rv, &made);
		if (err == IMSS_OK && !made && session && !rv_ends_fallback(rv)) {
			session_rv = rv;
			err = try_templates(tok, spec, label, id, id_len, att->level, 0, pub, priv,
			                    &rv, &made);
			if (err == IMSS_OK && (made || rv == CKR_OK))
				ctx_log(tok->ctx, IMSS_LOG_INFO,
				        _("the token refused a public key kept only for the session (%s); it is kept on the token beside the private key"),
				        ckr_name(session_rv));
		}
		if (err != IMSS_OK || made)
			return err;
		if (rv_ends_fallback(rv))
			break;
		attempts_note(att, rv);
	}
	if (rv == CKR_OK)
		return IMSS_OK;
	if (att->level == KEYGEN_LEVELS)
		return all_templates_refused(tok, spec, att);
	return token_fail(tok, "C_GenerateKeyPair", rv);
}

/*
 * The new pair as the token made it, in as few calls as possible: an RSA
 * private key carries its modulus and exponent, so one call reads its
 * public half and its protection together; an EC private key has no
 * point, which is read from the public key.
 */
struct new_key_state {
	unsigned char a[1024], b[256];
	CK_BBOOL local, never, sens, extr, always_auth;
	CK_ATTRIBUTE attrs[7];
	CK_ULONG n;
};

static imss_err
read_new_key(imss_token *tok, const imss_keyspec *spec, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv,
             struct new_key_state *st, EVP_PKEY **out)
{
	CK_ATTRIBUTE prot[] = {
		{ CKA_LOCAL, &st->local, 1 },
		{ CKA_NEVER_EXTRACTABLE, &st->never, 1 },
		{ CKA_SENSITIVE, &st->sens, 1 },
		{ CKA_EXTRACTABLE, &st->extr, 1 },
		{ CKA_ALWAYS_AUTHENTICATE, &st->always_auth, 1 },
		{ CKA_MODULUS, st->a, sizeof(st->a) },
		{ CKA_PUBLIC_EXPONENT, st->b, sizeof(st->b) },
	};
	CK_ATTRIBUTE point = { CKA_EC_POINT, st->a, sizeof(st->a) };
	int is_rsa = spec->kind == IMSS_KEY_RSA;
	imss_err err;

	memcpy(st->attrs, prot, sizeof(prot));
	st->always_auth = CK_FALSE;
	st->n = is_rsa ? 7 : 5;
	err = token_get_fixed(tok, priv, st->attrs, st->n);
	if (err == IMSS_OK && !is_rsa)
		err = token_get_fixed(tok, pub, &point, 1);
	if (err != IMSS_OK)
		return err;
	if (is_rsa && (st->attrs[5].ulValueLen == CK_UNAVAILABLE_INFORMATION ||
	               st->attrs[6].ulValueLen == CK_UNAVAILABLE_INFORMATION)) {
		/* This token keeps them on the public key only. */
		st->attrs[5].ulValueLen = sizeof(st->a);
		st->attrs[6].ulValueLen = sizeof(st->b);
		err = token_get_fixed(tok, pub, &st->attrs[5], 2);
		if (err != IMSS_OK)
			return err;
	}
	if ((is_rsa ? st->attrs[5].ulValueLen : point.ulValueLen) == CK_UNAVAILABLE_INFORMATION)
		return ctx_fail(tok->ctx, IMSS_ERR_PKCS11,
		                _("The token did not return the new public key."));
	if (is_rsa)
		*out = pubkey_from_rsa(st->a, st->attrs[5].ulValueLen, st->b,
		                       st->attrs[6].ulValueLen);
	else
		*out = pubkey_from_ec(spec->bits == 256 ? oid_p256 : oid_p384,
		                      spec->bits == 256 ? sizeof(oid_p256) : sizeof(oid_p384),
		                      st->a, point.ulValueLen);
	return *out ? IMSS_OK : ctx_fail_openssl(tok->ctx, _("the new public key cannot be read"));
}

/*
 * Give both halves the key identifier as CKA_ID.  Returns 1 when set, 0
 * when the token keeps the random ID (refused, or the ID is taken).
 */
static imss_err
set_key_identifier(imss_token *tok, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv,
                   const unsigned char *ski, const unsigned char *old_id, size_t old_len, int *set)
{
	CK_ATTRIBUTE idattr = { CKA_ID, (void *)ski, 20 };
	CK_ATTRIBUTE back = { CKA_ID, (void *)old_id, old_len };
	int in_use = 0;
	imss_err err;
	CK_RV rv;

	*set = 0;
	err = token_id_in_use(tok, ski, 20, &in_use);
	if (err != IMSS_OK)
		return err;
	if (in_use) {
		ctx_log(tok->ctx, IMSS_LOG_WARN,
		        _("another object already has this key's identifier as its ID; the key keeps a random ID"));
		return check_random_id(tok, old_id, old_len);
	}
	rv = tok->f->C_SetAttributeValue(tok->session, priv, &idattr, 1);
	if (rv == CKR_OK) {
		rv = tok->f->C_SetAttributeValue(tok->session, pub, &idattr, 1);
		if (rv != CKR_OK) /* keep both halves on the same ID */
			tok->f->C_SetAttributeValue(tok->session, priv, &back, 1);
	}
	if (rv == CKR_OK) {
		*set = 1;
		return IMSS_OK;
	}
	if (ckr_to_err(rv) == IMSS_ERR_SESSION_LOST || ckr_to_err(rv) == IMSS_ERR_TOKEN_REMOVED ||
	    ckr_to_err(rv) == IMSS_ERR_DEVICE)
		return token_fail(tok, "C_SetAttributeValue", rv);
	ctx_log(tok->ctx, IMSS_LOG_WARN,
	        _("the token does not let the key ID be changed (%s); the key keeps its random ID"),
	        ckr_name(rv));
	return check_random_id(tok, old_id, old_len);
}

/* The protection the token reports for the private key; insist on it. */
static imss_err
check_protection(imss_token *tok, CK_OBJECT_HANDLE priv, struct new_key_state *st,
                 imss_keygen_report *r)
{
	CK_ATTRIBUTE no = { CKA_EXTRACTABLE, &ck_false, sizeof(CK_BBOOL) };
	CK_ATTRIBUTE *a = st->attrs;
	imss_err err;

	if (a[3].ulValueLen == 1 && st->extr) {
		/* A token that defaults to extractable may still be told no. */
		if (tok->f->C_SetAttributeValue(tok->session, priv, &no, 1) == CKR_OK) {
			a[3].ulValueLen = 1;
			err = token_get_fixed(tok, priv, &a[3], 1);
			if (err != IMSS_OK)
				return err;
		}
	}
	r->local = a[0].ulValueLen == 1 ? st->local : -1;
	r->never_extractable = a[1].ulValueLen == 1 ? st->never : -1;
	r->sensitive = a[2].ulValueLen == 1 ? st->sens : -1;
	r->extractable = a[3].ulValueLen == 1 ? st->extr : -1;
	/* Sensitive, and not extractable: either said now or never been. */
	if (r->sensitive != 1 || r->extractable == 1 ||
	    (r->extractable != 0 && r->never_extractable != 1))
		return ctx_fail(tok->ctx, IMSS_ERR_KEY_PROTECTION,
		                _("The token made the key %s; it was destroyed. Use a token that keeps keys sensitive and non-extractable."),
		                r->sensitive != 1     ? _("readable (not sensitive)")
		                : r->extractable == 1 ? _("extractable")
		                                      : _("without saying it is not extractable"));
	return IMSS_OK;
}

static void
destroy_pair(imss_token *tok, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv)
{
	if (tok->session == CK_INVALID_HANDLE)
		return;
	tok->f->C_DestroyObject(tok->session, priv);
	tok->f->C_DestroyObject(tok->session, pub);
}

static imss_err
keygen_preflight(imss_token *tok, const imss_keyspec *spec, const char *label)
{
	if (label == NULL || label[0] == '\0' || spec == NULL ||
	    (spec->kind != IMSS_KEY_RSA && spec->kind != IMSS_KEY_EC))
		return ctx_fail(tok->ctx, IMSS_ERR_INVALID_ARG, _("A key needs a type and a label."));
	if (!tok->read_write)
		return ctx_fail(tok->ctx, IMSS_ERR_READ_ONLY, _("The token was opened read-only."));
	if (!tok->logged_in)
		return ctx_fail(tok->ctx, IMSS_ERR_NOT_LOGGED_IN,
		                _("Log in to the token before generating a key."));
	return IMSS_OK;
}

static imss_err
report_fill(imss_keygen_report *r, const imss_key *key, int id_is_ski,
            const struct keygen_attempts *att)
{
	const char *refused = refused_at_level[att->level];

	r->uri = strdup(key->uri);
	r->id_hex = hex_encode(key->id, key->id_len);
	r->id_is_key_identifier = id_is_ski;
	r->refused = refused ? strdup(refused) : NULL;
	r->refused_reason = refused ? strdup(att->why) : NULL;
	if (!r->uri || !r->id_hex || (refused && (!r->refused || !r->refused_reason)))
		return IMSS_ERR_NOMEM;
	return IMSS_OK;
}

imss_err
imss_token_generate_keypair(imss_token *tok, const imss_keyspec *spec, const char *label,
                            imss_key **out, imss_keygen_report *report)
{
	return token_generate_keypair_ex(tok, spec, label, 0, out, report);
}

imss_err
token_generate_keypair_ex(imss_token *tok, const imss_keyspec *spec, const char *label,
                          unsigned flags, imss_key **out, imss_keygen_report *report)
{
	unsigned char tmp_id[KEYGEN_TMP_ID_LEN];
	struct keygen_anchor anchor = { tmp_id, NULL, NULL };

	*out = NULL;
	if (RAND_bytes(tmp_id, sizeof(tmp_id)) != 1)
		return ctx_fail_openssl(tok->ctx, "RAND_bytes");
	return token_generate_anchored(tok, spec, label, flags, &anchor, out, report);
}

static imss_err
keygen_label_free(imss_token *tok, const char *label, unsigned flags)
{
	int in_use = 0;
	imss_err err = IMSS_OK;

	if (!(flags & KEYGEN_LABEL_IS_NEW))
		err = token_label_in_use(tok, label, &in_use);
	if (err == IMSS_OK && in_use)
		err = ctx_fail_next(tok->ctx, IMSS_ERR_LABEL_IN_USE, IMSS_NEXT_OTHER_LABEL,
		                    _("Label '%s' is already used on token '%s'; choose another label."),
		                    label, tok->info.label);
	return err;
}

/* The pair as made, checked, and (anchor->generated) recorded by the
 * caller, then given its key identifier as CKA_ID. */
static imss_err
keygen_finish(imss_token *tok, const imss_keyspec *spec, const struct keygen_anchor *anchor,
              unsigned flags, CK_OBJECT_HANDLE pub, imss_key *key, imss_keygen_report *r,
              int *ski_known, unsigned char ski[20])
{
	struct new_key_state st;
	int id_is_ski = 0;
	imss_err err;

	err = read_new_key(tok, spec, pub, key->priv, &st, &key->pub);
	if (err == IMSS_OK)
		err = check_protection(tok, key->priv, &st, r);
	if (err == IMSS_OK)
		err = pubkey_key_identifier(key->pub, ski);
	*ski_known = err == IMSS_OK;
	if (err == IMSS_OK && anchor->generated != NULL)
		err = anchor->generated(anchor->user, key->pub);
	/* KEYGEN_KEEP_ID: the random ID is already the pair's own (two
	 * C_SetAttributeValue and a search fewer). */
	if (err == IMSS_OK && !(flags & KEYGEN_KEEP_ID))
		err = set_key_identifier(tok, pub, key->priv, ski, anchor->id, KEYGEN_TMP_ID_LEN,
		                         &id_is_ski);
	if (err != IMSS_OK)
		return err;
	key->always_authenticate = st.attrs[4].ulValueLen == 1 && st.always_auth;
	memcpy(key->id, id_is_ski ? ski : anchor->id, KEYGEN_TMP_ID_LEN);
	key->id_len = KEYGEN_TMP_ID_LEN;
	r->id_is_key_identifier = id_is_ski;
	return IMSS_OK;
}

imss_err
token_generate_anchored(imss_token *tok, const imss_keyspec *spec, const char *label,
                        unsigned flags, const struct keygen_anchor *anchor, imss_key **out,
                        imss_keygen_report *report)
{
	imss_keygen_report r = { 0 };
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
	unsigned char ski[20];
	imss_key *key = NULL;
	struct keygen_attempts att = { 0 };
	int ski_known = 0;
	imss_err err;

	*out = NULL;
	ctx_clear_detail(tok->ctx);
	err = keygen_preflight(tok, spec, label);
	if (err == IMSS_OK)
		err = keygen_label_free(tok, label, flags);
	if (err != IMSS_OK)
		goto out;
	if (!tok->info.has_rng)
		ctx_log(tok->ctx, IMSS_LOG_WARN,
		        _("token '%s' reports no random number generator of its own"),
		        tok->info.label);
	ctx_log(tok->ctx, IMSS_LOG_INFO,
	        _("generating a %s %u key on token '%s' (a smart card may take a minute)"),
	        spec->kind == IMSS_KEY_RSA ? "RSA" : "EC", spec->bits, tok->info.label);
	err = generate(tok, spec, label, anchor->id, KEYGEN_TMP_ID_LEN, &pub, &priv, &att);
	if (err != IMSS_OK)
		goto out;
	if (att.level > 0)
		ctx_log(tok->ctx, IMSS_LOG_INFO,
		        _("the token refused the stricter key templates (%s); generated without %s, protection checked below"),
		        att.why, refused_at_level[att.level]);
	key = calloc(1, sizeof(*key));
	if (key == NULL) {
		err = IMSS_ERR_NOMEM;
		goto out;
	}
	key->tok = tok;
	key->priv = priv;
	err = keygen_finish(tok, spec, anchor, flags, pub, key, &r, &ski_known, ski);
	if (err != IMSS_OK)
		goto out;
	key->label = strdup(label);
	err = key_finish(key);
	if (err == IMSS_OK)
		err = report_fill(&r, key, r.id_is_key_identifier, &att);
out:
	if (err != IMSS_OK && priv != CK_INVALID_HANDLE) {
		char *hex = hex_encode(anchor->id, KEYGEN_TMP_ID_LEN);
		char *ski_hex = ski_known ? hex_encode(ski, sizeof(ski)) : NULL;

		destroy_pair(tok, pub, priv);
		if (tok->session == CK_INVALID_HANDLE)
			ctx_append_detail(tok->ctx,
			                  _("\nA key pair labelled '%s' with ID %s%s%s may be left on the token; delete it once the token is back."),
			                  label, hex ? hex : "?", ski_hex ? _(" or ") : "",
			                  ski_hex ? ski_hex : "");
		free(hex);
		free(ski_hex);
	}
	if (err != IMSS_OK) {
		imss_key_free(key);
		imss_keygen_report_clear(&r);
		return err;
	}
	if (report != NULL)
		*report = r;
	else
		imss_keygen_report_clear(&r);
	*out = key;
	return IMSS_OK;
}

/* The private and the public key labelled label, one of each (*n_priv: how
 * many private keys carry it, at most 2 counted), with their IDs. */
static imss_err
labelled_pair(imss_token *tok, const char *label, CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub,
              CK_ATTRIBUTE *priv_id, CK_ATTRIBUTE *pub_id, CK_ULONG *n_priv, CK_ULONG *n_pub)
{
	CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &klass, sizeof(klass) },
		                { CKA_LABEL, (void *)label, strlen(label) } };
	CK_OBJECT_HANDLE found[2];
	imss_err err;

	*n_pub = 0;
	err = token_find(tok, tmpl, 2, found, 2, n_priv);
	if (err != IMSS_OK || *n_priv != 1)
		return err;
	*priv = found[0];
	err = token_get_fixed(tok, *priv, priv_id, 1);
	klass = CKO_PUBLIC_KEY;
	if (err == IMSS_OK)
		err = token_find(tok, tmpl, 2, found, 2, n_pub);
	if (err == IMSS_OK && *n_pub == 1) {
		*pub = found[0];
		err = token_get_fixed(tok, *pub, pub_id, 1);
	}
	return err;
}

imss_err
token_rejoin_pair(imss_token *tok, const char *label, token_pair_check same_pair, void *user,
                  int *have_priv)
{
	unsigned char id[IMSS_ID_MAX], pub_id[IMSS_ID_MAX];
	CK_ATTRIBUTE a = { CKA_ID, id, sizeof(id) }, b = { CKA_ID, pub_id, sizeof(pub_id) };
	CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE, pub = CK_INVALID_HANDLE;
	EVP_PKEY *priv_pub = NULL, *pub_key = NULL;
	CK_ULONG n = 0, m = 0;
	int compared;
	imss_err err;
	CK_RV rv;

	err = labelled_pair(tok, label, &priv, &pub, &a, &b, &n, &m);
	*have_priv = n > 0;
	if (err != IMSS_OK || n != 1 || m != 1 || a.ulValueLen > sizeof(id) ||
	    (b.ulValueLen == a.ulValueLen && memcmp(id, pub_id, a.ulValueLen) == 0))
		return err;
	err = object_public_key(tok, pub, &pub_key);
	compared = err == IMSS_OK && object_public_key(tok, priv, &priv_pub) == IMSS_OK;
	ctx_clear_detail(tok->ctx);
	if (err == IMSS_OK)
		err = same_pair(user, pub_key, compared ? priv_pub : NULL, id, a.ulValueLen);
	EVP_PKEY_free(priv_pub);
	EVP_PKEY_free(pub_key);
	if (err != IMSS_OK)
		return err;
	ctx_log(tok->ctx, IMSS_LOG_INFO, _("the public key '%s' gets the ID of its private key"),
	        label);
	rv = tok->f->C_SetAttributeValue(tok->session, pub, &a, 1);
	return rv == CKR_OK ? IMSS_OK : token_fail(tok, "C_SetAttributeValue", rv);
}

/* Is the public half of the private key h unknown to the token (an EC
 * private key with neither a public key object nor a certificate on its
 * ID)? */
static imss_err
public_half_lost(imss_token *tok, CK_OBJECT_HANDLE h, int *lost)
{
	EVP_PKEY *pub = NULL;
	imss_err err = object_public_key(tok, h, &pub);

	*lost = err == IMSS_ERR_NO_OBJECT;
	EVP_PKEY_free(pub);
	if (*lost) {
		ctx_clear_detail(tok->ctx);
		err = IMSS_OK;
	}
	return err;
}

imss_err
token_drop_half_made(imss_token *tok, const char *label, const unsigned char *id, size_t id_len,
                     int *dropped)
{
	CK_ATTRIBUTE tmpl[] = { { CKA_ID, (void *)id, id_len },
		                { CKA_LABEL, (void *)label, strlen(label) } };
	CK_OBJECT_CLASS klass = 0;
	CK_BBOOL local = CK_FALSE;
	/* CKA_LOCAL said FALSE: imported, not the pair this run generated
	 * (docs/design.md, Invariants: the ownership tests before a delete). */
	CK_ATTRIBUTE fixed[] = { { CKA_CLASS, &klass, sizeof(klass) },
		                 { CKA_LOCAL, &local, sizeof(local) } };
	CK_OBJECT_HANDLE h[2];
	CK_ULONG n = 0;
	int lost = 0;
	imss_err err;
	CK_RV rv;

	*dropped = 0;
	err = token_find(tok, tmpl, 2, h, 2, &n);
	if (err == IMSS_OK && n == 1)
		err = token_get_fixed(tok, h[0], fixed, 2);
	if (err != IMSS_OK || n != 1 || klass != CKO_PRIVATE_KEY ||
	    (fixed[1].ulValueLen == sizeof(local) && local == CK_FALSE))
		return err;
	err = public_half_lost(tok, h[0], &lost);
	if (err != IMSS_OK || !lost)
		return err;
	rv = tok->f->C_DestroyObject(tok->session, h[0]);
	if (rv != CKR_OK)
		return token_fail(tok, "C_DestroyObject", rv);
	*dropped = 1;
	return IMSS_OK;
}
