/*
 * doctor: a read-only preflight of a token.  Nothing is written and no
 * login is made; the verdict is the worst status found.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token-internal.h"

static imss_err check_add(imss_doctor_report *r, const char *name, imss_check_status status,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static imss_err
check_add(imss_doctor_report *r, const char *name, imss_check_status status, const char *fmt, ...)
{
	imss_check *grown;
	char text[512];
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
	r->count++;
	if (!grown[r->count - 1].name || !grown[r->count - 1].text)
		return IMSS_ERR_NOMEM;
	if (status > r->verdict)
		r->verdict = status;
	return IMSS_OK;
}

void
imss_doctor_report_clear(imss_doctor_report *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->count; i++) {
		free(r->checks[i].name);
		free(r->checks[i].text);
	}
	free(r->checks);
	memset(r, 0, sizeof(*r));
}

static imss_err
check_pin(imss_token *tok, imss_doctor_report *r)
{
	const imss_token_info *ti = &tok->info;

	if (!ti->user_pin_initialized)
		return check_add(r, "pin", IMSS_CHECK_FAIL,
		                 _("the user PIN is not initialised; initialise it with the token's own tool"));
	if (ti->pin_locked)
		return check_add(r, "pin", IMSS_CHECK_FAIL,
		                 _("the user PIN is locked; unlock it with the SO PIN or PUK"));
	if (ti->pin_final_try)
		return check_add(r, "pin", IMSS_CHECK_WARN,
		                 _("one PIN try left: the next wrong PIN locks the token"));
	if (ti->pin_count_low)
		return check_add(r, "pin", IMSS_CHECK_WARN,
		                 _("wrong PINs were entered: few tries left"));
	if (ti->pin_to_be_changed)
		return check_add(r, "pin", IMSS_CHECK_WARN,
		                 _("the token asks for the PIN to be changed"));
	return check_add(r, "pin", IMSS_CHECK_OK,
	                 ti->pinpad ? _("PIN state good; the PIN is entered on the token's PIN pad")
	                            : _("PIN state good"));
}

static imss_err
check_token(imss_token *tok, imss_doctor_report *r)
{
	const imss_token_info *ti = &tok->info;
	imss_err err;

	err = check_add(r, "write", ti->write_protected ? IMSS_CHECK_FAIL : IMSS_CHECK_OK, "%s",
	                ti->write_protected
	                        ? _("the token is write-protected: no key or certificate can be stored")
	                        : _("keys and certificates can be stored (the token is not write-protected)"));
	if (err == IMSS_OK)
		err = check_add(r, "rng", ti->has_rng ? IMSS_CHECK_OK : IMSS_CHECK_WARN, "%s",
		                ti->has_rng
		                        ? _("the token has its own random number generator")
		                        : _("the token reports no random number generator of its own"));
	if (err == IMSS_OK)
		err = check_pin(tok, r);
	return err;
}

struct keytype_probe {
	const char *name;
	CK_MECHANISM_TYPE mech;
	unsigned bits;
};

static const struct keytype_probe keytypes[] = {
	{ "keygen:rsa:2048", CKM_RSA_PKCS_KEY_PAIR_GEN, 2048 },
	{ "keygen:rsa:3072", CKM_RSA_PKCS_KEY_PAIR_GEN, 3072 },
	{ "keygen:rsa:4096", CKM_RSA_PKCS_KEY_PAIR_GEN, 4096 },
	{ "keygen:ec:prime256v1", CKM_EC_KEY_PAIR_GEN, 256 },
	{ "keygen:ec:secp384r1", CKM_EC_KEY_PAIR_GEN, 384 },
};

/* Can the token generate each key type?  One C_GetMechanismInfo per
 * mechanism. */
static imss_err
check_keygen(imss_token *tok, imss_doctor_report *r, int *any)
{
	CK_MECHANISM_INFO rsa, ec;
	int have_rsa, have_ec;
	imss_err err = IMSS_OK;
	size_t i;

	have_rsa = token_has_mechanism(tok, CKM_RSA_PKCS_KEY_PAIR_GEN) &&
	           tok->f->C_GetMechanismInfo(tok->slot, CKM_RSA_PKCS_KEY_PAIR_GEN, &rsa) == CKR_OK;
	have_ec = token_has_mechanism(tok, CKM_EC_KEY_PAIR_GEN) &&
	          tok->f->C_GetMechanismInfo(tok->slot, CKM_EC_KEY_PAIR_GEN, &ec) == CKR_OK;
	*any = 0;
	for (i = 0; err == IMSS_OK && i < sizeof(keytypes) / sizeof(keytypes[0]); i++) {
		const struct keytype_probe *k = &keytypes[i];
		const CK_MECHANISM_INFO *mi = k->mech == CKM_EC_KEY_PAIR_GEN ? &ec : &rsa;
		int have = k->mech == CKM_EC_KEY_PAIR_GEN ? have_ec : have_rsa;
		int ok = have && (mi->flags & CKF_GENERATE_KEY_PAIR) &&
		         k->bits >= mi->ulMinKeySize && k->bits <= mi->ulMaxKeySize;

		*any |= ok;
		err = check_add(r, k->name, ok ? IMSS_CHECK_OK : IMSS_CHECK_WARN,
		                ok ? _("%s keys can be generated on the token")
		                   : _("%s keys cannot be generated on this token"),
		                k->name + 7);
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
			err = check_add(r, s->name, IMSS_CHECK_OK,
			                _("%s: the token hashes and signs"), s->label);
		else if (token_has_mechanism(tok, s->raw))
			err = check_add(r, s->name, IMSS_CHECK_OK,
			                _("%s: raw signing only; the tool hashes on the host"),
			                s->label);
		else
			err = check_add(r, s->name, IMSS_CHECK_WARN,
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
		err = check_add(&r, "keygen", IMSS_CHECK_FAIL,
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
