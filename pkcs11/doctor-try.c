/*
 * doctor --try: what the read-only doctor can only read, tried.  On a
 * token opened read-write and logged in, a throwaway key pair of each type
 * and a throwaway certificate object are made under a random label (and
 * the certificate under a random ID) of their own, the objects found under
 * that label are checked to be exactly the handles made, and they are
 * deleted.  An object that is not the try's own is never deleted: the try
 * fails and says which label to look at.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "token-internal.h"

#define TRY_LABEL_PREFIX "imss-renew-doctor-"
#define TRY_ID_LEN 16

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* TRY_LABEL_PREFIX and 16 random hex digits: no object has it yet. */
static imss_err
random_label(imss_token *tok, char *label, size_t size)
{
	unsigned char bytes[8];
	char *hex;
	int in_use = 0;
	imss_err err;

	if (RAND_bytes(bytes, sizeof(bytes)) != 1)
		return ctx_fail_openssl(tok->ctx, "RAND_bytes");
	hex = hex_encode(bytes, sizeof(bytes));
	if (hex == NULL)
		return IMSS_ERR_NOMEM;
	snprintf(label, size, TRY_LABEL_PREFIX "%s", hex);
	free(hex);
	err = token_label_in_use(tok, label, &in_use);
	if (err == IMSS_OK && in_use)
		err = ctx_fail(tok->ctx, IMSS_ERR_LABEL_IN_USE,
		               _("An object on the token already has the random label '%s'; nothing was made."),
		               label);
	return err;
}

/* Is h one of the n handles? */
static int
handle_in(CK_OBJECT_HANDLE h, const CK_OBJECT_HANDLE *set, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (set[i] == h)
			return 1;
	return 0;
}

/*
 * The set of handles that carry label is exactly the set made
 * (made[0..n_made-1], in any order): each one made is found, each one
 * found was made, and none is listed twice.  Else fail without deleting
 * anything.
 */
static imss_err
check_own(imss_token *tok, const char *label, const CK_OBJECT_HANDLE *made, size_t n_made)
{
	CK_ATTRIBUTE tmpl = { CKA_LABEL, (void *)label, strlen(label) };
	CK_OBJECT_HANDLE found[4];
	CK_ULONG count = 0, i;
	int same = 1;
	imss_err err;

	err = token_find(tok, &tmpl, 1, found, 4, &count);
	if (err != IMSS_OK)
		return err;
	for (i = 0; i < count; i++)
		same = same && handle_in(found[i], made, n_made) && !handle_in(found[i], found, i);
	for (i = 0; i < n_made; i++)
		same = same && handle_in(made[i], found, count);
	if (count != n_made || !same)
		return ctx_fail(tok->ctx, IMSS_ERR_MISMATCH,
		                _("The objects labelled '%s' are not exactly the ones the try made (%lu found, %lu made); nothing was deleted. Look at them with the token's objects, logged in."),
		                label, (unsigned long)count, (unsigned long)n_made);
	return IMSS_OK;
}

/* Delete the try's own objects, and check none is left under its label. */
static imss_err
delete_own(imss_token *tok, const char *label, const CK_OBJECT_HANDLE *made, size_t n_made)
{
	CK_ATTRIBUTE tmpl = { CKA_LABEL, (void *)label, strlen(label) };
	CK_OBJECT_HANDLE left;
	CK_ULONG count = 0;
	imss_err err = IMSS_OK;
	size_t i;

	for (i = 0; err == IMSS_OK && i < n_made; i++) {
		CK_RV rv = tok->f->C_DestroyObject(tok->session, made[i]);

		if (rv != CKR_OK)
			err = token_fail(tok, "C_DestroyObject", rv);
	}
	if (err == IMSS_OK)
		err = token_find(tok, &tmpl, 1, &left, 1, &count);
	if (err == IMSS_OK && count != 0)
		err = ctx_fail(tok->ctx, IMSS_ERR_PKCS11,
		               _("An object labelled '%s' is still on the token after it was deleted."),
		               label);
	if (err != IMSS_OK)
		ctx_append_detail(tok->ctx,
		                  _(" Delete the objects labelled '%s' once the token works."),
		                  label);
	return err;
}

/* The public key object of the pair made: the other handle under label. */
static imss_err
pair_handles(imss_token *tok, const imss_key *key, const char *label, CK_OBJECT_HANDLE made[2])
{
	CK_OBJECT_CLASS klass = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &klass, sizeof(klass) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, (void *)key->id, key->id_len },
	};
	CK_ULONG count = 0;
	imss_err err;

	made[0] = key->priv;
	err = token_find(tok, tmpl, 3, &made[1], 1, &count);
	if (err == IMSS_OK && count != 1)
		err = ctx_fail(tok->ctx, IMSS_ERR_MISMATCH,
		               _("The public key of the pair labelled '%s' is not on the token; nothing was deleted."),
		               label);
	return err;
}

/* One key pair: made as a renewal makes it (protection checked), then
 * checked to be the try's own and deleted. */
static imss_err
try_keypair(imss_token *tok, const imss_keyspec *spec)
{
	CK_OBJECT_HANDLE made[2];
	char label[64];
	imss_key *key = NULL;
	imss_err err;

	err = random_label(tok, label, sizeof(label));
	if (err == IMSS_OK)
		err = token_generate_keypair_ex(tok, spec, label, KEYGEN_LABEL_IS_NEW, &key, NULL);
	if (err == IMSS_OK)
		err = pair_handles(tok, key, label, made);
	if (err == IMSS_OK)
		err = check_own(tok, label, made, 2);
	if (err == IMSS_OK)
		err = delete_own(tok, label, made, 2);
	imss_key_free(key);
	return err;
}

/* A self-signed certificate of a throwaway host key: only its storing is
 * tried, so any key does. */
static imss_err
throwaway_certificate(imss_ctx *ctx, X509 **out, unsigned char **der, int *len)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	int ok = pkey && x && name;

	*der = NULL;
	ok = ok && X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), 3600) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                                (const unsigned char *)"imss-renew doctor --try", -1, -1, 0) &&
	     X509_set_subject_name(x, name) && X509_set_issuer_name(x, name) &&
	     X509_set_pubkey(x, pkey) && X509_sign(x, pkey, EVP_sha256()) > 0;
	if (ok)
		ok = (*len = i2d_X509(x, der)) > 0;
	X509_NAME_free(name);
	EVP_PKEY_free(pkey);
	if (!ok) {
		X509_free(x);
		return ctx_fail_openssl(ctx, _("the throwaway certificate"));
	}
	*out = x;
	return IMSS_OK;
}

/* One certificate object: stored, read back, checked to be the try's own
 * and deleted. */
static imss_err
try_certificate(imss_token *tok)
{
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	unsigned char id[TRY_ID_LEN], *der = NULL;
	char label[64];
	X509 *x = NULL;
	int len = 0, in_use = 0;
	imss_err err;

	err = random_label(tok, label, sizeof(label));
	if (err == IMSS_OK && RAND_bytes(id, sizeof(id)) != 1)
		err = ctx_fail_openssl(tok->ctx, "RAND_bytes");
	if (err == IMSS_OK)
		err = token_id_in_use(tok, id, sizeof(id), &in_use);
	if (err == IMSS_OK && in_use)
		err = ctx_fail(tok->ctx, IMSS_ERR_LABEL_IN_USE,
		               _("An object on the token already has the random ID chosen; nothing was made."));
	if (err == IMSS_OK)
		err = throwaway_certificate(tok->ctx, &x, &der, &len);
	if (err == IMSS_OK)
		err = token_certificate_create(tok, id, sizeof(id), x, der, (size_t)len, label, &h);
	if (err == IMSS_OK)
		err = check_own(tok, label, &h, 1);
	if (err == IMSS_OK)
		err = token_certificate_read_back(tok, h, der, (size_t)len);
	if (h != CK_INVALID_HANDLE && (err == IMSS_OK || err == IMSS_ERR_VERIFY)) {
		imss_err gone = delete_own(tok, label, &h, 1);

		err = err != IMSS_OK ? err : gone;
	}
	OPENSSL_free(der);
	X509_free(x);
	return err;
}

/* The try's result into the report: its time, and the failure's words. */
static imss_err
try_report(imss_token *tok, imss_doctor_report *r, const char *name, const char *what,
           imss_err tried, long ms)
{
	if (tried == IMSS_ERR_NOMEM)
		return tried;
	if (tried == IMSS_OK)
		return doctor_check_add(r, name, IMSS_CHECK_OK, IMSS_RESULT_OK, ms,
		                        _("tried: %s made, checked to be the try's own and deleted"),
		                        what);
	return doctor_check_add(r, name, IMSS_CHECK_FAIL, IMSS_RESULT_FAILED, ms,
	                        _("tried, and it failed: %s could not be made and deleted: %s"), what,
	                        imss_ctx_detail(tok->ctx)[0] ? imss_ctx_detail(tok->ctx)
	                                                     : imss_strerror(tried));
}

static imss_err
try_one_type(imss_token *tok, imss_doctor_report *r, const imss_keyspec *spec, const char *text)
{
	char name[64], what[96];
	long t0 = now_ms();
	imss_err tried;

	ctx_clear_detail(tok->ctx);
	tried = try_keypair(tok, spec);
	snprintf(name, sizeof(name), "try:keygen:%s", text);
	snprintf(what, sizeof(what), _("a key pair of type %s"), text);
	return try_report(tok, r, name, what, tried, now_ms() - t0);
}

/* "rsa:2048" or "ec:prime256v1", as --type names it. */
static void
keyspec_text(const imss_keyspec *spec, char *buf, size_t size)
{
	if (spec->kind == IMSS_KEY_EC)
		snprintf(buf, size, "ec:%s", spec->bits == 256 ? "prime256v1" : "secp384r1");
	else
		snprintf(buf, size, "rsa:%u", spec->bits);
}

/* No types asked for: every type renew accepts that the token lists. */
static imss_err
try_listed_types(imss_token *tok, imss_doctor_report *r)
{
	imss_err err = IMSS_OK;
	size_t i;

	for (i = 0; err == IMSS_OK && doctor_key_types[i] != NULL; i++) {
		imss_keyspec spec;
		int listed = 0;

		err = imss_keyspec_parse(doctor_key_types[i], &spec);
		if (err == IMSS_OK)
			err = token_keygen_listed(tok, &spec, &listed);
		if (err == IMSS_OK && listed)
			err = try_one_type(tok, r, &spec, doctor_key_types[i]);
	}
	return err;
}

imss_err
imss_token_doctor_try(imss_token *tok, const imss_keyspec *types, size_t n_types,
                      imss_doctor_report *r)
{
	imss_err err = IMSS_OK, tried;
	size_t i;
	long t0;

	if (!tok->read_write || !tok->logged_in)
		return ctx_fail(tok->ctx, IMSS_ERR_NOT_LOGGED_IN,
		                _("The tries need the token opened read-write and logged in."));
	if (n_types == 0)
		err = try_listed_types(tok, r);
	for (i = 0; err == IMSS_OK && i < n_types; i++) {
		char text[32];

		keyspec_text(&types[i], text, sizeof(text));
		err = try_one_type(tok, r, &types[i], text);
	}
	if (err != IMSS_OK)
		return err;
	ctx_clear_detail(tok->ctx);
	t0 = now_ms();
	tried = try_certificate(tok);
	err = try_report(tok, r, "try:certificate", _("a certificate object"), tried, now_ms() - t0);
	ctx_clear_detail(tok->ctx);
	return err;
}
