/*
 * imss-renew tokens: every token present, with its URI and flags.
 */
#include <stddef.h>
#include <stdio.h>

#include "tool.h"

#define COMMAND "tokens"

/* What a token reports for a length it does not know. */
#define UNAVAILABLE_INFORMATION (~0UL)

static void
synopsis(void)
{
	printf(_("Usage: %s [--module PATH] [--json] %s\n"
	         "List every token present: URI, label, serial, manufacturer, model,\n"
	         "slot, PIN length range and flags in words.\n"),
	       TOOL_NAME, COMMAND);
}

static void
examples(void)
{
	printf(_("\nExamples:\n"
	         "  %s %s\n"
	         "  %s --module /usr/lib/softhsm/libsofthsm2.so %s\n"
	         "  %s --json %s | jq -r '.tokens[].uri'\n"),
	       TOOL_NAME, COMMAND, TOOL_NAME, COMMAND, TOOL_NAME, COMMAND);
}

/*
 * The token's flags, in the order both outputs give them: the JSON member,
 * and the words the text says when the flag has the value said_when.
 */
static const struct token_flag {
	size_t offset; /* of an int in imss_token_info */
	const char *json_name;
	const char *words;
	int said_when;
} token_flags[] = {
	{ offsetof(imss_token_info, initialized), "initialized", N_("not initialised"), 0 },
	{ offsetof(imss_token_info, login_required), "login_required", N_("login required"), 1 },
	{ offsetof(imss_token_info, pinpad), "pin_pad", N_("PIN pad"), 1 },
	{ offsetof(imss_token_info, user_pin_initialized), "user_pin_initialized",
	  N_("user PIN initialised"), 1 },
	{ offsetof(imss_token_info, pin_count_low), "pin_count_low", N_("PIN count low"), 1 },
	{ offsetof(imss_token_info, pin_final_try), "pin_final_try", N_("PIN final try"), 1 },
	{ offsetof(imss_token_info, pin_locked), "pin_locked", N_("PIN locked"), 1 },
	{ offsetof(imss_token_info, pin_to_be_changed), "pin_to_be_changed",
	  N_("PIN to be changed"), 1 },
	{ offsetof(imss_token_info, write_protected), "write_protected", N_("write protected"), 1 },
	{ offsetof(imss_token_info, has_rng), "has_rng", N_("has RNG"), 1 },
};

#define N_TOKEN_FLAGS (sizeof(token_flags) / sizeof(token_flags[0]))

/* 1 when the flag is set, else 0. */
static int
flag_set(const imss_token_info *info, const struct token_flag *flag)
{
	return *(const int *)((const char *)info + flag->offset) != 0;
}

static void
print_flags(const imss_token_info *info)
{
	int first = 1;
	size_t i;

	for (i = 0; i < N_TOKEN_FLAGS; i++)
		if (flag_set(info, &token_flags[i]) == token_flags[i].said_when)
			tool_list_word(&first, _(token_flags[i].words));
	if (first)
		fputs("-", stdout);
}

static void
print_token(const void *item, size_t n)
{
	const imss_token_info *info = item;
	char range[64];

	if (info->max_pin_len == UNAVAILABLE_INFORMATION)
		snprintf(range, sizeof(range), _("%lu to unknown"), info->min_pin_len);
	else
		snprintf(range, sizeof(range), _("%lu to %lu"), info->min_pin_len, info->max_pin_len);

	if (info->label && *info->label) {
		printf(_("Token %zu: "), n);
		tool_put_text(info->label);
		putchar('\n');
	} else
		printf(_("Token %zu\n"), n);
	tool_field(_("URI"), info->uri);
	tool_field(_("label"), info->label);
	tool_field(_("serial"), info->serial);
	if (strcmp(info->identity, info->serial) != 0)
		tool_field(_("state name"), info->identity);
	tool_field(_("manufacturer"), info->manufacturer);
	tool_field(_("model"), info->model);
	tool_field_ulong(_("slot"), info->slot_id);
	tool_field(_("slot description"), info->slot_description);
	tool_field(_("module"), info->module_name);
	tool_field(_("PIN length"), range);
	tool_field_name(_("flags"));
	print_flags(info);
	fputc('\n', stdout);
}

static int
print_text(const imss_token_info *infos, size_t count)
{
	tool_text_list(_("No tokens present."), infos, count, sizeof(*infos), print_token);
	return 0;
}

static int
add_pin_range(json_object *obj, const imss_token_info *info)
{
	if (tool_json_uint(obj, "min_pin_length", info->min_pin_len) != 0)
		return -1;
	if (info->max_pin_len == UNAVAILABLE_INFORMATION)
		return tool_json_str(obj, "max_pin_length", NULL);
	return tool_json_uint(obj, "max_pin_length", info->max_pin_len);
}

static int
add_flags(json_object *obj, const imss_token_info *info)
{
	size_t i;

	if (tool_json_uint(obj, "token_flags", info->flags) != 0)
		return -1;
	for (i = 0; i < N_TOKEN_FLAGS; i++)
		if (tool_json_bool(obj, token_flags[i].json_name, flag_set(info, &token_flags[i])) !=
		    0)
			return -1;
	return 0;
}

static json_object *
token_json(const void *item)
{
	const imss_token_info *info = item;
	json_object *obj = json_object_new_object();

	if (!obj || tool_json_str(obj, "uri", info->uri) ||
	    tool_json_str(obj, "label", info->label) || tool_json_str(obj, "serial", info->serial) ||
	    tool_json_str(obj, "identity", info->identity) ||
	    tool_json_str(obj, "manufacturer", info->manufacturer) ||
	    tool_json_str(obj, "model", info->model) || tool_json_uint(obj, "slot", info->slot_id) ||
	    tool_json_str(obj, "slot_description", info->slot_description) ||
	    tool_json_str(obj, "module", info->module_name) || add_pin_range(obj, info) ||
	    add_flags(obj, info)) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

static int
print_json(const imss_token_info *items, size_t count)
{
	return tool_json_print(tool_json_list("tokens", items, count, sizeof(*items), token_json));
}

static int
run(struct tool *t, void *args)
{
	imss_token_info *infos = NULL;
	size_t count = 0;
	imss_ctx *ctx;
	imss_err err;
	int rc = TOOL_EXIT_OK;

	(void)args;
	err = tool_ctx(t, &ctx);
	if (err == IMSS_OK)
		err = imss_list_tokens(ctx, &infos, &count);
	if (err != IMSS_OK) {
		rc = tool_fail(t, err, 0);
		goto out;
	}
	if ((t->json ? print_json(infos, count) : print_text(infos, count)) != 0)
		rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
out:
	if (infos)
		imss_token_info_free(infos, count);
	return rc;
}

const struct tool_command cmd_tokens = {
	COMMAND, N_("list the tokens present"), NULL, synopsis, examples, run, 0, NULL, NULL,
};
