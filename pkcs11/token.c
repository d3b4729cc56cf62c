/*
 * Tokens: listing, selection by RFC 7512 URI (p11-kit's parser), sessions,
 * and the mechanism list.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "token-internal.h"

/* A blank-padded CK_UTF8CHAR field as a C string. */
static char *
padded_dup(const unsigned char *field, size_t size)
{
	char *s;

	while (size > 0 && (field[size - 1] == ' ' || field[size - 1] == '\0'))
		size--;
	s = malloc(size + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, field, size);
	s[size] = '\0';
	return s;
}

void
token_info_clear(imss_token_info *info)
{
	STR_FREE_EACH(info->uri, info->label, info->manufacturer, info->model, info->serial,
	              info->slot_description, info->module_name, info->identity);
	memset(info, 0, sizeof(*info));
}

void
imss_token_info_free(imss_token_info *infos, size_t count)
{
	ARRAY_FREE_EACH(infos, count, token_info_clear);
}

static char *
token_uri_format(const CK_TOKEN_INFO *ti)
{
	P11KitUri *uri = p11_kit_uri_new();
	char *text = NULL;

	if (uri == NULL)
		return NULL;
	memcpy(p11_kit_uri_get_token_info(uri), ti, sizeof(*ti));
	if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_TOKEN, &text) != P11_KIT_URI_OK)
		text = NULL;
	p11_kit_uri_free(uri);
	return text;
}

/* Does the serial name this token alone?  Not when empty or one character
 * repeated: tpm2-pkcs11 gives every token 0000000000000000. */
static int
serial_looks_unique(const char *serial)
{
	size_t i;

	for (i = 1; serial[0] != '\0' && serial[i] != '\0'; i++)
		if (serial[i] != serial[0])
			return 1;
	return 0;
}

/*
 * The name per-token state (journal, lock) goes by (docs/design.md,
 * "Per-token state"): the serial when it looks unique, else "id-" and 16
 * hex digits of SHA-256 over manufacturer, model, serial and label, each
 * ended by a NUL.
 */
static char *
token_identity(const imss_token_info *info)
{
	const char *const parts[] = { info->manufacturer, info->model, info->serial, info->label };
	unsigned char md[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *c;
	char *hex, *out = NULL;
	size_t i;
	int ok;

	if (serial_looks_unique(info->serial))
		return strdup(info->serial);
	if ((c = EVP_MD_CTX_new()) == NULL)
		return NULL;
	ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1;
	for (i = 0; ok && i < sizeof(parts) / sizeof(parts[0]); i++)
		ok = EVP_DigestUpdate(c, parts[i], strlen(parts[i]) + 1) == 1;
	ok = ok && EVP_DigestFinal_ex(c, md, NULL) == 1;
	EVP_MD_CTX_free(c);
	hex = ok ? hex_encode(md, 8) : NULL;
	if (hex != NULL)
		out = str_printf("id-%s", hex);
	free(hex);
	return out;
}

static imss_err
token_info_from_ck(imss_ctx *ctx, CK_FUNCTION_LIST *f, CK_SLOT_ID slot, const CK_TOKEN_INFO *ti,
                   imss_token_info *info)
{
	CK_FLAGS fl = ti->flags;

	memset(info, 0, sizeof(*info));
	info->slot_id = slot;
	info->flags = fl;
	info->min_pin_len = ti->ulMinPinLen;
	info->max_pin_len = ti->ulMaxPinLen;
	info->initialized = !!(fl & CKF_TOKEN_INITIALIZED);
	info->login_required = !!(fl & CKF_LOGIN_REQUIRED);
	info->pinpad = !!(fl & CKF_PROTECTED_AUTHENTICATION_PATH);
	info->write_protected = !!(fl & CKF_WRITE_PROTECTED);
	info->has_rng = !!(fl & CKF_RNG);
	info->user_pin_initialized = !!(fl & CKF_USER_PIN_INITIALIZED);
	info->pin_count_low = !!(fl & CKF_USER_PIN_COUNT_LOW);
	info->pin_final_try = !!(fl & CKF_USER_PIN_FINAL_TRY);
	info->pin_locked = !!(fl & CKF_USER_PIN_LOCKED);
	info->pin_to_be_changed = !!(fl & CKF_USER_PIN_TO_BE_CHANGED);
	info->free_private_memory = ti->ulFreePrivateMemory;
	info->total_private_memory = ti->ulTotalPrivateMemory;
	info->label = padded_dup(ti->label, sizeof(ti->label));
	info->manufacturer = padded_dup(ti->manufacturerID, sizeof(ti->manufacturerID));
	info->model = padded_dup(ti->model, sizeof(ti->model));
	info->serial = padded_dup(ti->serialNumber, sizeof(ti->serialNumber));
	info->module_name = strdup(ctx_module_name(ctx, f));
	info->uri = token_uri_format(ti);
	if (info->label && info->manufacturer && info->model && info->serial)
		info->identity = token_identity(info);
	if (!info->label || !info->manufacturer || !info->model || !info->serial ||
	    !info->module_name || !info->uri || !info->identity) {
		token_info_clear(info);
		return IMSS_ERR_NOMEM;
	}
	return IMSS_OK;
}

imss_err
token_info_fill(imss_ctx *ctx, CK_FUNCTION_LIST *f, CK_SLOT_ID slot, imss_token_info *info)
{
	CK_TOKEN_INFO ti;
	CK_RV rv;

	rv = f->C_GetTokenInfo(slot, &ti);
	if (rv != CKR_OK)
		return ctx_fail_rv(ctx, "C_GetTokenInfo", rv);
	return token_info_from_ck(ctx, f, slot, &ti, info);
}

/* The slots with a token present; *slots is malloc'd.  A buffer that
 * fits most machines first, so one call usually does. */
static imss_err
module_slots(imss_ctx *ctx, CK_FUNCTION_LIST *f, CK_SLOT_ID **slots, CK_ULONG *n)
{
	CK_ULONG count = 16;
	CK_SLOT_ID *list = NULL, *grown;
	CK_RV rv;

	*slots = NULL;
	*n = 0;
	for (;;) {
		grown = realloc(list, (count ? count : 1) * sizeof(*list));
		if (grown == NULL) {
			free(list);
			return IMSS_ERR_NOMEM;
		}
		list = grown;
		rv = f->C_GetSlotList(CK_TRUE, list, &count);
		if (rv == CKR_BUFFER_TOO_SMALL)
			continue; /* count now says how many */
		if (rv != CKR_OK) {
			free(list);
			return ctx_fail_rv(ctx, "C_GetSlotList", rv);
		}
		*slots = list;
		*n = count;
		return IMSS_OK;
	}
}

imss_err
token_parse_uri(imss_ctx *ctx, const char *text, P11KitUri **out)
{
	P11KitUri *uri;
	int r;

	*out = NULL;
	uri = p11_kit_uri_new();
	if (uri == NULL)
		return IMSS_ERR_NOMEM;
	if (text == NULL || text[0] == '\0')
		text = "pkcs11:";
	r = p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, uri);
	if ((r == P11_KIT_URI_OK && p11_kit_uri_get_pin_value(uri) != NULL) ||
	    strstr(text, "pin-value") != NULL) {
		/* Not repeated: the URI holds the PIN. */
		p11_kit_uri_free(uri);
		return ctx_fail(ctx, IMSS_ERR_URI,
		                _("A PIN in a URI (pin-value=) is refused: a URI shows in the process list, in messages, logs and reports. Remove it from the URI and give the PIN from a PIN source (tty, file:PATH, fd:N, env:NAME or cred:NAME)."));
	}
	if (r != P11_KIT_URI_OK || p11_kit_uri_any_unrecognized(uri)) {
		p11_kit_uri_free(uri);
		return ctx_fail(ctx, IMSS_ERR_URI,
		                _("'%s': %s. A token URI looks like pkcs11:token=LABEL (see 'imss-renew tokens')."),
		                text,
		                r != P11_KIT_URI_OK ? p11_kit_uri_message(r)
		                                    : _("unknown attribute"));
	}
	*out = uri;
	return IMSS_OK;
}

/* Does the URI name the module (library-manufacturer, -description,
 * -version)?  p11-kit leaves an unset version at 0xff.0xff. */
static int
uri_has_module_info(P11KitUri *uri)
{
	const CK_INFO *mi = p11_kit_uri_get_module_info(uri);
	static const CK_INFO zero;

	return memcmp(mi->manufacturerID, zero.manufacturerID, sizeof(zero.manufacturerID)) != 0 ||
	       memcmp(mi->libraryDescription, zero.libraryDescription,
	              sizeof(zero.libraryDescription)) != 0 ||
	       mi->libraryVersion.major != 0xff || mi->libraryVersion.minor != 0xff;
}

static imss_err
uri_matches_module(imss_ctx *ctx, P11KitUri *uri, CK_FUNCTION_LIST *f, int *match)
{
	CK_INFO mi;
	CK_RV rv;

	*match = 1;
	if (!uri_has_module_info(uri))
		return IMSS_OK;
	rv = f->C_GetInfo(&mi);
	if (rv != CKR_OK)
		return ctx_fail_rv(ctx, "C_GetInfo", rv);
	*match = p11_kit_uri_match_module_info(uri, &mi);
	return IMSS_OK;
}

static imss_err
tokens_append(imss_token_info **list, size_t *n, imss_token_info *one)
{
	imss_token_info *grown = realloc(*list, (*n + 1) * sizeof(**list));

	if (grown == NULL)
		return IMSS_ERR_NOMEM;
	*list = grown;
	grown[(*n)++] = *one;
	return IMSS_OK;
}

/*
 * Every token of module f that uri matches (all when uri is NULL), with
 * the module's function list alongside.  only_initialized skips the empty
 * slots SoftHSM and others keep.
 */
static imss_err
module_collect_tokens(imss_ctx *ctx, CK_FUNCTION_LIST *f, P11KitUri *uri, int only_initialized,
                      int with_slot_info, imss_token_info **list, CK_FUNCTION_LIST ***owners,
                      size_t *n)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG nslots = 0, i;
	imss_err err;

	err = module_slots(ctx, f, &slots, &nslots);
	for (i = 0; err == IMSS_OK && i < nslots; i++) {
		CK_TOKEN_INFO ti;
		CK_SLOT_INFO si;
		imss_token_info info;
		CK_FUNCTION_LIST **grown;
		CK_RV rv = f->C_GetTokenInfo(slots[i], &ti);

		if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_TOKEN_NOT_RECOGNIZED ||
		    rv == CKR_DEVICE_REMOVED)
			continue;
		if (rv != CKR_OK) {
			/* A token that cannot be read might be the one meant:
			 * choosing among the others would be a guess. */
			err = ctx_fail_rv(ctx, "C_GetTokenInfo", rv);
			ctx_append_detail(ctx, _(" (slot %lu)"), (unsigned long)slots[i]);
			break;
		}
		if (only_initialized && !(ti.flags & CKF_TOKEN_INITIALIZED))
			continue;
		if (uri != NULL && !p11_kit_uri_match_token_info(uri, &ti))
			continue;
		err = token_info_from_ck(ctx, f, slots[i], &ti, &info);
		if (err != IMSS_OK)
			break;
		if (with_slot_info && f->C_GetSlotInfo(slots[i], &si) == CKR_OK)
			info.slot_description =
			        padded_dup(si.slotDescription, sizeof(si.slotDescription));
		grown = realloc(*owners, (*n + 1) * sizeof(*grown));
		if (grown == NULL) {
			token_info_clear(&info);
			err = IMSS_ERR_NOMEM;
			break;
		}
		*owners = grown;
		grown[*n] = f;
		err = tokens_append(list, n, &info);
		if (err != IMSS_OK)
			token_info_clear(&info);
	}
	free(slots);
	return err;
}

imss_err
imss_list_tokens(imss_ctx *ctx, imss_token_info **out, size_t *count)
{
	imss_token_info *list = NULL;
	CK_FUNCTION_LIST **owners = NULL;
	size_t n = 0, i;
	imss_err err;

	*out = NULL;
	*count = 0;
	ctx_clear_detail(ctx);
	err = ctx_load_modules(ctx);
	for (i = 0; err == IMSS_OK && i < ctx->n_modules; i++)
		err = module_collect_tokens(ctx, ctx->modules[i].funcs, NULL, 0, 1, &list, &owners,
		                            &n);
	free(owners);
	if (err != IMSS_OK) {
		imss_token_info_free(list, n);
		return err;
	}
	*out = list;
	*count = n;
	return IMSS_OK;
}

/* Find the tokens uri matches: in the URI's module-path module, or in all. */
static imss_err
tokens_matching(imss_ctx *ctx, P11KitUri *uri, imss_token_info **list, CK_FUNCTION_LIST ***owners,
                size_t *n)
{
	struct imss_module *only = NULL;
	imss_err err;
	size_t i;

	err = ctx_module_for_uri(ctx, uri, &only);
	if (err != IMSS_OK)
		return err;
	if (only != NULL)
		return module_collect_tokens(ctx, only->funcs, uri, 1, 0, list, owners, n);
	for (i = 0; err == IMSS_OK && i < ctx->n_modules; i++) {
		int match = 0;

		err = uri_matches_module(ctx, uri, ctx->modules[i].funcs, &match);
		if (err == IMSS_OK && match)
			err = module_collect_tokens(ctx, ctx->modules[i].funcs, uri, 1, 0, list,
			                            owners, n);
	}
	return err;
}

static imss_err
fail_token_choice(imss_ctx *ctx, const char *text, imss_token_info *list, size_t n)
{
	size_t i;

	if (n == 0) {
		ctx_set_detail(ctx,
		               _("No initialised token matches '%s'. Is the token plugged in? 'imss-renew tokens' lists the tokens present; a token plugged in but not listed may be out of your user's reach: check that pcscd runs and that the udev rules of imss-renew are installed."),
		               text ? text : "pkcs11:");
		return IMSS_ERR_NO_TOKEN;
	}
	ctx_set_detail(ctx, _("'%s' matches %zu tokens; name one of them:"),
	               text ? text : "pkcs11:", n);
	for (i = 0; i < n; i++)
		ctx_append_detail(ctx, "\n  %s", list[i].uri);
	return IMSS_ERR_AMBIGUOUS_TOKEN;
}

/* tok->use: recursive, so that a thread holding the token may call what
 * takes it again.  0 or an errno. */
static int
token_use_init(imss_token *tok)
{
	pthread_mutexattr_t attr;
	int rc = pthread_mutexattr_init(&attr);

	if (rc == 0 && (rc = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE)) == 0)
		rc = pthread_mutex_init(&tok->use, &attr);
	pthread_mutexattr_destroy(&attr);
	return rc;
}

imss_err
imss_token_open(imss_ctx *ctx, const char *text, int read_write, imss_token **out)
{
	imss_token_info *list = NULL;
	CK_FUNCTION_LIST **owners = NULL;
	P11KitUri *uri = NULL;
	imss_token *tok = NULL;
	size_t n = 0;
	CK_FLAGS flags = CKF_SERIAL_SESSION;
	CK_RV rv;
	imss_err err;

	*out = NULL;
	ctx_clear_detail(ctx);
	err = token_parse_uri(ctx, text, &uri);
	if (err != IMSS_OK)
		goto out;
	err = tokens_matching(ctx, uri, &list, &owners, &n);
	if (err != IMSS_OK)
		goto out;
	if (n != 1) {
		err = fail_token_choice(ctx, text, list, n);
		goto out;
	}
	tok = calloc(1, sizeof(*tok));
	if (tok == NULL) {
		err = IMSS_ERR_NOMEM;
		goto out;
	}
	if (token_use_init(tok) != 0) {
		free(tok);
		tok = NULL;
		err = IMSS_ERR_NOMEM;
		goto out;
	}
	tok->ctx = ctx;
	tok->f = owners[0];
	tok->slot = list[0].slot_id;
	tok->info = list[0];
	memset(&list[0], 0, sizeof(list[0]));
	tok->read_write = read_write;
	tok->session = CK_INVALID_HANDLE;
	if (read_write)
		flags |= CKF_RW_SESSION;
	rv = tok->f->C_OpenSession(tok->slot, flags, NULL, NULL, &tok->session);
	if (rv != CKR_OK) {
		err = ctx_fail_rv(ctx, "C_OpenSession", rv);
		if (rv == CKR_TOKEN_WRITE_PROTECTED)
			ctx_append_detail(ctx,
			                  _(". Nothing can be written to token '%s' (no new key, no certificate); its keys still sign and its certificates can still be read and exported."),
			                  tok->info.label);
		goto out;
	}
	*out = tok;
	tok = NULL;
	err = IMSS_OK;
out:
	imss_token_close(tok);
	imss_token_info_free(list, n);
	free(owners);
	p11_kit_uri_free(uri);
	return err;
}

const imss_token_info *
imss_token_get_info(const imss_token *tok)
{
	return &tok->info;
}

void
imss_token_close(imss_token *tok)
{
	if (tok == NULL)
		return;
	if (tok->session != CK_INVALID_HANDLE) {
		/* Closing the last session logs out as well. */
		tok->f->C_CloseSession(tok->session);
	}
	token_info_clear(&tok->info);
	free(tok->mechs);
	EVP_PKEY_free(tok->known_pub);
	pthread_mutex_destroy(&tok->use);
	free(tok);
}

void
imss_token_acquire(imss_token *tok)
{
	pthread_mutex_lock(&tok->use);
}

void
imss_token_release(imss_token *tok)
{
	pthread_mutex_unlock(&tok->use);
}

imss_err
token_fail(imss_token *tok, const char *function, CK_RV rv)
{
	imss_err err = ctx_fail_rv(tok->ctx, function, rv);

	if (err == IMSS_ERR_SESSION_LOST || err == IMSS_ERR_TOKEN_REMOVED) {
		/* The handle is dead: do not use it again. */
		tok->session = CK_INVALID_HANDLE;
		tok->logged_in = 0;
	}
	return err;
}

imss_err
token_mechanisms(imss_token *tok)
{
	CK_MECHANISM_TYPE *list = NULL;
	CK_ULONG n = 0;
	CK_RV rv;

	if (tok->mechs != NULL)
		return IMSS_OK;
	rv = tok->f->C_GetMechanismList(tok->slot, NULL, &n);
	if (rv != CKR_OK)
		return token_fail(tok, "C_GetMechanismList", rv);
	list = calloc(n ? n : 1, sizeof(*list));
	if (list == NULL)
		return IMSS_ERR_NOMEM;
	rv = tok->f->C_GetMechanismList(tok->slot, list, &n);
	if (rv != CKR_OK) {
		free(list);
		return token_fail(tok, "C_GetMechanismList", rv);
	}
	tok->mechs = list;
	tok->n_mechs = n;
	return IMSS_OK;
}

/* Whether m is one of the count mechanisms of list. */
static int
mechanism_in(const CK_MECHANISM_TYPE *list, size_t count, CK_MECHANISM_TYPE m)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (list[i] == m)
			return 1;
	return 0;
}

int
token_has_mechanism(imss_token *tok, CK_MECHANISM_TYPE m)
{
	return token_mechanisms(tok) == IMSS_OK && mechanism_in(tok->mechs, tok->n_mechs, m);
}

int
token_may_have_mechanism(imss_token *tok, CK_MECHANISM_TYPE m)
{
	if (tok->mechs != NULL)
		return token_has_mechanism(tok, m);
	return !mechanism_in(tok->refused, tok->n_refused, m);
}

void
token_mechanism_refused(imss_token *tok, CK_MECHANISM_TYPE m)
{
	if (tok->n_refused < sizeof(tok->refused) / sizeof(tok->refused[0]))
		tok->refused[tok->n_refused++] = m;
}

/* A CK_UTF8CHAR field from a string, blank-padded. */
static void
pad_field(unsigned char *field, size_t size, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	memset(field, ' ', size);
	memcpy(field, s, n < size ? n : size);
}

int
imss_token_uri_matches(const imss_token *tok, const char *text)
{
	P11KitUri *uri = p11_kit_uri_new();
	CK_TOKEN_INFO ti;
	int match = 0;

	if (uri == NULL)
		return 0;
	if (p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, uri) == P11_KIT_URI_OK &&
	    !p11_kit_uri_any_unrecognized(uri) && p11_kit_uri_get_pin_value(uri) == NULL) {
		memset(&ti, 0, sizeof(ti));
		pad_field(ti.label, sizeof(ti.label), tok->info.label);
		pad_field(ti.manufacturerID, sizeof(ti.manufacturerID), tok->info.manufacturer);
		pad_field(ti.model, sizeof(ti.model), tok->info.model);
		pad_field(ti.serialNumber, sizeof(ti.serialNumber), tok->info.serial);
		match = p11_kit_uri_match_token_info(uri, &ti);
	}
	p11_kit_uri_free(uri);
	return match;
}
