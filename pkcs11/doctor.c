/*
 * doctor: a read-only preflight of a token.  Nothing is written and no
 * login is made; the verdict is the worst status found.  What the token
 * only lists (a mechanism, a flag) is reported as advertised, not tried:
 * doctor-try.c tries it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token-internal.h"

imss_err
doctor_check_add(imss_doctor_report *r, const char *name, imss_check_status status,
                 imss_check_result result, long ms, const char *fmt, ...)
{
	imss_check *grown;
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	grown = realloc(r->checks, (r->count + 1) * sizeof(*grown));
	if (grown == NULL)
		return IMSS_ERR_NOMEM;
	r->checks = grown;
	grown[r->count].name = strdup(name);
	grown[r->count].text = strdup(text);
	grown[r->count].status = status;
	grown[r->count].result = result;
	grown[r->count].ms = ms;
	r->count++;
	if (!grown[r->count - 1].name || !grown[r->count - 1].text)
		return IMSS_ERR_NOMEM;
	if (status > r->verdict)
		r->verdict = status;
	return IMSS_OK;
}

/* A check read from the token's answers (no time taken). */
#define check_add(r, name, status, result, ...) \
	doctor_check_add(r, name, status, result, -1, __VA_ARGS__)

static void
check_clear(imss_check *c)
{
	STR_FREE_EACH(c->name, c->text);
}

void
imss_doctor_report_clear(imss_doctor_report *r)
{
	if (r == NULL)
		return;
	ARRAY_FREE_EACH(r->checks, r->count, check_clear);
	memset(r, 0, sizeof(*r));
}

static imss_err
check_pin(imss_token *tok, imss_doctor_report *r)
{
	const imss_token_info *ti = &tok->info;
	/* The PIN's troubles, the worst first: the first that holds is said. */
	const struct {
		int holds;
		imss_check_status status;
		const char *text;
	} troubles[] = {
		{ !ti->user_pin_initialized, IMSS_CHECK_FAIL,
		  N_("the user PIN is not initialised; initialise it with the token's own tool") },
		{ ti->pin_locked, IMSS_CHECK_FAIL,
		  N_("the user PIN is locked; unlock it with the SO PIN or PUK") },
		{ ti->pin_final_try, IMSS_CHECK_WARN,
		  N_("one PIN try left: the next wrong PIN locks the token") },
		{ ti->pin_count_low, IMSS_CHECK_WARN, N_("wrong PINs were entered: few tries left") },
		{ ti->pin_to_be_changed, IMSS_CHECK_WARN,
		  N_("the token asks for the PIN to be changed") },
	};
	size_t i;

	for (i = 0; i < sizeof(troubles) / sizeof(troubles[0]); i++)
		if (troubles[i].holds)
			return check_add(r, "pin", troubles[i].status,
			                 troubles[i].status == IMSS_CHECK_FAIL ? IMSS_RESULT_FAILED
			                                                       : IMSS_RESULT_OK,
			                 "%s", _(troubles[i].text));
	return check_add(r, "pin", IMSS_CHECK_OK, IMSS_RESULT_OK, "%s",
	                 ti->pinpad ? _("PIN state good; the PIN is entered on the token's PIN pad")
	                            : _("PIN state good"));
}

/* Free private memory, when the token says (read, not tried). */
static imss_err
check_memory(const imss_token_info *ti, imss_doctor_report *r)
{
	if (ti->free_private_memory == CK_UNAVAILABLE_INFORMATION ||
	    ti->total_private_memory == CK_UNAVAILABLE_INFORMATION)
		return IMSS_OK;
	if (token_memory_short(ti))
		return check_add(r, "memory", IMSS_CHECK_FAIL, IMSS_RESULT_FAILED,
		                 _("the token reports %lu bytes of private memory free, too little for a new key; delete objects no longer needed"),
		                 ti->free_private_memory);
	return check_add(r, "memory", IMSS_CHECK_OK, IMSS_RESULT_OK,
	                 _("the token reports %lu of %lu bytes of private memory free"),
	                 ti->free_private_memory, ti->total_private_memory);
}

static imss_err
check_token(imss_token *tok, imss_doctor_report *r)
{
	const imss_token_info *ti = &tok->info;
	imss_err err;

	if (ti->write_protected)
		err = check_add(r, "write", IMSS_CHECK_FAIL, IMSS_RESULT_FAILED, "%s",
		                _("the token is write-protected: no key or certificate can be stored on it; use another token for the new key"));
	else
		err = check_add(r, "write", IMSS_CHECK_OK, IMSS_RESULT_ADVERTISED, "%s",
		                _("advertised, not tried: the token is not write-protected, so it should store keys and certificates"));
	if (err == IMSS_OK && ti->has_rng)
		err = check_add(r, "rng", IMSS_CHECK_OK, IMSS_RESULT_ADVERTISED, "%s",
		                _("advertised, not tried: the token reports a random number generator of its own"));
	else if (err == IMSS_OK)
		err = check_add(r, "rng", IMSS_CHECK_WARN, IMSS_RESULT_MISSING, "%s",
		                _("the token reports no random number generator of its own"));
	if (err == IMSS_OK)
		err = check_memory(ti, r);
	if (err == IMSS_OK)
		err = check_pin(tok, r);
	return err;
}

/* The token or its session is gone: nothing else can be asked of it. */
static int
token_gone(CK_RV rv)
{
	imss_err err = ckr_to_err(rv);

	return err == IMSS_ERR_TOKEN_REMOVED || err == IMSS_ERR_SESSION_LOST ||
	       err == IMSS_ERR_DEVICE;
}

/*
 * Does the token list generation of this key type at this size?  The
 * cached mechanism list when there is one, then C_GetMechanismInfo
 * (an error other than a token gone: not listed): one call when nothing
 * is cached.
 * Nothing is tried.
 */
imss_err
token_keygen_listed(imss_token *tok, const imss_keyspec *spec, int *listed)
{
	CK_MECHANISM_TYPE mech =
	        spec->kind == IMSS_KEY_EC ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN;
	CK_MECHANISM_INFO info;
	CK_RV rv;

	*listed = 0;
	if (tok->mechs != NULL && !token_has_mechanism(tok, mech))
		return IMSS_OK;
	if (tok->keygen_known && tok->keygen_mech == mech) {
		info = tok->keygen_info; /* asked already while this token is open */
		rv = CKR_OK;
	} else {
		rv = tok->f->C_GetMechanismInfo(tok->slot, mech, &info);
	}
	if (rv != CKR_OK && token_gone(rv))
		return token_fail(tok, "C_GetMechanismInfo", rv);
	if (rv != CKR_OK) { /* CKR_MECHANISM_INVALID, or a module's own word for it */
		ctx_log(tok->ctx, IMSS_LOG_DEBUG, "C_GetMechanismInfo: %s", ckr_name(rv));
		return IMSS_OK;
	}
	tok->keygen_mech = mech;
	tok->keygen_info = info;
	tok->keygen_known = 1;
	*listed = (info.flags & CKF_GENERATE_KEY_PAIR) && spec->bits >= info.ulMinKeySize &&
	          spec->bits <= info.ulMaxKeySize;
	return IMSS_OK;
}

/* The key types renew accepts, as --type names them. */
const char *const doctor_key_types[] = {
	"rsa:2048", "rsa:3072", "rsa:4096", "ec:prime256v1", "ec:secp384r1", NULL,
};

/* Does the token list generation of each key type?  Listed is not tried. */
static imss_err
check_keygen(imss_token *tok, imss_doctor_report *r, int *any)
{
	imss_err err = IMSS_OK;
	size_t i;

	*any = 0;
	for (i = 0; err == IMSS_OK && doctor_key_types[i] != NULL; i++) {
		imss_keyspec spec;
		char name[64];
		int listed = 0;

		err = imss_keyspec_parse(doctor_key_types[i], &spec);
		if (err == IMSS_OK)
			err = token_keygen_listed(tok, &spec, &listed);
		if (err != IMSS_OK)
			break;
		*any |= listed;
		snprintf(name, sizeof(name), "keygen:%s", doctor_key_types[i]);
		if (listed)
			err = check_add(r, name, IMSS_CHECK_OK, IMSS_RESULT_ADVERTISED,
			                _("advertised, not tried: the token lists %s key pair generation"),
			                doctor_key_types[i]);
		else
			err = check_add(r, name, IMSS_CHECK_WARN, IMSS_RESULT_MISSING,
			                _("%s keys cannot be generated on this token (not listed)"),
			                doctor_key_types[i]);
	}
	return err;
}

struct sign_probe {
	const char *name;
	const char *label;
	CK_MECHANISM_TYPE hash_and_sign;
	CK_MECHANISM_TYPE raw;
};

static const struct sign_probe signs[] = {
	{ "sign:rsa-pkcs1", "RSA PKCS#1 v1.5", CKM_SHA256_RSA_PKCS, CKM_RSA_PKCS },
	{ "sign:rsa-pss", "RSA-PSS", CKM_SHA256_RSA_PKCS_PSS, CKM_RSA_PKCS_PSS },
	{ "sign:ecdsa", "ECDSA", CKM_ECDSA_SHA256, CKM_ECDSA },
};

static imss_err
check_signing(imss_token *tok, imss_doctor_report *r)
{
	imss_err err = IMSS_OK;
	size_t i;

	for (i = 0; err == IMSS_OK && i < sizeof(signs) / sizeof(signs[0]); i++) {
		const struct sign_probe *s = &signs[i];

		if (token_has_mechanism(tok, s->hash_and_sign))
			err = check_add(r, s->name, IMSS_CHECK_OK, IMSS_RESULT_ADVERTISED,
			                _("advertised, not tried: %s, the token hashes and signs"),
			                s->label);
		else if (token_has_mechanism(tok, s->raw))
			err = check_add(r, s->name, IMSS_CHECK_OK, IMSS_RESULT_ADVERTISED,
			                _("advertised, not tried: %s, raw signing only; the tool hashes on the host"),
			                s->label);
		else
			err = check_add(r, s->name, IMSS_CHECK_WARN, IMSS_RESULT_MISSING,
			                _("%s: not supported by the token"), s->label);
	}
	return err;
}

imss_err
imss_token_doctor(imss_token *tok, imss_doctor_report *out)
{
	imss_doctor_report r = { 0 };
	int any_keygen = 0;
	imss_err err;

	memset(out, 0, sizeof(*out));
	ctx_clear_detail(tok->ctx);
	err = check_token(tok, &r);
	if (err == IMSS_OK)
		err = token_mechanisms(tok);
	if (err == IMSS_OK)
		err = check_keygen(tok, &r, &any_keygen);
	if (err == IMSS_OK && !any_keygen)
		err = check_add(&r, "keygen", IMSS_CHECK_FAIL, IMSS_RESULT_MISSING,
		                _("the token can generate none of the supported key types"));
	if (err == IMSS_OK)
		err = check_signing(tok, &r);
	if (err != IMSS_OK) {
		imss_doctor_report_clear(&r);
		return err;
	}
	*out = r;
	return IMSS_OK;
}
