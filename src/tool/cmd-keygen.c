/*
 * imss-renew keygen: generate a key pair inside a token.  The new private
 * key's URI is the first line on stdout, so that scripts can capture it.
 */
#include <stddef.h>
#include <stdio.h>

#include "tool.h"

#define COMMAND "keygen"

struct keygen_args {
	const char *token;
	const char *label;
	const char *type;       /* NULL: the library's default, rsa:2048 */
	const char *pin_source; /* NULL: tty */
	int force;
};

static const struct tool_option options[] = {
	TOOL_OPTION_TOKEN(struct keygen_args, token),
	{ "label", TOOL_ARG_MANDATORY, offsetof(struct keygen_args, label), N_("LABEL"),
	  N_("the label of the new key (required, not empty)") },
	TOOL_OPTION_KEY_TYPE(struct keygen_args, type),
	TOOL_OPTION_PIN_SOURCE(struct keygen_args, pin_source),
	{ "force", TOOL_ARG_NONE, offsetof(struct keygen_args, force), NULL,
	  N_("log in even when the token says the next wrong PIN\nlocks it (final try)") },
	TOOL_OPTION_END,
};

static void
synopsis(void)
{
	printf(_("Usage: %s [GLOBAL OPTIONS] %s --token URI --label LABEL [--type TYPE]\n"
	         "         [--pin-source SRC] [--force]\n"
	         "Log in and generate a key pair inside the token.  The private key is\n"
	         "sensitive and never extractable: it never leaves the token.  Its ID is\n"
	         "the RFC 5280 key identifier when the token allows it.  The first line\n"
	         "of output is the new private key's PKCS#11 URI.\n"),
	       TOOL_NAME, COMMAND);
}

static void
examples(void)
{
	printf(_("\nExamples:\n"
	         "  %s %s --token 'pkcs11:token=My%%20Token' --label imss-2025\n"
	         "  uri=$(%s %s --token 'pkcs11:serial=1234' --label imss-2025 \\\n"
	         "        --type rsa:3072 --pin-source env:TOKEN_PIN | sed -n 1p)\n"
	         "  %s --json %s --token 'pkcs11:token=My%%20Token' --label imss-2025 \\\n"
	         "        --pin-source file:/run/user/1000/pin\n"),
	       TOOL_NAME, COMMAND, TOOL_NAME, COMMAND, TOOL_NAME, COMMAND);
}

static int
parse_type(struct tool *t, const char *text, imss_keyspec *spec)
{
	return tool_typed_result(t, COMMAND, imss_keyspec_parse(text, spec),
	                         _("unknown key type '%s': use rsa:2048, rsa:3072, rsa:4096, "
	                           "ec:prime256v1 or ec:secp384r1"),
	                         text ? text : "");
}

/* "rsa:2048" or "ec:prime256v1", as --type takes it. */
static void
spec_text(const imss_keyspec *spec, char *buf, size_t size)
{
	if (spec->kind == IMSS_KEY_EC)
		snprintf(buf, size, "ec:%s", spec->curve ? spec->curve : "");
	else
		snprintf(buf, size, "rsa:%u", spec->bits);
}

static imss_err
generate(struct tool *t, const struct keygen_args *a, const imss_keyspec *spec,
         imss_pin_source *src, imss_keygen_report *report)
{
	imss_token *tok = NULL;
	imss_key *key = NULL;
	imss_err err;

	err = tool_open_token(t, a->token, 1, &tok);
	if (err == IMSS_OK)
		err = imss_token_login(tok, src, a->force ? IMSS_LOGIN_FORCE : 0);
	if (err == IMSS_OK)
		err = imss_token_generate_keypair(tok, spec, a->label, &key, report);
	if (key)
		imss_key_free(key);
	if (tok)
		imss_token_close(tok);
	return err;
}

static void
print_text(const imss_keygen_report *report)
{
	puts(report->uri ? report->uri : "");
	tool_field(_("ID"), report->id_hex);
	tool_field(_("ID source"), report->id_is_key_identifier
	                                   ? _("RFC 5280 key identifier (SHA-1 of the public key)")
	                                   : _("random, not the RFC 5280 key identifier"));
	tool_field_tristate(_("local"), report->local);
	tool_field_tristate(_("never extractable"), report->never_extractable);
	tool_field_tristate(_("sensitive"), report->sensitive);
	tool_field_tristate(_("extractable"), report->extractable);
}

static int
print_json(const imss_keygen_report *report, const imss_keyspec *spec, const char *label)
{
	json_object *root = json_object_new_object();
	char type[64];

	spec_text(spec, type, sizeof(type));
	if (!root || tool_json_str(root, "uri", report->uri) || tool_json_str(root, "label", label) ||
	    tool_json_str(root, "type", type) || tool_json_str(root, "id", report->id_hex) ||
	    tool_json_bool(root, "id_is_key_identifier", report->id_is_key_identifier) ||
	    tool_json_str(root, "refused", report->refused) ||
	    tool_json_str(root, "refused_reason", report->refused_reason) ||
	    tool_json_key_flags(root, report->sensitive, report->extractable, report->local,
	                        report->never_extractable)) {
		json_object_put(root);
		return -1;
	}
	return tool_json_print(root);
}

static int
run(struct tool *t, void *args)
{
	struct keygen_args *a = args;
	imss_keygen_report report = { 0 };
	imss_pin_source *src = NULL;
	imss_keyspec spec;
	imss_err err;
	int rc = TOOL_EXIT_OK;

	rc = parse_type(t, a->type, &spec);
	if (rc == TOOL_EXIT_OK)
		rc = tool_pin_source(t, COMMAND, "--pin-source", a->pin_source, &src);
	if (rc != TOOL_EXIT_OK)
		goto out;
	err = generate(t, a, &spec, src, &report);
	if (err != IMSS_OK) {
		rc = tool_fail(t, err, 0);
		goto out;
	}
	if (report.refused && *report.refused)
		tool_warn(_("the token refused the full key template (%s); the key was made without: %s (its protection was read back and checked)"),
		          report.refused_reason ? report.refused_reason : "?", report.refused);
	if (!t->json)
		print_text(&report);
	else if (print_json(&report, &spec, a->label) != 0)
		rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
out:
	imss_keygen_report_clear(&report);
	if (src)
		imss_pin_source_free(src);
	return rc;
}

TOOL_COMMAND(cmd_keygen, struct keygen_args, N_("generate a key pair inside a token"));
