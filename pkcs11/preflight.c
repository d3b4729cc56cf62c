/*
 * The renewal's preflight on its token: what can be known without side
 * effects before the service is contacted.  Only reads: C_GetTokenInfo,
 * C_GetMechanismList and C_GetMechanismInfo.
 */
#include <stdio.h>

#include "token-internal.h"

/* Below this much free private memory (when the token says) no key pair
 * and certificate fit: a 4096-bit RSA pair takes about 2 KiB on a card. */
#define PREFLIGHT_MIN_FREE_PRIVATE 2048

static const char *
keyspec_words(const imss_keyspec *spec, char *buf, size_t size)
{
	if (spec->kind == IMSS_KEY_EC)
		snprintf(buf, size, "EC %s", spec->bits == 256 ? "prime256v1" : "secp384r1");
	else
		snprintf(buf, size, "RSA %u", spec->bits);
	return buf;
}

/* The token's flags and memory as it reports them now. */
static imss_err
preflight_flags(imss_token *tok)
{
	const char *label = tok->info.label;
	CK_TOKEN_INFO ti;
	CK_RV rv = tok->f->C_GetTokenInfo(tok->slot, &ti);

	if (rv != CKR_OK)
		return ctx_fail_rv(tok->ctx, "C_GetTokenInfo", rv);
	if (ti.flags & CKF_WRITE_PROTECTED)
		return ctx_fail(tok->ctx, IMSS_ERR_READ_ONLY,
		                _("Token '%s' is write-protected: the new key and certificate cannot be stored on it. Nothing was sent to the service. Use another token for the new key."),
		                label);
	if (ti.flags & CKF_USER_PIN_LOCKED)
		return ctx_fail_next(tok->ctx, IMSS_ERR_PIN_LOCKED, IMSS_NEXT_UNLOCK_PIN,
		                     _("The user PIN of token '%s' is locked. Nothing was sent to the service. Unlock it with the SO PIN (or PUK) using the token's own tool, then run again."),
		                     label);
	if (ti.ulFreePrivateMemory != CK_UNAVAILABLE_INFORMATION &&
	    ti.ulTotalPrivateMemory != CK_UNAVAILABLE_INFORMATION && ti.ulTotalPrivateMemory != 0 &&
	    ti.ulFreePrivateMemory < PREFLIGHT_MIN_FREE_PRIVATE)
		return ctx_fail_next(tok->ctx, IMSS_ERR_DEVICE, IMSS_NEXT_FREE_TOKEN,
		                     _("Token '%s' reports %lu bytes of private memory free, too little for a new key. Nothing was sent to the service. Delete objects no longer needed, or use another token."),
		                     label, (unsigned long)ti.ulFreePrivateMemory);
	return IMSS_OK;
}

/*
 * Before the service is contacted: the token is still there and not
 * write-protected, its user PIN is not locked, it has room if it says how
 * much, and (unless PREFLIGHT_SKIP_KEYGEN) it lists the generation of the
 * key type at its size.  Fails saying what to use instead.
 */
imss_err
token_preflight(imss_token *tok, const imss_keyspec *spec, unsigned flags)
{
	char words[32];
	imss_err err;

	ctx_clear_detail(tok->ctx);
	err = preflight_flags(tok);
	if (err != IMSS_OK || (flags & PREFLIGHT_SKIP_KEYGEN))
		return err;
	if (!token_keygen_advertised(tok, spec))
		return ctx_fail_next(tok->ctx, IMSS_ERR_UNSUPPORTED, IMSS_NEXT_OTHER_KEY_TYPE,
		                     _("Token '%s' does not list %s key pair generation. Nothing was sent to the service. Choose a key type the token lists (see its doctor report), or use another token."),
		                     tok->info.label, keyspec_words(spec, words, sizeof(words)));
	return IMSS_OK;
}
