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
#include <getopt.h>
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

enum {
	OPT_CERT = TOOL_OPT_LONG,
	OPT_CREDENTIAL,
	OPT_KEY_FILE,
	OPT_TOKEN,
	OPT_DAYS,
	OPT_PASSWORD_SOURCE,
	OPT_PIN_SOURCE,
	OPT_LOGIN,
	OPT_PIN,
	OPT_PASSWORD,
};

static const struct option options[] = {
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "credential", required_argument, NULL, OPT_CREDENTIAL },
	{ "key-file", required_argument, NULL, OPT_KEY_FILE },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "days", required_argument, NULL, OPT_DAYS },
	{ "password-source", required_argument, NULL, OPT_PASSWORD_SOURCE },
	{ "pin-source", required_argument, NULL, OPT_PIN_SOURCE },
	{ "login", no_argument, NULL, OPT_LOGIN },
	{ "help", no_argument, NULL, 'h' },
	{ "pin", optional_argument, NULL, OPT_PIN },
	{ "password", optional_argument, NULL, OPT_PASSWORD },
	{ NULL, 0, NULL, 0 },
};

struct check_args {
	const char *cert;
	const char *credential;
	const char *key_file;
	const char *token;       /* NULL with no source: every token present */
	const char *days_text;
	const char *password_source;
	const char *pin_source;
	long days;
	int login;
	int help;
};

/* What a certificate's expiry is; the words are part of the JSON output. */
enum verdict {
	VERDICT_OK = 0,
	VERDICT_EXPIRING = 1,
	VERDICT_EXPIRED = 2,
};

static const char *const verdict_json[] = { "ok", "expiring", "expired" };

static void usage(void)
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
	fputs(_("\nOptions:\n"
	        "  --cert FILE             certificates in a file: DER, PEM or PKCS#7\n"
	        "  --credential FILE       a .pfx/.p12, or a .cer with its .key next to it\n"
	        "  --key-file FILE         the .key of a .cer, when it has another name\n"
	        "  --token URI             the certificates on one token (PKCS#11 URI)\n"
	        "  --days N                how many days ahead to warn (default 30)\n"
	        "  --login                 log in to the token first, for tokens that\n"
	        "                          show certificates only after login (needs\n"
	        "                          --token: a PIN belongs to one token)\n"
	        "  --pin-source SRC        where the PIN comes from (implies --login):\n"
	        "                          tty (default), file:PATH, fd:N or env:NAME\n"
	        "  --password-source SRC   the password of the .pfx or .key: same forms\n"
	        "  -h, --help              print this help and exit\n"), stdout);
	fputs(_("\nExit status:\n"
	        "   0  every certificate is valid for at least N more days, or there\n"
	        "      is none\n"
	        "   1  failure: a file or token could not be read\n"
	        "   2  usage error\n"
	        "  10  a certificate expires within N days\n"
	        "  11  a certificate has expired (before 10 when both apply)\n"), stdout);
	printf(_("\nExamples:\n"
	         "  %s %s\n"
	         "  %s %s --cert empresa.cer --days 45\n"
	         "  %s %s --token 'pkcs11:token=My%%20Token'; echo \"exit status $?\"\n"
	         "  %s --json %s | jq -r '.certificates[] | \"\\(.serial) \\(.days_left)\"'\n"),
	       TOOL_NAME, COMMAND, TOOL_NAME, COMMAND, TOOL_NAME, COMMAND, TOOL_NAME, COMMAND);
}

/* A whole number of days, 0 to MAX_DAYS. */
static int parse_days(const char *text, long *out)
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

static int parse_option(struct tool *t, struct check_args *a, char **argv, int c)
{
	switch (c) {
	case OPT_CERT:
		a->cert = optarg;
		return TOOL_EXIT_OK;
	case OPT_CREDENTIAL:
		a->credential = optarg;
		return TOOL_EXIT_OK;
	case OPT_KEY_FILE:
		a->key_file = optarg;
		return TOOL_EXIT_OK;
	case OPT_TOKEN:
		a->token = optarg;
		return TOOL_EXIT_OK;
	case OPT_DAYS:
		a->days_text = optarg;
		return TOOL_EXIT_OK;
	case OPT_PASSWORD_SOURCE:
		a->password_source = optarg;
		return TOOL_EXIT_OK;
	case OPT_PIN_SOURCE:
		a->pin_source = optarg;
		return TOOL_EXIT_OK;
	case OPT_LOGIN:
		a->login = 1;
		return TOOL_EXIT_OK;
	case 'h':
		a->help = 1;
		return TOOL_EXIT_OK;
	case OPT_PIN:
		return tool_refuse_pin(t, COMMAND);
	case OPT_PASSWORD:
		return tool_refuse_password(t, COMMAND);
	default:
		return tool_bad_option(t, COMMAND, argv, c);
	}
}

static int check_args(struct tool *t, struct check_args *a)
{
	if (!!a->cert + !!a->credential + !!a->token > 1)
		return tool_usage_error(t, COMMAND, "%s",
		                        _("give at most one of --cert, --credential and --token"));
	if (a->key_file && !a->credential)
		return tool_usage_error(t, COMMAND, "%s",
		                        _("--key-file goes with --credential FILE.cer"));
	if (a->key_file && tool_is_pkcs12_name(a->credential))
		return tool_usage_error(t, COMMAND, "%s",
		                        _("--key-file goes with a .cer; a .pfx holds its own key"));
	if (a->password_source && !a->credential)
		return tool_usage_error(t, COMMAND, "%s",
		                        _("--password-source goes with --credential"));
	if ((a->login || a->pin_source) && !a->token)
		return tool_usage_error(t, COMMAND, "%s",
		                        _("--login and --pin-source go with --token URI"));
	a->days = DEFAULT_DAYS;
	if (a->days_text && parse_days(a->days_text, &a->days) != 0)
		return tool_usage_error(t, COMMAND,
		                        _("malformed --days: a whole number from 0 to %ld"),
		                        MAX_DAYS);
	return TOOL_EXIT_OK;
}

static int parse_args(struct tool *t, int argc, char **argv, struct check_args *a)
{
	int rc;
	int c;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		rc = parse_option(t, a, argv, c);
		if (rc != TOOL_EXIT_OK || a->help)
			return rc;
	}
	if (optind < argc)
		return tool_usage_error(t, COMMAND, _("unexpected argument '%s'"), argv[optind]);
	return check_args(t, a);
}

/* Fewer than days whole days left: expiring; days_left is rounded down. */
static enum verdict verdict_of(const imss_cert_info *info, long days)
{
	if (info->expired)
		return VERDICT_EXPIRED;
	return info->days_left < days ? VERDICT_EXPIRING : VERDICT_OK;
}

/* Each certificate's verdict; CA certificates are not the employer's and
 * are dropped. */
static void judge(struct cert_entries *e, long days)
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

static int from_token(struct tool *t, const struct check_args *a, struct cert_entries *e)
{
	imss_pin_source *src = NULL;
	imss_err err;
	int rc;

	if (a->login || a->pin_source) {
		rc = tool_pin_source(t, COMMAND, "--pin-source", a->pin_source, &src);
		if (rc != TOOL_EXIT_OK)
			return rc;
	}
	err = cert_entries_from_token(t, a->token, src, e);
	if (src)
		imss_pin_source_free(src);
	return err == IMSS_OK ? TOOL_EXIT_OK : tool_fail(t, err, 0);
}

/*
 * Tokens that hold no one's certificate: not initialized (nothing on
 * them, and some modules refuse a session), or p11-kit's trust module, the
 * system's CA certificates.
 */
static int skip_token(const imss_token_info *info)
{
	static const char trust[] = "p11-kit-trust";

	return !info->initialized ||
	       (info->model && strcmp(info->model, trust) == 0) ||
	       (info->module_name && strcmp(info->module_name, trust) == 0);
}

static int from_every_token(struct tool *t, const struct check_args *a, struct cert_entries *e)
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
static int stdout_is_journal(void)
{
	const char *s = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!s || sscanf(s, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDOUT_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* The syslog priority prefix of a line about verdict v, or "". */
static const char *priority(int journal, enum verdict v)
{
	if (!journal)
		return "";
	switch (v) {
	case VERDICT_EXPIRED:
		return "<3>";   /* LOG_ERR */
	case VERDICT_EXPIRING:
		return "<4>";   /* LOG_WARNING */
	default:
		return "<6>";   /* LOG_INFO */
	}
}

/* Who the certificate names: razon social and registro patronal. */
static void who_text(const imss_cert_info *info, char *buf, size_t size)
{
	const char *rs = info->razon_social, *rp = info->registro_patronal;

	if (rs && *rs && rp && *rp)
		snprintf(buf, size, _("%s, registro patronal %s"), rs, rp);
	else if (rp && *rp)
		snprintf(buf, size, _("registro patronal %s"), rp);
	else
		snprintf(buf, size, "%s", rs && *rs ? rs : info->subject);
}

static void print_entry(const struct cert_entry *x, int journal)
{
	static const char *const words[] = {
		N_("OK"), N_("EXPIRING"), N_("EXPIRED"),
	};
	char who[512], when[256], where[1024], until[TOOL_TIME_SIZE];
	long days = x->info.days_left;

	who_text(&x->info, who, sizeof(who));
	tool_time_text(x->info.not_after, until, sizeof(until));
	if (x->verdict == VERDICT_EXPIRED)
		snprintf(when, sizeof(when),
		         ngettext("expired %ld day ago, on %s", "expired %ld days ago, on %s",
		                  (unsigned long)-days), -days, until);
	else
		snprintf(when, sizeof(when),
		         ngettext("%ld day left, until %s", "%ld days left, until %s",
		                  (unsigned long)days), days, until);
	if (x->source == CERT_SOURCE_TOKEN)
		snprintf(where, sizeof(where), _("token '%s'"), x->token_label);
	else
		snprintf(where, sizeof(where), _("file %s"), x->location);
	fputs(priority(journal, x->verdict), stdout);
	/* TRANSLATORS: verdict (OK, EXPIRING, EXPIRED), who, serial, days
	   left, where. */
	printf(_("%s: %s, serial %s: %s; %s\n"), _(words[x->verdict]), who,
	       x->info.serial, when, where);
}

/* A summary line: n certificates have verdict v. */
static void print_summary(int journal, enum verdict v, size_t n, long days)
{
	fputs(priority(journal, v), stdout);
	if (v == VERDICT_EXPIRED)
		printf(ngettext("%zu certificate has expired: renew it with 'imss-renew renew'.\n",
		                "%zu certificates have expired: renew them with 'imss-renew renew'.\n",
		                n), n);
	else if (v == VERDICT_EXPIRING)
		printf(ngettext("%zu certificate expires within %ld days: renew it with 'imss-renew renew'.\n",
		                "%zu certificates expire within %ld days: renew them with 'imss-renew renew'.\n",
		                n), n, days);
	else if (n == 0)
		puts(_("No certificates found."));
	else
		printf(ngettext("%zu certificate is valid for at least %ld more days.\n",
		                "%zu certificates are valid for at least %ld more days.\n",
		                n), n, days);
}

static void print_text(const struct cert_entries *e, long days)
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

static json_object *entry_json(const struct cert_entry *x)
{
	json_object *obj = json_object_new_object();
	char from[TOOL_TIME_SIZE], until[TOOL_TIME_SIZE];

	tool_time_text(x->info.not_before, from, sizeof(from));
	tool_time_text(x->info.not_after, until, sizeof(until));
	if (!obj ||
	    tool_json_str(obj, "status", verdict_json[x->verdict]) ||
	    tool_json_str(obj, "source", x->source) ||
	    tool_json_str(obj, "location", x->location) ||
	    tool_json_str(obj, "token", x->token_label) ||
	    tool_json_str(obj, "subject", x->info.subject) ||
	    tool_json_str(obj, "razon_social", x->info.razon_social) ||
	    tool_json_str(obj, "registro_patronal", x->info.registro_patronal) ||
	    tool_json_str(obj, "rfc", x->info.rfc) ||
	    tool_json_str(obj, "serial", x->info.serial) ||
	    tool_json_str(obj, "fingerprint_sha256", x->info.fingerprint) ||
	    tool_json_str(obj, "not_before", from) ||
	    tool_json_str(obj, "not_after", until) ||
	    tool_json_int(obj, "days_left", x->info.days_left) ||
	    tool_json_bool(obj, "expired", x->info.expired) ||
	    tool_json_bool(obj, "not_yet_valid", x->info.not_yet_valid)) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

static int print_json(const struct cert_entries *e, long days, enum verdict worst)
{
	json_object *root = json_object_new_object();
	json_object *array;
	size_t i;

	if (!root)
		return -1;
	array = json_object_new_array();
	if (tool_json_add(root, "certificates", array) != 0)
		goto fail;
	for (i = 0; i < e->n; i++)
		if (tool_json_append(array, entry_json(&e->v[i])) != 0)
			goto fail;
	if (tool_json_str(root, "status", verdict_json[worst]) ||
	    tool_json_int(root, "days", days))
		goto fail;
	return tool_json_print(root);
fail:
	json_object_put(root);
	return -1;
}

int cmd_check(struct tool *t, int argc, char **argv)
{
	static const int exit_of[] = {
		TOOL_EXIT_OK, CHECK_EXIT_EXPIRING, CHECK_EXIT_EXPIRED,
	};
	struct check_args a = { 0 };
	struct cert_entries e = { 0 };
	enum verdict worst = VERDICT_OK;
	size_t i;
	int rc;

	rc = parse_args(t, argc, argv, &a);
	if (rc != TOOL_EXIT_OK || a.help) {
		if (a.help)
			usage();
		goto out;
	}
	if (a.cert)
		rc = cert_entries_from_file(t, a.cert, &e);
	else if (a.credential)
		rc = cert_entries_from_credential(t, COMMAND, a.credential, a.key_file,
		                                  a.password_source, &e);
	else if (a.token)
		rc = from_token(t, &a, &e);
	else
		rc = from_every_token(t, &a, &e);
	if (rc != TOOL_EXIT_OK)
		goto out;
	judge(&e, a.days);
	for (i = 0; i < e.n; i++)
		if (e.v[i].verdict > (int)worst)
			worst = (enum verdict)e.v[i].verdict;
	if (!t->json)
		print_text(&e, a.days);
	else if (print_json(&e, a.days, worst) != 0) {
		rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
		goto out;
	}
	rc = exit_of[worst];
out:
	cert_entries_clear(&e);
	return rc;
}
