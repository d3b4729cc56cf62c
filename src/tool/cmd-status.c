/*
 * imss-renew status: the certificates of a file, a credential (.pfx or
 * .cer + .key) or a token, with who they name (razon social, registro
 * patronal, RFC, CURP), their validity, the days left, and whether their
 * private key is present and where.  Expired certificates are shown, not
 * an error: the exit status is 0 whenever the certificates could be read.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define COMMAND "status"

enum {
	OPT_CERT = TOOL_OPT_LONG,
	OPT_CREDENTIAL,
	OPT_KEY_FILE,
	OPT_TOKEN,
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
	{ "password-source", required_argument, NULL, OPT_PASSWORD_SOURCE },
	{ "pin-source", required_argument, NULL, OPT_PIN_SOURCE },
	{ "login", no_argument, NULL, OPT_LOGIN },
	{ "help", no_argument, NULL, 'h' },
	{ "pin", optional_argument, NULL, OPT_PIN },
	{ "password", optional_argument, NULL, OPT_PASSWORD },
	{ NULL, 0, NULL, 0 },
};

struct status_args {
	const char *cert;
	const char *credential;
	const char *key_file;
	const char *token;       /* NULL with no source: the one token present */
	const char *password_source;
	const char *pin_source;
	int login;
	int help;
};

/* Where the certificates came from; the words are part of the JSON output. */
static void usage(void)
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
	         "is 0 whenever the certificates could be read, expired or not.\n"),
	       TOOL_NAME, COMMAND);
	fputs(_("\nOptions:\n"
	        "  --cert FILE             certificates in a file: DER, PEM or PKCS#7\n"
	        "  --credential FILE       a .pfx/.p12, or a .cer with its .key next to it\n"
	        "  --key-file FILE         the .key of a .cer, when it has another name\n"
	        "  --token URI             the certificates on a token (PKCS#11 URI)\n"
	        "  --login                 log in to the token, to find the private keys\n"
	        "  --pin-source SRC        where the PIN comes from (implies --login):\n"
	        "                          tty (default), file:PATH, fd:N or env:NAME\n"
	        "  --password-source SRC   the password of the .pfx or .key: same forms\n"
	        "  -h, --help              print this help and exit\n"), stdout);
	printf(_("\nExamples:\n"
	         "  %s %s --cert empresa.cer\n"
	         "  %s %s --credential empresa.pfx --password-source file:pfx-pass.txt\n"
	         "  %s %s --token 'pkcs11:token=My%%20Token' --login\n"
	         "  %s --json %s --token 'pkcs11:serial=1234' | \\\n"
	         "        jq '.certificates[] | {serial, days_left}'\n"),
	       TOOL_NAME, COMMAND, TOOL_NAME, COMMAND, TOOL_NAME, COMMAND, TOOL_NAME, COMMAND);
}

static int parse_option(struct tool *t, struct status_args *a, char **argv, int c)
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

static int check_args(struct tool *t, const struct status_args *a)
{
	int token_mode = !a->cert && !a->credential;

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
	if ((a->login || a->pin_source) && !token_mode)
		return tool_usage_error(t, COMMAND, "%s",
		                        _("--login and --pin-source go with a token"));
	return TOOL_EXIT_OK;
}

static int parse_args(struct tool *t, int argc, char **argv, struct status_args *a)
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

static int from_token(struct tool *t, const struct status_args *a, struct cert_entries *e)
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

static void print_validity(const imss_cert_info *info)
{
	char text[128];
	long days = info->days_left;

	if (info->expired)
		snprintf(text, sizeof(text),
		         ngettext("EXPIRED %ld day ago", "EXPIRED %ld days ago",
		                  (unsigned long)-days), -days);
	else if (info->not_yet_valid)
		snprintf(text, sizeof(text), "%s", _("not valid yet"));
	else
		snprintf(text, sizeof(text),
		         ngettext("valid, %ld day left", "valid, %ld days left",
		                  (unsigned long)days), days);
	tool_field(_("status"), text);
}

static void print_key(const struct cert_entry *x)
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

/* Only the fields the subject has. */
static void print_optional(const char *name, const char *value)
{
	if (value && *value)
		tool_field(name, value);
}

static void print_entry(const struct cert_entry *x, size_t n)
{
	char from[TOOL_TIME_SIZE], until[TOOL_TIME_SIZE];

	tool_time_text(x->info.not_before, from, sizeof(from));
	tool_time_text(x->info.not_after, until, sizeof(until));
	printf(_("Certificate %zu: %s\n"), n, x->location);
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
}

static void print_text(const struct cert_entries *e)
{
	size_t i;

	if (e->n == 0)
		puts(_("No certificates found."));
	for (i = 0; i < e->n; i++) {
		if (i > 0)
			fputc('\n', stdout);
		print_entry(&e->v[i], i + 1);
	}
}

static int add_key_fields(json_object *obj, const struct cert_entry *x)
{
	return tool_json_bool(obj, "key_checked", x->key_checked) ||
	       tool_json_tristate(obj, "key_present", x->key_checked ? x->key_present : -1) ||
	       tool_json_str(obj, "key_location", x->key_location);
}

static json_object *entry_json(const struct cert_entry *x)
{
	json_object *obj = json_object_new_object();
	char from[TOOL_TIME_SIZE], until[TOOL_TIME_SIZE];

	tool_time_text(x->info.not_before, from, sizeof(from));
	tool_time_text(x->info.not_after, until, sizeof(until));
	if (!obj ||
	    tool_json_str(obj, "source", x->source) ||
	    tool_json_str(obj, "location", x->location) ||
	    tool_json_str(obj, "subject", x->info.subject) ||
	    tool_json_str(obj, "razon_social", x->info.razon_social) ||
	    tool_json_str(obj, "registro_patronal", x->info.registro_patronal) ||
	    tool_json_str(obj, "rfc", x->info.rfc) ||
	    tool_json_str(obj, "curp", x->info.curp) ||
	    tool_json_str(obj, "email", x->info.email) ||
	    tool_json_str(obj, "issuer", x->info.issuer) ||
	    tool_json_str(obj, "serial", x->info.serial) ||
	    tool_json_str(obj, "fingerprint_sha256", x->info.fingerprint) ||
	    tool_json_str(obj, "not_before", from) ||
	    tool_json_str(obj, "not_after", until) ||
	    tool_json_int(obj, "days_left", x->info.days_left) ||
	    tool_json_bool(obj, "expired", x->info.expired) ||
	    tool_json_bool(obj, "not_yet_valid", x->info.not_yet_valid) ||
	    add_key_fields(obj, x)) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

static int print_json(const struct cert_entries *e)
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
	return tool_json_print(root);
fail:
	json_object_put(root);
	return -1;
}

int cmd_status(struct tool *t, int argc, char **argv)
{
	struct status_args a = { 0 };
	struct cert_entries e = { 0 };
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
	else
		rc = from_token(t, &a, &e);
	if (rc != TOOL_EXIT_OK)
		goto out;
	if (!t->json)
		print_text(&e);
	else if (print_json(&e) != 0)
		rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
	if (!a.cert && !a.credential && !e.logged_in && e.n > 0)
		fprintf(stderr, _("%s: private keys are checked only after login (--login)\n"),
		        TOOL_NAME);
out:
	cert_entries_clear(&e);
	return rc;
}
