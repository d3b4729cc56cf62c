/*
 * imss-renew check: when do the certificates expire?  For reminders: a
 * systemd timer, a script, the insertion of a token (udev/).  The
 * certificates of a file, a credential (.pfx or .cer + .key), one token,
 * or, with no source, every token present (no login needed).  One line per
 * certificate (who, serial, days left) and a summary line, or --json.
 *
 * The exit status says what was found: 0 every certificate is valid for at
 * least --days more days (or none was found), 10 one expires within --days
 * days, 11 one has expired (10 and 11 are documented with the tool's other
 * exit codes and never renumbered), 1 a failure, 2 a usage error.
 *
 * CA certificates (basicConstraints CA:TRUE) are not checked: a token or a
 * PEM bundle may carry the issuer's certificate, which is not the user's
 * to renew.  With no source, uninitialized tokens and p11-kit's trust
 * module (the system's CA store) are skipped.
 *
 * When stdout is the journal (systemd's $JOURNAL_STREAM names it), each
 * line starts with its syslog priority, "<3>" for expired, "<4>" for
 * expiring and "<6>" otherwise, so that `journalctl -p warning` shows the
 * reminders.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "tool.h"

#define COMMAND "check"

/* Exit status of check (see `imss-renew --help`): never renumbered. */
enum {
	CHECK_EXIT_EXPIRING = 10,
	CHECK_EXIT_EXPIRED = 11,
};

#define DEFAULT_DAYS 30L
#define MAX_DAYS 36500L

static const struct tool_option options[] = {
	CERT_ARGS_OPTIONS(N_(
	        "log in to the token first, for tokens that\nshow certificates only after login (needs\n--token: a PIN belongs to one token)")),
	{ "days", TOOL_ARG_REQUIRED, offsetof(struct cert_args, days_text), N_("N"),
	  N_("how many days ahead to warn (default 30)") },
	TOOL_OPTION_END,
};

/* What a certificate's expiry is; the words are part of the JSON output. */
enum verdict {
	VERDICT_OK = 0,
	VERDICT_EXPIRING = 1,
	VERDICT_EXPIRED = 2,
};

static const char *const verdict_json[] = { "ok", "expiring", "expired" };

static void
synopsis(void)
{
	printf(_("Usage: %s [GLOBAL OPTIONS] %s [--cert FILE | --credential FILE\n"
	         "         [--key-file FILE] | --token URI] [--days N] [--login]\n"
	         "         [--pin-source SRC] [--password-source SRC]\n"
	         "Check when certificates expire, for reminders: one line per\n"
	         "certificate with who it names (razon social, registro patronal), its\n"
	         "serial and the days left, then a summary.  Without --cert, --credential\n"
	         "or --token: every token present, without logging in (the system's CA\n"
	         "store and uninitialized tokens are skipped).  CA certificates are not\n"
	         "checked.\n"),
	       TOOL_NAME, COMMAND);
}

static void
examples(void)
{
	fputs(_("\nExit status:\n"
	        "   0  every certificate is valid for at least N more days, or there\n"
	        "      is none\n"
	        "   1  failure: a file or token could not be read\n"
	        "   2  usage error\n"
	        "  10  a certificate expires within N days\n"
	        "  11  a certificate has expired (before 10 when both apply)\n"),
	      stdout);
	printf(_("\nExamples:\n"
	         "  %s %s\n"
	         "  %s %s --cert empresa.cer --days 45\n"
	         "  %s %s --token 'pkcs11:token=My%%20Token'; echo \"exit status $?\"\n"
	         "  %s --json %s | jq -r '.certificates[] | \"\\(.serial) \\(.days_left)\"'\n"),
	       TOOL_NAME, COMMAND, TOOL_NAME, COMMAND, TOOL_NAME, COMMAND, TOOL_NAME, COMMAND);
}

/* A whole number of days, 0 to MAX_DAYS. */
static int
parse_days(const char *text, long *out)
{
	char *end;
	long v;

	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || v > MAX_DAYS)
		return -1;
	*out = v;
	return 0;
}

static int
check_args(struct tool *t, const struct cert_args *a, long *days)
{
	int rc = cert_args_check(t, COMMAND, a, 1);

	*days = DEFAULT_DAYS;
	if (rc == TOOL_EXIT_OK && a->days_text && parse_days(a->days_text, days) != 0)
		rc = tool_usage_error(t, COMMAND,
		                      _("malformed --days: a whole number from 0 to %ld"), MAX_DAYS);
	return rc;
}

/* Fewer than days whole days left: expiring; days_left is rounded down. */
static enum verdict
verdict_of(const imss_cert_info *info, long days)
{
	if (info->expired)
		return VERDICT_EXPIRED;
	return info->days_left < days ? VERDICT_EXPIRING : VERDICT_OK;
}

/* Each certificate's verdict; CA certificates are not the employer's and
 * are dropped. */
static void
judge(struct cert_entries *e, long days)
{
	size_t i, kept = 0;

	for (i = 0; i < e->n; i++) {
		if (e->v[i].is_ca) {
			free(e->v[i].location);
			free(e->v[i].key_location);
			free(e->v[i].token_label);
			imss_cert_info_clear(&e->v[i].info);
			continue;
		}
		e->v[i].verdict = verdict_of(&e->v[i].info, days);
		e->v[kept++] = e->v[i];
	}
	e->n = kept;
}

/*
 * Tokens that hold no one's certificate: not initialized (nothing on
 * them, and some modules refuse a session), or p11-kit's trust module, the
 * system's CA certificates.
 */
static int
skip_token(const imss_token_info *info)
{
	static const char trust[] = "p11-kit-trust";

	return !info->initialized || (info->model && strcmp(info->model, trust) == 0) ||
	       (info->module_name && strcmp(info->module_name, trust) == 0);
}

static int
from_every_token(struct tool *t, struct cert_entries *e)
{
	imss_token_info *infos = NULL;
	size_t count = 0, i;
	imss_ctx *ctx;
	imss_err err;

	err = tool_ctx(t, &ctx);
	if (err == IMSS_OK)
		err = imss_list_tokens(ctx, &infos, &count);
	for (i = 0; err == IMSS_OK && i < count; i++)
		if (!skip_token(&infos[i]))
			err = cert_entries_from_token(t, infos[i].uri, NULL, e);
	imss_token_info_free(infos, count);
	return err == IMSS_OK ? TOOL_EXIT_OK : tool_fail(t, err, 0);
}

/* Is stdout systemd's journal?  $JOURNAL_STREAM is "DEVICE:INODE". */
static int
stdout_is_journal(void)
{
	const char *s = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!s || sscanf(s, "%llu:%llu", &dev, &ino) != 2 || fstat(STDOUT_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* The syslog priority prefix of a line about verdict v, or "". */
static const char *
priority(int journal, enum verdict v)
{
	if (!journal)
		return "";
	switch (v) {
	case VERDICT_EXPIRED:
		return "<3>"; /* LOG_ERR */
	case VERDICT_EXPIRING:
		return "<4>"; /* LOG_WARNING */
	default:
		return "<6>"; /* LOG_INFO */
	}
}

/* Who the certificate names: razon social and registro patronal. */
static void
who_text(const imss_cert_info *info, char *buf, size_t size)
{
	const char *rs = info->razon_social, *rp = info->registro_patronal;

	if (rs && *rs && rp && *rp)
		snprintf(buf, size, _("%s, registro patronal %s"), rs, rp);
	else if (rp && *rp)
		snprintf(buf, size, _("registro patronal %s"), rp);
	else
		snprintf(buf, size, "%s", rs && *rs ? rs : info->subject);
}

static void
print_entry(const struct cert_entry *x, int journal)
{
	static const char *const words[] = {
		N_("OK"),
		N_("EXPIRING"),
		N_("EXPIRED"),
	};
	char who[512], when[256], where[1024], until[TOOL_TIME_SIZE];
	long days = x->info.days_left;

	who_text(&x->info, who, sizeof(who));
	tool_time_text(x->info.not_after, until, sizeof(until));
	if (x->verdict == VERDICT_EXPIRED)
		snprintf(when, sizeof(when),
		         ngettext("expired %ld day ago, on %s", "expired %ld days ago, on %s",
		                  (unsigned long)-days),
		         -days, until);
	else
		snprintf(when, sizeof(when),
		         ngettext("%ld day left, until %s", "%ld days left, until %s",
		                  (unsigned long)days),
		         days, until);
	if (x->source == CERT_SOURCE_TOKEN)
		snprintf(where, sizeof(where), _("token '%s'"), x->token_label);
	else
		snprintf(where, sizeof(where), _("file %s"), x->location);
	fputs(priority(journal, x->verdict), stdout);
	/* TRANSLATORS: verdict (OK, EXPIRING, EXPIRED), who, serial, days
	   left, where. */
	printf(_("%s: %s, serial %s: %s; %s\n"), _(words[x->verdict]), who, x->info.serial, when,
	       where);
}

/* A summary line: n certificates have verdict v. */
static void
print_summary(int journal, enum verdict v, size_t n, long days)
{
	fputs(priority(journal, v), stdout);
	if (v == VERDICT_EXPIRED)
		printf(ngettext("%zu certificate has expired: renew it with 'imss-renew renew'.\n",
		                "%zu certificates have expired: renew them with 'imss-renew renew'.\n",
		                n),
		       n);
	else if (v == VERDICT_EXPIRING)
		printf(ngettext("%zu certificate expires within %ld days: renew it with 'imss-renew renew'.\n",
		                "%zu certificates expire within %ld days: renew them with 'imss-renew renew'.\n",
		                n),
		       n, days);
	else if (n == 0)
		puts(_("No certificates found."));
	else
		printf(ngettext("%zu certificate is valid for at least %ld more days.\n",
		                "%zu certificates are valid for at least %ld more days.\n", n),
		       n, days);
}

static void
print_text(const struct cert_entries *e, long days)
{
	int journal = stdout_is_journal();
	size_t i, count[3] = { 0, 0, 0 };

	for (i = 0; i < e->n; i++) {
		print_entry(&e->v[i], journal);
		count[e->v[i].verdict]++;
	}
	if (count[VERDICT_EXPIRED])
		print_summary(journal, VERDICT_EXPIRED, count[VERDICT_EXPIRED], days);
	if (count[VERDICT_EXPIRING])
		print_summary(journal, VERDICT_EXPIRING, count[VERDICT_EXPIRING], days);
	if (!count[VERDICT_EXPIRED] && !count[VERDICT_EXPIRING])
		print_summary(journal, VERDICT_OK, e->n, days);
}

static int
print_json(const struct cert_entries *e, long days, enum verdict worst)
{
	json_object *root = cert_entries_json(e, verdict_json);

	if (!root || tool_json_str(root, "status", verdict_json[worst]) ||
	    tool_json_int(root, "days", days)) {
		json_object_put(root);
		return -1;
	}
	return tool_json_print(root);
}

static int
run(struct tool *t, int argc, char **argv)
{
	static const int exit_of[] = {
		TOOL_EXIT_OK,
		CHECK_EXIT_EXPIRING,
		CHECK_EXIT_EXPIRED,
	};
	struct cert_args a = { 0 };
	struct cert_entries e = { 0 };
	enum verdict worst = VERDICT_OK;
	long days = 0;
	size_t i;
	int done = 0;
	int rc;

	rc = tool_parse(t, &cmd_check, argc, argv, &a, &done);
	if (rc == TOOL_EXIT_OK && !done)
		rc = check_args(t, &a, &days);
	if (rc != TOOL_EXIT_OK || done)
		goto out;
	if (a.cert || a.credential || a.token)
		rc = cert_entries_collect(t, COMMAND, &a, &e);
	else
		rc = from_every_token(t, &e);
	if (rc != TOOL_EXIT_OK)
		goto out;
	judge(&e, days);
	for (i = 0; i < e.n; i++)
		if (e.v[i].verdict > (int)worst)
			worst = (enum verdict)e.v[i].verdict;
	if (!t->json)
		print_text(&e, days);
	else if (print_json(&e, days, worst) != 0) {
		rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
		goto out;
	}
	rc = exit_of[worst];
out:
	cert_entries_clear(&e);
	return rc;
}

TOOL_COMMAND(cmd_check, N_("check when certificates expire (for reminders; exit status 10, 11)"));
