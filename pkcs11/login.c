/*
 * Logging in.  One C_Login per PIN read and never a retry: a wrong PIN
 * costs the user a try on the token, so only the user may decide to spend
 * another.  The token's PIN flags are honoured before the PIN is asked.
 */
#include <stdio.h>
#include <string.h>

#include "token-internal.h"

#define PIN_MAX 256

static void
describe_pin_state(imss_token *tok)
{
	imss_token_info info;

	if (token_info_fill(tok->ctx, tok->f, tok->slot, &info) != IMSS_OK)
		return;
	/* The next login (a PIN typed again) is judged by the flags of now. */
	tok->info.pin_locked = info.pin_locked;
	tok->info.pin_final_try = info.pin_final_try;
	tok->info.pin_count_low = info.pin_count_low;
	if (info.pin_locked) {
		ctx_append_detail(tok->ctx,
		                  _("\nThe PIN is now locked: unlock it with the SO PIN or PUK, or ask your token administrator."));
		ctx_set_next(tok->ctx, IMSS_NEXT_UNLOCK_PIN);
	} else if (info.pin_final_try)
		ctx_append_detail(tok->ctx,
		                  _("\nOnly one try is left: the next wrong PIN locks the token."));
	else if (info.pin_count_low)
		ctx_append_detail(tok->ctx, _("\nThe token reports few tries left."));
	token_info_clear(&info);
}

/* Refuse early when the token's flags say a login would lock it. */
static imss_err
check_pin_flags(imss_token *tok, unsigned flags)
{
	const imss_token_info *ti = &tok->info;

	if (ti->pin_locked)
		return ctx_fail_next(tok->ctx, IMSS_ERR_PIN_LOCKED, IMSS_NEXT_UNLOCK_PIN,
		                     _("Token '%s': the user PIN is locked. Unlock it with the SO PIN or PUK, or ask your token administrator. Nothing was tried."),
		                     ti->label);
	if (ti->pin_final_try && !(flags & IMSS_LOGIN_FORCE))
		return ctx_fail_next(tok->ctx, IMSS_ERR_PIN_FINAL_TRY, IMSS_NEXT_FORCE,
		                     _("Token '%s' allows only one more PIN try: a wrong PIN would lock it. If you are sure of the PIN, run again forcing the login; otherwise reset the counter with the SO PIN first. Nothing was tried."),
		                     ti->label);
	if (ti->pin_count_low)
		ctx_log(tok->ctx, IMSS_LOG_WARN,
		        _("token '%s' reports that wrong PINs were entered: few tries are left"),
		        ti->label);
	return IMSS_OK;
}

/* C_Login with a PIN from src (or the PIN pad); exactly one call. */
static imss_err
login_once(imss_token *tok, CK_USER_TYPE user, imss_pin_source *src, const char *prompt)
{
	char pin[PIN_MAX];
	imss_err err;
	CK_RV rv;

	if (tok->info.pinpad) {
		ctx_log(tok->ctx, IMSS_LOG_INFO, _("enter the PIN on the PIN pad of token '%s'"),
		        tok->info.label);
		rv = tok->f->C_Login(tok->session, user, NULL, 0);
	} else {
		if (src == NULL)
			return ctx_fail(tok->ctx, IMSS_ERR_PIN_SOURCE,
			                _("The token needs a PIN and no PIN source was given."));
		imss_secrets_begin();
		err = imss_pin_source_read(src, prompt, pin, sizeof(pin));
		if (err != IMSS_OK) {
			imss_secrets_end();
			return ctx_fail_next(tok->ctx, err, IMSS_NEXT_PIN_SOURCE,
			                     _("No PIN could be read from '%s'. Check where the PIN comes from (tty, file:PATH, fd:N, env:NAME or cred:NAME)."),
			                     pin_source_describe(src));
		}
		rv = tok->f->C_Login(tok->session, user, (CK_UTF8CHAR *)pin, strlen(pin));
		imss_wipe(pin, sizeof(pin));
		imss_secrets_end();
	}
	if (rv == CKR_OK || (rv == CKR_USER_ALREADY_LOGGED_IN && user == CKU_USER))
		return IMSS_OK;
	err = token_fail(tok, "C_Login", rv);
	if (err == IMSS_ERR_PIN_INCORRECT || err == IMSS_ERR_PIN_LOCKED)
		describe_pin_state(tok);
	return err;
}

imss_err
imss_token_login(imss_token *tok, imss_pin_source *src, unsigned flags)
{
	char prompt[128];
	imss_err err;

	ctx_clear_detail(tok->ctx);
	tok->pin_source = src;
	if (tok->logged_in)
		return IMSS_OK;
	err = check_pin_flags(tok, flags);
	if (err != IMSS_OK)
		return err;
	snprintf(prompt, sizeof(prompt), _("PIN for token '%s': "), tok->info.label);
	err = login_once(tok, CKU_USER, src, prompt);
	if (err == IMSS_OK)
		tok->logged_in = 1;
	return err;
}

imss_err
token_context_login(imss_token *tok, const char *key_label)
{
	char prompt[160];

	snprintf(prompt, sizeof(prompt), _("PIN to sign with key '%s': "),
	         key_label ? key_label : "");
	return login_once(tok, CKU_CONTEXT_SPECIFIC, tok->pin_source, prompt);
}
