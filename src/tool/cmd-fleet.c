/*
 * imss-renew fleet check / fleet renew: the employers of a fleet file
 * (fleet-file.c), their inventory, and the renewal of every one that is
 * due with the same engine as `renew` (imss_renew with the options filled
 * from the row).  Each token is opened and logged in once for the whole
 * run (fleet-run.c keeps them); one failing employer does not stop the
 * others; a summary table, or one JSON document, at the end.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"

#define COMMAND "fleet"
#define ARG(field) offsetof(struct fleet_args, field)

static const struct tool_option options[] = {
	{ "file", TOOL_ARG_MANDATORY, ARG(file), N_("FILE"),
	  N_("the fleet file: CSV with a header (registro_patronal,\nuser, current, token, ...)") },
	{ "token", TOOL_ARG_REQUIRED, ARG(token), N_("URI"),
	  N_("the token of rows without a token column") },
	{ "server", TOOL_ARG_REQUIRED, ARG(server), N_("URL"),
	  N_("renew: the service of rows without a server column") },
	{ "ca", TOOL_ARG_REQUIRED, ARG(ca), N_("FILE"), N_("renew: the service's CA (PEM)") },
	{ "type", TOOL_ARG_REQUIRED, ARG(type), N_("TYPE"),
	  N_("renew: the new keys' type (default rsa:2048)") },
	{ "pin-source", TOOL_ARG_REQUIRED, ARG(pin_source), N_("SRC"),
	  N_("the PIN, read once per token: tty (default),\nfile:PATH, fd:N or env:NAME") },
	{ "idse-password-source", TOOL_ARG_REQUIRED, ARG(idse_password_source), N_("SRC"),
	  N_("renew: the IDSE passwords; a file: path may hold\n{registro_patronal} and {user}") },
	{ "password-source", TOOL_ARG_REQUIRED, ARG(password_source), N_("SRC"),
	  N_("the passwords of current .pfx/.key files (same)") },
	{ "state-dir", TOOL_ARG_REQUIRED, ARG(state_dir), N_("DIR"),
	  N_("renew: journals and pinned CAs") },
	{ "out-dir", TOOL_ARG_REQUIRED, ARG(out_dir), N_("DIR"),
	  N_("renew: where letters and certificate copies go") },
	{ "due", TOOL_ARG_REQUIRED, ARG(due_text), N_("DAYS"),
	  N_("renew: those expiring within DAYS (default 30;\nexpired ones included)") },
	{ "days", TOOL_ARG_REQUIRED, ARG(days_text), N_("DAYS"),
	  N_("check: warn within DAYS of expiry (default 30)") },
	{ "report", TOOL_ARG_REQUIRED, ARG(report), N_("FILE"),
	  N_("renew: write the summary there as JSON") },
	{ "notify-command", TOOL_ARG_REQUIRED, ARG(notify_command), N_("CMD"),
	  N_("run CMD (sh -c) with the JSON summary on stdin when\nsomething expires, was renewed or failed") },
	{ "timeout", TOOL_ARG_REQUIRED, ARG(timeout_text), N_("SECONDS"),
	  N_("renew: how long to wait for each delayed\ncertificate (default 600)") },
	{ "jobs", TOOL_ARG_REQUIRED, ARG(jobs_text), N_("N"),
	  N_("renew: employers under way at once (default 3):\nwhile one uses the token, the others talk to the\nservice") },
	{ "wait", TOOL_ARG_NONE, ARG(wait_lock), NULL,
	  N_("renew: wait for another renewal of a token") },
	{ "yes", TOOL_ARG_NONE, ARG(yes), NULL,
	  N_("renew: ask nothing (fleet renew never asks: it\nsigns each terms letter, as renew --yes)") },
	TOOL_OPTION_END,
};

static void
synopsis(void)
{
	printf(_("Usage: %s [GLOBAL OPTIONS] fleet check --file FILE [--token URI]\n"
	         "         [--days DAYS] [--pin-source SRC] [--password-source SRC]\n"
	         "         [--notify-command CMD]\n"
	         "       %s [GLOBAL OPTIONS] fleet renew --file FILE [--due DAYS]\n"
	         "         [--token URI] [--server URL] [--ca FILE] [--type TYPE]\n"
	         "         [--pin-source SRC] [--idse-password-source SRC]\n"
	         "         [--password-source SRC] [--state-dir DIR] [--out-dir DIR]\n"
	         "         [--report FILE] [--timeout SECONDS] [--jobs N] [--wait] [--yes]\n"
	         "         [--notify-command CMD]\n"
	         "The employers of a fleet file: their certificates (check), and the\n"
	         "renewal of every one that expires within --due days (renew), each as\n"
	         "'renew --yes' would do it, with one login per token for the run.  One\n"
	         "failing employer does not stop the others; run the same command again\n"
	         "after any interruption.\n"),
	       TOOL_NAME, TOOL_NAME);
}

static void
examples(void)
{
	printf(_("\nExit status: 0 all renewed or not due; 1 some failed; 12 some still\n"
	         "pending; check: 10 some expire within --days, 11 some expired.\n"
	         "\nExamples:\n"
	         "  %s fleet check --file empresas.csv --token pkcs11:token=IMSS\n"
	         "  %s fleet renew --file empresas.csv --token pkcs11:token=IMSS \\\n"
	         "        --server https://idse.example:8443 --ca imss-ca.pem \\\n"
	         "        --pin-source file:pin \\\n"
	         "        --idse-password-source 'file:secretos/{registro_patronal}.pass'\n"),
	       TOOL_NAME, TOOL_NAME);
}

/* A whole number of days or seconds from min to max, into *out. */
static int
parse_number(struct tool *t, const char *text, const char *option, long min, long max, long *out)
{
	char *end = NULL;
	long value;

	if (text == NULL)
		return TOOL_EXIT_OK;
	value = strtol(text, &end, 10);
	if (*text == '\0' || *end != '\0' || value < min || value > max)
		return tool_usage_error(t, COMMAND, _("%s takes a number from %ld to %ld"), option,
		                        min, max);
	*out = value;
	return TOOL_EXIT_OK;
}

static int
check_args(struct tool *t, struct fleet_args *a)
{
	int rc;

	a->due = a->days = 30;
	a->jobs = 3;
	rc = parse_number(t, a->due_text, "--due", 0, 3650, &a->due);
	if (rc == TOOL_EXIT_OK)
		rc = parse_number(t, a->days_text, "--days", 0, 3650, &a->days);
	if (rc == TOOL_EXIT_OK)
		rc = parse_number(t, a->timeout_text, "--timeout", 1, 86400, &a->timeout);
	if (rc == TOOL_EXIT_OK)
		rc = parse_number(t, a->jobs_text, "--jobs", 1, 64, &a->jobs);
	if (rc != TOOL_EXIT_OK)
		return rc;
	if (a->renew && a->days_text)
		return tool_usage_error(t, COMMAND, "%s",
		                        _("--days is for fleet check; renew takes --due"));
	if (!a->renew &&
	    (a->due_text || a->jobs_text || a->report || a->server || a->idse_password_source ||
	     a->state_dir || a->out_dir || a->timeout_text || a->wait_lock || a->type || a->ca))
		return tool_usage_error(t, COMMAND, "%s",
		                        _("fleet check takes --file, --token, --days, --pin-source, --password-source and --notify-command"));
	if (a->server && strncmp(a->server, "https://", 8) != 0)
		return tool_usage_error(t, COMMAND, "%s", _("--server must be an https:// URL"));
	if (a->type && imss_keyspec_parse(a->type, &a->keyspec) != IMSS_OK)
		return tool_usage_error(t, COMMAND, "%s",
		                        _("--type must be rsa:2048, rsa:3072, rsa:4096, ec:prime256v1 or ec:secp384r1"));
	return TOOL_EXIT_OK;
}

/* What each row needs from the options: a token, and for renew a server. */
static int
check_rows(struct tool *t, const struct fleet_args *a, const struct fleet_file *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		if (f->rows[i].token == NULL && a->token == NULL)
			return tool_fail_detail(t, IMSS_ERR_FORMAT,
			                        _("%s, line %lu: no token for %s; give a token column or --token."),
			                        a->file, f->rows[i].line,
			                        f->rows[i].registro_patronal);
		if (a->renew && f->rows[i].server == NULL && a->server == NULL)
			return tool_fail_detail(t, IMSS_ERR_FORMAT,
			                        _("%s, line %lu: no server for %s; give a server column or --server."),
			                        a->file, f->rows[i].line,
			                        f->rows[i].registro_patronal);
	}
	return TOOL_EXIT_OK;
}

static int
read_fleet_file(struct tool *t, const struct fleet_args *a, struct fleet_file *f)
{
	unsigned char *data = NULL;
	char *error = NULL;
	size_t len = 0;
	int rc = tool_read_file(t, a->file, &data, &len);

	if (rc != TOOL_EXIT_OK)
		return rc;
	if (fleet_file_parse((const char *)data, len, f, &error) != 0) {
		rc = tool_fail_detail(t, IMSS_ERR_FORMAT, _("%s, %s. Nothing was done."), a->file,
		                      error);
		free(error);
	}
	free(data);
	return rc == TOOL_EXIT_OK ? check_rows(t, a, f) : rc;
}

/* The env: variables every secret source of the run reads, kept from the
 * notify command's environment (the options' and each row's). */
static void
note_secret_sources(const struct fleet_args *a, const struct fleet_file *f)
{
	size_t i;

	tool_notify_note_source(a->idse_password_source);
	tool_notify_note_source(a->password_source);
	for (i = 0; i < f->n; i++) {
		tool_notify_note_source(f->rows[i].idse_password_source);
		tool_notify_note_source(f->rows[i].password_source);
	}
}

static int
run(struct tool *t, void *args)
{
	struct fleet_args *a = args;
	struct fleet_file f = { 0 };
	int rc;

	if (t->subcommand < 0)
		return tool_usage_error(t, COMMAND, "%s", _("fleet takes check or renew"));
	a->renew = t->subcommand == 1;
	rc = check_args(t, a);
	if (rc == TOOL_EXIT_OK)
		rc = read_fleet_file(t, a, &f);
	if (rc != TOOL_EXIT_OK)
		goto out;
	note_secret_sources(a, &f);
	if (a->renew) {
		tool_stop_signals(1); /* the renewal under way stops between steps */
		rc = fleet_renew(t, a, &f);
		tool_stop_signals(0);
	} else {
		rc = fleet_check(t, a, &f);
	}
out:
	fleet_file_clear(&f);
	return rc;
}

static const char *const subcommands[] = { "check", "renew", NULL };

const struct tool_command cmd_fleet = {
	.name = COMMAND,
	.summary = N_("check or renew the employers of a fleet file"),
	.options = options,
	.synopsis = synopsis,
	.examples = examples,
	.run = run,
	.args_size = sizeof(struct fleet_args),
	.subcommands = subcommands,
};
