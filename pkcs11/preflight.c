/*
 * The renewal's preflight on its token: what can be known without side
 * effects before the service is contacted: the token's information read
 * when it was opened, and one C_GetMechanismInfo unless the current key
 * shows the token makes such keys (each call is a USB round trip on a
 * card: see the call budget in docs/design.md).
 */
#include <stdio.h>
#include <string.h>

#include "token-internal.h"

/* Below this much free private memory no key pair and certificate fit: a
 * 4096-bit RSA pair takes about 2 KiB on a card. */
#define MIN_FREE_PRIVATE 2048

/* Does the token say it has less private memory free than a new key
 * needs?  No when it does not say. */
int
token_memory_short(const imss_token_info *ti)
{
	return ti->free_private_memory != CK_UNAVAILABLE_INFORMATION &&
	       ti->total_private_memory != CK_UNAVAILABLE_INFORMATION &&
	       ti->total_private_memory != 0 && ti->free_private_memory < MIN_FREE_PRIVATE;
}

static const char *
keyspec_words(const imss_keyspec *spec, char *buf, size_t size)
{
	if (spec->kind == IMSS_KEY_EC)
		snprintf(buf, size, "EC %s", spec->bits == 256 ? "prime256v1" : "secp384r1");
	else
		snprintf(buf, size, "RSA %u", spec->bits);
	return buf;
}

/* The token's flags and memory as read when it was opened (this run, a
 * moment ago, before the login): no call. */
static imss_err
preflight_flags(imss_token *tok)
{
	const imss_token_info *ti = &tok->info;

	if (ti->write_protected)
		return ctx_fail(tok->ctx, IMSS_ERR_READ_ONLY,
		                _("Token '%s' is write-protected: the new key and certificate cannot be stored on it. Nothing was sent to the service. Use another token for the new key."),
		                ti->label);
	if (ti->pin_locked)
		return ctx_fail_next(tok->ctx, IMSS_ERR_PIN_LOCKED, IMSS_NEXT_UNLOCK_PIN,
		                     _("The user PIN of token '%s' is locked. Nothing was sent to the service. Unlock it with the SO PIN (or PUK) using the token's own tool, then run again."),
		                     ti->label);
	if (token_memory_short(ti))
		return ctx_fail_next(tok->ctx, IMSS_ERR_DEVICE, IMSS_NEXT_FREE_TOKEN,
		                     _("Token '%s' reports %lu bytes of private memory free, too little for a new key. Nothing was sent to the service. Delete objects no longer needed, or use another token."),
		                     ti->label, ti->free_private_memory);
	return IMSS_OK;
}

/* One token seen through two handles?  The same module, slot, serial
 * and label. */
static int
same_token(const imss_token *a, const imss_token *b)
{
	return a == b || (a->f == b->f && a->slot == b->slot && a->info.serial != NULL &&
	                  b->info.serial != NULL && strcmp(a->info.serial, b->info.serial) == 0 &&
	                  a->info.label != NULL && b->info.label != NULL &&
	                  strcmp(a->info.label, b->info.label) == 0);
}

/*
 * Has tok shown that it generates spec's key pairs?  Yes when the current
 * key is on it, was generated there (CKA_LOCAL TRUE: set by the token
 * alone, read-only; an imported key has FALSE) and is of the same kind
 * and size: RSA of the same modulus bits, EC on the same curve.  Its
 * attributes were read with it: no call.
 */
static int
keygen_shown(const imss_token *tok, const imss_key *current, const imss_keyspec *spec)
{
	char curve[64];

	if (current == NULL || !current->local || !same_token(current->tok, tok) ||
	    current->kind != spec->kind || current->bits != spec->bits)
		return 0;
	if (spec->kind != IMSS_KEY_EC)
		return 1;
	return spec->curve != NULL &&
	       EVP_PKEY_get_group_name(current->pub, curve, sizeof(curve), NULL) == 1 &&
	       strcmp(curve, spec->curve) == 0;
}

/*
 * Before the service is contacted: the token is not write-protected, its
 * user PIN is not locked, it has room if it says how much, and (unless
 * PREFLIGHT_SKIP_KEYGEN) it generates the key type at its size: shown by
 * the current key made on it (keygen_shown), else listed by one
 * C_GetMechanismInfo, which also finds a token pulled out.  Fails saying
 * what to use instead.
 */
imss_err
token_preflight(imss_token *tok, const imss_keyspec *spec, const imss_key *current, unsigned flags)
{
	char words[32];
	int listed = 0;
	imss_err err;

	ctx_clear_detail(tok->ctx);
	err = preflight_flags(tok);
	if (err != IMSS_OK || (flags & PREFLIGHT_SKIP_KEYGEN))
		return err;
	if (keygen_shown(tok, current, spec)) {
		ctx_log(tok->ctx, IMSS_LOG_DEBUG,
		        _("preflight: the current key was generated on token '%s' as %s: its key pair generation is not asked"),
		        tok->info.label, keyspec_words(spec, words, sizeof(words)));
		return IMSS_OK;
	}
	err = token_keygen_listed(tok, spec, &listed);
	if (err == IMSS_OK && !listed)
		err = ctx_fail_next(tok->ctx, IMSS_ERR_UNSUPPORTED, IMSS_NEXT_OTHER_KEY_TYPE,
		                    _("Token '%s' does not list %s key pair generation. Nothing was sent to the service. Choose a key type the token lists (see its doctor report), or use another token."),
		                    tok->info.label, keyspec_words(spec, words, sizeof(words)));
	return err;
}
