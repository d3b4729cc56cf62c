/*
 * imss-renew status: the certificates of a file, a credential (.pfx or
 * .cer + .key) or a token, with who they name (razon social, registro
 * patronal, RFC, CURP), their validity, the days left, and whether their
 * private key is present and where.  Expired certificates are shown, not
 * an error: the exit status is 0 whenever the certificates could be read.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define COMMAND "status"

static const struct tool_option options[] = {
	CERT_ARGS_OPTIONS(N_("log in to the token, to find the private keys")),
	TOOL_OPTION_END,
};

static void
synopsis(void)
{
	printf(_("Usage: %s [GLOBAL OPTIONS] %s [--cert FILE | --credential FILE\n"
	         "         [--key-file FILE] | --token URI] [--login] [--pin-source SRC]\n"
	         "         [--password-source SRC]\n"
	         "Show each certificate: subject (razon social, registro patronal, RFC\n"
	         "and CURP where present), issuer, serial, validity in UTC, the days left\n"
	         "or since expiry, and whether its private key is present and where.\n"
	         "Without --cert, --credential or --token: the one token present.  On a\n"
	         "token, private keys are checked only after login (--login or\n"
	         "--pin-source); otherwise they show as not checked.  The exit status\n"
	         "is 0 whenever the certificates could be read, expired or not.\n"
	         "Certificates are sorted by days left; one superseded by a newer one\n"
	         "of the same registro patronal with its key, or retired by\n"
	         "--retire-old, says so.  --cert may be given again, or name a\n"
	         "directory.\n"),
	       TOOL_NAME, COMMAND);
}

static void
examples(void)
{
	printf(_("\nExamples:\n"
	         "  %s %s --cert empresa.cer\n"
	         "  %s %s --credential empresa.pfx --password-source file:pfx-pass.txt\n"
	         "  %s %s --token 'pkcs11:token=My%%20Token' --login\n"
	         "  %s --json %s --token 'pkcs11:serial=1234' | \\\n"
	         "        jq '.certificates[] | {serial, days_left}'\n"),
	       TOOL_NAME, COMMAND, TOOL_NAME, COMMAND, TOOL_NAME, COMMAND, TOOL_NAME, COMMAND);
}

static void
print_validity(const imss_cert_info *info)
{
	char text[128];
	long days = info->days_left;

	if (info->expired)
		snprintf(text, sizeof(text),
		         ngettext("EXPIRED %ld day ago", "EXPIRED %ld days ago", (unsigned long)-days),
		         -days);
	else if (info->not_yet_valid)
		snprintf(text, sizeof(text), "%s", _("not valid yet"));
	else
		snprintf(text, sizeof(text),
		         ngettext("valid, %ld day left", "valid, %ld days left", (unsigned long)days),
		         days);
	tool_field(_("status"), text);
}

static void
print_key(const struct cert_entry *x)
{
	char text[1024];

	if (!x->key_checked && x->source == CERT_SOURCE_FILE)
		snprintf(text, sizeof(text), "%s",
		         _("not checked (a certificate file only; see --credential)"));
	else if (!x->key_checked)
		snprintf(text, sizeof(text), "%s", _("not checked (log in with --login)"));
	else if (!x->key_present)
		snprintf(text, sizeof(text), "%s", _("not on this token"));
	else if (x->source == CERT_SOURCE_TOKEN)
		snprintf(text, sizeof(text), _("on the token: %s"), x->key_location);
	else
		snprintf(text, sizeof(text), _("in the file %s"), x->key_location);
	tool_field(_("private key"), text);
}

/* Whether it is still the employer's certificate (shown when not). */
static void
print_current(const struct cert_entry *x)
{
	char text[256];

	if (x->retired)
		tool_field(_("current"), _("no: retired (--retire-old)"));
	else if (x->superseded_by) {
		snprintf(text, sizeof(text), _("no: superseded by serial %s"), x->superseded_by);
		tool_field(_("current"), text);
	}
}

/* Only the fields the subject has. */
static void
print_optional(const char *name, const char *value)
{
	if (value && *value)
		tool_field(name, value);
}

static void
print_entry(const void *item, size_t n)
{
	const struct cert_entry *x = item;
	char from[TOOL_TIME_SIZE], until[TOOL_TIME_SIZE];

	tool_time_text(x->info.not_before, from, sizeof(from));
	tool_time_text(x->info.not_after, until, sizeof(until));
	printf(_("Certificate %zu: "), n);
	tool_put_text(x->location);
	putchar('\n');
	tool_field(_("subject"), x->info.subject);
	print_optional(_("razon social"), x->info.razon_social);
	print_optional(_("registro patronal"), x->info.registro_patronal);
	print_optional(_("RFC"), x->info.rfc);
	print_optional(_("CURP"), x->info.curp);
	print_optional(_("e-mail"), x->info.email);
	tool_field(_("issuer"), x->info.issuer);
	tool_field(_("serial"), x->info.serial);
	tool_field(_("SHA-256 fingerprint"), x->info.fingerprint);
	tool_field(_("valid from"), from);
	tool_field(_("valid until"), until);
	print_validity(&x->info);
	print_key(x);
	print_current(x);
}

static void
print_text(const struct cert_entries *e)
{
	tool_text_list(_("No certificates found."), e->v, e->n, sizeof(*e->v), print_entry);
}

static int
print_json(const struct cert_entries *e)
{
	return tool_json_print(cert_entries_json(e, NULL));
}

static int
run(struct tool *t, void *args)
{
	struct cert_args *a = args;
	struct cert_entries e = { 0 };
	int rc;

	rc = cert_args_check(t, COMMAND, a, 0);
	if (rc != TOOL_EXIT_OK)
		goto out;
	rc = cert_entries_collect(t, COMMAND, a, &e);
	if (rc == TOOL_EXIT_OK && cert_entries_mark(&e) != IMSS_OK)
		rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
	if (rc != TOOL_EXIT_OK)
		goto out;
	if (!t->json)
		print_text(&e);
	else if (print_json(&e) != 0)
		rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
	if (!a->certs.n && !a->credential && !e.logged_in && e.n > 0)
		fprintf(stderr, _("%s: private keys are checked only after login (--login)\n"),
		        TOOL_NAME);
out:
	cert_entries_clear(&e);
	return rc;
}

TOOL_COMMAND(cmd_status, struct cert_args,
             N_("show certificates, their validity and where their keys are"));
