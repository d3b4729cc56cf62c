/*
 * imss-renew check: when do the certificates expire?  For reminders: a
 * systemd timer, a script, the insertion of a token (udev/).  The
 * certificates of a file, a credential (.pfx or .cer + .key), one token,
 * or, with no source, every token present (no login needed).  One line per
 * certificate (who, serial, days left) and a summary line, or --json.
 *
 * Only the employer's current certificates count: one superseded by a
 * newer certificate of the same registro patronal with its key, or retired
 * by --retire-old, is no reminder (certlist.c, cert_entries_mark()); --all
 * shows them, marked.  Lines are sorted by days left, most urgent first.
 *
 * The exit status says what was found: 0 every current certificate is
 * valid for at least --days more days, 10 one expires within --days days,
 * 11 one has expired (10 and 11 are documented with the tool's other exit
 * codes and never renumbered), 1 a failure, also when nothing was found to
 * check (no token, no reader, pcscd not running, no certificate): that is
 * never success.  2 a usage error.
 *
 * --notify-command runs a command with the JSON document on its standard
 * input when the status is 10 or 11, and with {"status":"failed",...}
 * when nothing was found to check (notify.c).
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
#include <sys/socket.h>
#include <sys/un.h>
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
	{ "all", TOOL_ARG_NONE, offsetof(struct cert_args, all), NULL,
	  N_("also show superseded and retired certificates\n(marked; they never count)") },
	{ "notify-command", TOOL_ARG_REQUIRED, offsetof(struct cert_args, notify_command), N_("CMD"),
	  N_("when one expires within N days or has expired,\nor nothing is found, run CMD (/bin/sh -c) with\nthe JSON result on its standard input") },
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
	printf(_("Usage: %s [GLOBAL OPTIONS] %s [--cert FILE|DIR... | --credential FILE\n"
	         "         [--key-file FILE] | --token URI] [--days N] [--all] [--login]\n"
	         "         [--pin-source SRC] [--password-source SRC] [--notify-command CMD]\n"
	         "Check when certificates expire, for reminders: one line per\n"
	         "certificate with who it names (razon social, registro patronal), its\n"
	         "serial and the days left, most urgent first, then a summary.  Without\n"
	         "--cert, --credential or --token: every token present, without logging\n"
	         "in (the system's CA store and uninitialized tokens are skipped).  CA\n"
	         "certificates are not checked.  A certificate superseded by a newer one\n"
	         "of the same registro patronal whose key is present, or retired by\n"
	         "'renew --retire-old', is not counted (shown with --all).\n"),
	       TOOL_NAME, COMMAND);
}

static void
examples(void)
{
	fputs(_("\nExit status:\n"
	        "   0  every current certificate is valid for at least N more days\n"
	        "   1  failure: a file or token could not be read, or nothing was\n"
	        "      found to check (no token, reader or certificate)\n"
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

/* What a connection to pcscd, which smart-card readers go through, says. */
enum pcscd_state {
	PCSCD_RUNNING,
	PCSCD_NOT_RUNNING,
	PCSCD_NO_ACCESS,
};

static enum pcscd_state
pcscd_state(void)
{
	const char *path = getenv("PCSCLITE_CSOCK_NAME");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	enum pcscd_state state = PCSCD_RUNNING;
	int fd;

	if (!path || !*path)
		path = "/run/pcscd/pcscd.comm";
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return PCSCD_RUNNING; /* nothing can be told */
	if (connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) != 0)
		state = errno == EACCES || errno == EPERM ? PCSCD_NO_ACCESS : PCSCD_NOT_RUNNING;
	close(fd);
	return state;
}

/* Why nothing was found to check, when nothing was: the error and its
 * detail (translated), reported and notified by run(). */
struct nothing {
	imss_err err;
	const char *why;
	char buf[1024];
};

/* No token at all: why, as far as the tool can tell. */
static const char *
no_token_reason(void)
{
	enum pcscd_state pcscd = pcscd_state();

	if (pcscd == PCSCD_NOT_RUNNING)
		return _("No token was found, and pcscd, the service smart-card readers and USB tokens go through, is not running: start it ('systemctl start pcscd.socket'), plug in the token and check again.");
	if (pcscd == PCSCD_NO_ACCESS)
		return _("No token was found, and this user has no access to pcscd, the service smart-card readers go through: run as a user allowed to use the reader (polkit, group), or check again as that user.");
	return _("No token was found: plug in the token (or its reader) and check again; 'imss-renew tokens' lists what is seen.");
}

/* Every initialized token present; none seen or none initialized fills
 * *nothing. */
static int
from_every_token(struct tool *t, struct cert_entries *e, struct nothing *nothing)
{
	imss_token_info *infos = NULL;
	size_t count = 0, checked = 0, i;
	imss_ctx *ctx;
	imss_err err;

	err = tool_ctx(t, &ctx);
	if (err == IMSS_OK)
		err = imss_list_tokens(ctx, &infos, &count);
	for (i = 0; err == IMSS_OK && i < count; i++)
		if (!skip_token(&infos[i])) {
			err = cert_entries_from_token(t, infos[i].uri, NULL, e);
			checked++;
		}
	imss_token_info_free(infos, count);
	if (err != IMSS_OK)
		return tool_fail(t, err, 0);
	nothing->err = IMSS_ERR_NO_TOKEN;
	if (count == 0)
		nothing->why = no_token_reason();
	else if (checked == 0)
		nothing->why = _(
		        "No initialized token was found: the tokens present are empty (not initialized) or the system's CA store.  Plug in the token that holds the certificate and check again.");
	return TOOL_EXIT_OK;
}

/* No employer certificate where the user pointed. */
static void
nothing_found(const struct cert_args *a, struct nothing *nothing)
{
	nothing->err = IMSS_ERR_NO_OBJECT;
	if (a->token) {
		snprintf(nothing->buf, sizeof(nothing->buf),
		         _("The token %s holds no employer certificate.  Some tokens show certificates only after login: try --login."),
		         a->token);
		nothing->why = nothing->buf;
	} else if (a->certs.n || a->credential)
		nothing->why =
		        _("The files given hold no employer certificate (only CA certificates).");
	else
		nothing->why = _(
		        "The tokens present hold no employer certificate.  Some tokens show certificates only after login: check with --token URI --login.");
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

/* A certificate that is no longer the employer's (--all): what replaced
 * it, never a reminder. */
static void
print_former(const struct cert_entry *x, const char *who, const char *when, const char *where,
             int journal)
{
	fputs(priority(journal, VERDICT_OK), stdout);
	if (x->retired)
		/* TRANSLATORS: who, serial, days left, where. */
		printf(_("RETIRED: %s, serial %s: %s; %s; retired by --retire-old\n"), who,
		       x->info.serial, when, where);
	else
		/* TRANSLATORS: who, serial, days left, where, the newer serial. */
		printf(_("SUPERSEDED: %s, serial %s: %s; %s; superseded by serial %s\n"), who,
		       x->info.serial, when, where, x->superseded_by);
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
	if (!cert_entry_current(x)) {
		print_former(x, who, when, where, journal);
		return;
	}
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
print_text(const struct cert_entries *e, long days, int all)
{
	int journal = stdout_is_journal();
	size_t i, former = 0, count[3] = { 0, 0, 0 };

	for (i = 0; i < e->n; i++) {
		if (all || cert_entry_current(&e->v[i]))
			print_entry(&e->v[i], journal);
		if (cert_entry_current(&e->v[i]))
			count[e->v[i].verdict]++;
		else
			former++;
	}
	if (count[VERDICT_EXPIRED])
		print_summary(journal, VERDICT_EXPIRED, count[VERDICT_EXPIRED], days);
	if (count[VERDICT_EXPIRING])
		print_summary(journal, VERDICT_EXPIRING, count[VERDICT_EXPIRING], days);
	if (!count[VERDICT_EXPIRED] && !count[VERDICT_EXPIRING])
		print_summary(journal, VERDICT_OK, e->n - former, days);
	if (former) {
		fputs(priority(journal, VERDICT_OK), stdout);
		printf(ngettext("%zu superseded or retired certificate is not counted%s.\n",
		                "%zu superseded or retired certificates are not counted%s.\n", former),
		       former, all ? "" : _(" (shown with --all)"));
	}
}

/* The JSON document: every certificate with --all, else the current
 * ones; the worst verdict and the days.  NULL when out of memory. */
static json_object *
result_json(struct cert_entries *e, long days, enum verdict worst, int all)
{
	struct cert_entries shown = *e;
	json_object *root;
	size_t i;

	shown.v = calloc(e->n ? e->n : 1, sizeof(*e->v));
	if (!shown.v)
		return NULL;
	shown.n = 0;
	for (i = 0; i < e->n; i++)
		if (all || cert_entry_current(&e->v[i]))
			shown.v[shown.n++] = e->v[i];
	root = cert_entries_json(&shown, verdict_json);
	free(shown.v); /* the entries are e's */
	if (root && (tool_json_str(root, "status", verdict_json[worst]) ||
	             tool_json_int(root, "days", days))) {
		json_object_put(root);
		root = NULL;
	}
	return root;
}

/* Nothing to check is a failure, exit status 1, and notified: {"status":
 * "failed","days":N,"error":{"code","detail"}}. */
static int
fail_nothing(struct tool *t, const struct cert_args *a, long days, const struct nothing *nothing)
{
	json_object *root = json_object_new_object(), *error = json_object_new_object();
	int rc = tool_fail_detail(t, nothing->err, "%s", nothing->why);

	if (a->notify_command && root && error && !tool_json_str(root, "status", "failed") &&
	    !tool_json_int(root, "days", days) &&
	    !tool_json_str(error, "code", tool_error_code(nothing->err)) &&
	    !tool_json_str(error, "detail", nothing->why) && !tool_json_add(root, "error", error)) {
		error = NULL;
		tool_notify(t, a->notify_command,
		            json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	}
	json_object_put(error);
	json_object_put(root);
	return rc;
}

/* --notify-command with the JSON document, when there is a reminder. */
static void
notify(struct tool *t, const char *cmd, json_object *root, enum verdict worst)
{
	if (cmd && worst != VERDICT_OK && root)
		tool_notify(t, cmd,
		            json_object_to_json_string_ext(root,
		                                           JSON_C_TO_STRING_PLAIN |
		                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int
run(struct tool *t, void *args)
{
	static const int exit_of[] = {
		TOOL_EXIT_OK,
		CHECK_EXIT_EXPIRING,
		CHECK_EXIT_EXPIRED,
	};
	struct cert_args *a = args;
	struct cert_entries e = { 0 };
	struct nothing nothing = { .why = NULL };
	enum verdict worst = VERDICT_OK;
	json_object *root = NULL;
	long days = 0;
	size_t i;
	int rc;

	rc = check_args(t, a, &days);
	if (rc != TOOL_EXIT_OK)
		goto out;
	if (a->certs.n || a->credential || a->token)
		rc = cert_entries_collect(t, COMMAND, a, &e);
	else
		rc = from_every_token(t, &e, &nothing);
	if (rc != TOOL_EXIT_OK)
		goto out;
	judge(&e, days);
	if (!nothing.why && e.n == 0)
		nothing_found(a, &nothing);
	if (nothing.why) {
		rc = fail_nothing(t, a, days, &nothing);
		goto out;
	}
	if (cert_entries_mark(&e) != IMSS_OK) {
		rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
		goto out;
	}
	for (i = 0; i < e.n; i++)
		if (cert_entry_current(&e.v[i]) && e.v[i].verdict > (int)worst)
			worst = (enum verdict)e.v[i].verdict;
	root = result_json(&e, days, worst, a->all);
	if (!root) {
		rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
		goto out;
	}
	if (!t->json)
		print_text(&e, days, a->all);
	else if (tool_json_print(json_object_get(root)) != 0) {
		rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
		goto out;
	}
	notify(t, a->notify_command, root, worst);
	rc = exit_of[worst];
out:
	json_object_put(root);
	cert_entries_clear(&e);
	return rc;
}

TOOL_COMMAND(cmd_check, struct cert_args,
             N_("check when certificates expire (for reminders; exit status 10, 11)"));
