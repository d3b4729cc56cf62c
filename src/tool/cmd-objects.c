/*
 * imss-renew objects: the keys and certificates on one token.  Private keys
 * show only after login (--login, or --pin-source which implies it).
 */
#include <stddef.h>
#include <stdio.h>

#include "tool.h"

#define COMMAND "objects"

struct objects_args {
	const char *token;
	const char *pin_source;
	int login;
};

static const struct tool_option options[] = {
	TOOL_OPTION_TOKEN(struct objects_args, token),
	{ "login", TOOL_ARG_NONE, offsetof(struct objects_args, login), NULL,
	  N_("log in first, so that private keys show too") },
	TOOL_OPTION_LOGIN_PIN_SOURCE(struct objects_args, pin_source),
	TOOL_OPTION_END,
};

static void
synopsis(void)
{
	printf(_("Usage: %s [GLOBAL OPTIONS] %s --token URI [--login] [--pin-source SRC]\n"
	         "List the keys and certificates on a token: URI, class, key type and\n"
	         "size, ID, label, and for keys whether they are sensitive, extractable,\n"
	         "generated on the token (local), never extractable, and whether every\n"
	         "use asks for the PIN (always authenticate).\n"),
	       TOOL_NAME, COMMAND);
}

static void
examples(void)
{
	printf(_("\nExamples:\n"
	         "  %s %s --token 'pkcs11:token=My%%20Token'\n"
	         "  %s %s --token 'pkcs11:token=My%%20Token' --login\n"
	         "  %s --json %s --token 'pkcs11:serial=1234' --pin-source fd:3 3<pin.txt\n"),
	       TOOL_NAME, COMMAND, TOOL_NAME, COMMAND, TOOL_NAME, COMMAND);
}

static const char *
class_word(imss_object_class klass)
{
	switch (klass) {
	case IMSS_OBJ_PRIVATE_KEY:
		return _("Private key");
	case IMSS_OBJ_PUBLIC_KEY:
		return _("Public key");
	case IMSS_OBJ_CERTIFICATE:
		return _("Certificate");
	case IMSS_OBJ_OTHER:
		break;
	}
	return _("Other object");
}

/* Stable names for JSON. */
static const char *
class_name(imss_object_class klass)
{
	switch (klass) {
	case IMSS_OBJ_PRIVATE_KEY:
		return "private-key";
	case IMSS_OBJ_PUBLIC_KEY:
		return "public-key";
	case IMSS_OBJ_CERTIFICATE:
		return "certificate";
	case IMSS_OBJ_OTHER:
		break;
	}
	return "other";
}

static const char *
kind_name(imss_key_kind kind)
{
	switch (kind) {
	case IMSS_KEY_RSA:
		return "rsa";
	case IMSS_KEY_EC:
		return "ec";
	}
	return NULL;
}

static int
is_key(imss_object_class klass)
{
	return klass == IMSS_OBJ_PRIVATE_KEY || klass == IMSS_OBJ_PUBLIC_KEY;
}

static void
print_key_type(const imss_object_info *info)
{
	char text[64];

	if (info->key_kind == IMSS_KEY_RSA)
		snprintf(text, sizeof(text), _("RSA %u bits"), info->bits);
	else if (info->key_kind == IMSS_KEY_EC)
		snprintf(text, sizeof(text), _("EC %u bits"), info->bits);
	else
		snprintf(text, sizeof(text), "%s", _("other"));
	tool_field(_("key type"), text);
}

/* Key attributes the token reported (-1 means not applicable). */
static void
print_key_attributes(const imss_object_info *info)
{
	if (info->sensitive >= 0)
		tool_field_tristate(_("sensitive"), info->sensitive);
	if (info->extractable >= 0)
		tool_field_tristate(_("extractable"), info->extractable);
	if (info->local >= 0)
		tool_field_tristate(_("local"), info->local);
	if (info->never_extractable >= 0)
		tool_field_tristate(_("never extractable"), info->never_extractable);
	if (info->always_authenticate >= 0)
		tool_field_tristate(_("always authenticate"), info->always_authenticate);
}

static void
print_object(const void *item, size_t number)
{
	const imss_object_info *info = item;

	printf("%s: ", class_word(info->klass));
	tool_put_text(info->uri ? info->uri : "");
	putchar('\n');
	if (is_key(info->klass))
		print_key_type(info);
	tool_field(_("ID"), info->id_hex);
	tool_field(_("label"), info->label);
	if (info->klass == IMSS_OBJ_CERTIFICATE)
		tool_field(_("subject"), info->subject);
	if (is_key(info->klass))
		print_key_attributes(info);
}

static void
print_text(const imss_object_info *infos, size_t count, int logged_in)
{
	int private_keys = 0;
	size_t i;

	tool_text_list(_("No keys or certificates found."), infos, count, sizeof(*infos),
	               print_object);
	for (i = 0; i < count; i++)
		private_keys += infos[i].klass == IMSS_OBJ_PRIVATE_KEY;
	if (!logged_in && !private_keys)
		fprintf(stderr, _("%s: private keys show only after login (--login)\n"), TOOL_NAME);
}

static int
add_key_fields(json_object *obj, const imss_object_info *info)
{
	if (tool_json_str(obj, "key_type", kind_name(info->key_kind)))
		return -1;
	if (info->bits == 0)
		return tool_json_str(obj, "bits", NULL);
	return tool_json_uint(obj, "bits", info->bits);
}

static json_object *
object_json(const void *item)
{
	const imss_object_info *info = item;
	json_object *obj = json_object_new_object();

	if (!obj || tool_json_str(obj, "uri", info->uri) ||
	    tool_json_str(obj, "class", class_name(info->klass)) || add_key_fields(obj, info) ||
	    tool_json_str(obj, "id", info->id_hex) || tool_json_str(obj, "label", info->label) ||
	    tool_json_str(obj, "subject", info->subject) ||
	    tool_json_key_flags(obj, info->sensitive, info->extractable, info->local,
	                        info->never_extractable) ||
	    tool_json_tristate(obj, "always_authenticate", info->always_authenticate)) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

static imss_err
list_objects(struct tool *t, const struct objects_args *a, imss_pin_source *src,
             imss_object_info **infos, size_t *count)
{
	imss_token *tok = NULL;
	imss_err err;

	err = tool_open_login(t, a->token, 0, src, &tok);
	if (err == IMSS_OK)
		err = imss_token_list_objects(tok, infos, count);
	if (tok)
		imss_token_close(tok);
	return err;
}

static int
run(struct tool *t, void *args)
{
	struct objects_args *a = args;
	imss_pin_source *src = NULL;
	imss_object_info *infos = NULL;
	size_t count = 0;
	imss_err err;
	int rc = TOOL_EXIT_OK;

	if (a->login || a->pin_source) {
		rc = tool_pin_source(t, COMMAND, "--pin-source", a->pin_source, &src);
		if (rc != TOOL_EXIT_OK)
			goto out;
	}
	err = list_objects(t, a, src, &infos, &count);
	if (err != IMSS_OK) {
		rc = tool_fail(t, err, 0);
		goto out;
	}
	if (!t->json)
		print_text(infos, count, src != NULL);
	else if (tool_json_print(
	                 tool_json_list("objects", infos, count, sizeof(*infos), object_json)) != 0)
		rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
out:
	if (infos)
		imss_object_info_free(infos, count);
	if (src)
		imss_pin_source_free(src);
	return rc;
}

TOOL_COMMAND(cmd_objects, struct objects_args, N_("list the keys and certificates on a token"));
