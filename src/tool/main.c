/*
 * imss-renew: renew the IMSS employer certificate with a key generated
 * inside a PKCS#11 token.
 *
 * This file: gettext setup, the global options, the table of commands, the
 * library's log callback, and the mapping of errors to exit codes.
 */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tool.h"

#ifndef LOCALEDIR
#error "LOCALEDIR must be defined by the build"
#endif

static const struct tool_command commands[] = {
	{ "tokens", N_("list the tokens present"), cmd_tokens },
	{ "objects", N_("list the keys and certificates on a token"), cmd_objects },
	{ "doctor", N_("check, read-only, whether a token is fit for the renewal"), cmd_doctor },
	{ "keygen", N_("generate a key pair inside a token"), cmd_keygen },
	{ "csr", N_("make a certificate request signed by a token key"), cmd_csr },
	{ "sign", N_("sign a file (CMS) with a token key or a .pfx/.cer+.key"), cmd_sign },
	{ "import", N_("store a certificate on the token next to its key"), cmd_import },
	{ "status", N_("show certificates, their validity and where their keys are"), cmd_status },
	{ "check", N_("check when certificates expire (for reminders; exit status 10, 11)"), cmd_check },
	{ "export", N_("copy a certificate from a token to a file"), cmd_export },
	{ "renew", N_("renew the IMSS certificate with a new key made in the token"), cmd_renew },
	{ "recover", N_("fetch an issued certificate again and store it on the token"), cmd_recover },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

enum {
	OPT_MODULE = TOOL_OPT_LONG,
	OPT_JSON,
	OPT_PIN,
};

static const struct option global_options[] = {
	{ "module", required_argument, NULL, OPT_MODULE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ "pin", optional_argument, NULL, OPT_PIN },
	{ NULL, 0, NULL, 0 },
};

/* '+': stop at the command name; ':': report a missing argument as ':'. */
static const char global_optstring[] = "+:vVh";

static void print_help(void)
{
	size_t i;

	printf(_("Usage: %s [--module PATH] [--json] [--verbose] COMMAND [ARGS]\n"
	         "       %s --version | --help\n"
	         "Renew the IMSS employer certificate with a key generated inside a\n"
	         "PKCS#11 token; the private key never leaves the token.\n"),
	       TOOL_NAME, TOOL_NAME);
	fputs(_("\nOptions:\n"
	        "  --module PATH   use the PKCS#11 module at PATH instead of the\n"
	        "                  modules registered with p11-kit\n"
	        "  --json          print results as one JSON object on stdout; errors\n"
	        "                  too, as {\"error\":{\"code\",\"message\",\"detail\"}}\n"
	        "  -v, --verbose   show the library's progress messages\n"
	        "  -V, --version   print the version and exit\n"
	        "  -h, --help      print this help and exit\n"), stdout);
	fputs(_("\nCommands:\n"), stdout);
	for (i = 0; i < N_COMMANDS; i++)
		printf("  %-9s %s\n", commands[i].name, _(commands[i].summary));
	fputs(_("\nPINs and passwords never go on the command line.  Commands that log\n"
	        "in take --pin-source tty|file:PATH|fd:N|env:NAME (default tty);\n"
	        "commands that open a .pfx or .key take --password-source, same forms.\n"),
	      stdout);
	fputs(_("\nExit status:\n"
	        "  0  success\n"
	        "  1  failure (also: doctor found a problem that blocks the renewal)\n"
	        "  2  usage error: unknown command or option, missing argument,\n"
	        "     malformed --type, --subject, --pin-source, --password-source\n"
	        "     or PKCS#11 URI\n"), stdout);
	fputs(_("  10 check: a certificate expires within the days given (--days)\n"
	        "  11 check: a certificate has expired\n"), stdout);
	printf(_("\nRun '%s COMMAND --help' for the options and examples of a command.\n"),
	       TOOL_NAME);
}

static int print_version(const struct tool *t)
{
	json_object *root;

	if (!t->json) {
		printf("%s %s\n", TOOL_NAME, imss_version());
		return TOOL_EXIT_OK;
	}
	root = json_object_new_object();
	if (!root || tool_json_str(root, "version", imss_version()) != 0) {
		json_object_put(root);
		return TOOL_EXIT_FAILURE;
	}
	return tool_json_print(root) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAILURE;
}

/* Library messages: warnings always, progress only with --verbose. */
static void log_to_stderr(void *user, imss_log_level level, const char *message)
{
	const struct tool *t = user;

	if (level >= IMSS_LOG_WARN)
		tool_warn("%s", message);
	else if (t->verbose)
		fprintf(stderr, "%s: %s%s\n", TOOL_NAME,
		        level == IMSS_LOG_DEBUG ? _("debug: ") : "", message);
}

imss_err tool_ctx(struct tool *t, imss_ctx **out)
{
	imss_ctx *ctx = NULL;
	imss_err err = IMSS_OK;

	if (!t->ctx) {
		err = imss_ctx_new(t->module_path, &ctx);
		if (err != IMSS_OK)
			goto out;
		imss_ctx_set_log(ctx, log_to_stderr, t);
		t->ctx = ctx;
	}
	*out = t->ctx;
out:
	return err;
}

imss_err tool_open_token(struct tool *t, const char *uri, int read_write,
                         imss_token **out)
{
	imss_ctx *ctx;
	imss_err err;

	err = tool_ctx(t, &ctx);
	if (err == IMSS_OK)
		err = imss_token_open(ctx, uri, read_write, out);
	return err;
}

int tool_pin_source(struct tool *t, const char *command, const char *option,
                    const char *spec, imss_pin_source **out)
{
	imss_err err = imss_pin_source_parse(spec ? spec : "tty", out);

	if (err == IMSS_OK)
		return TOOL_EXIT_OK;
	/* The spec is not repeated: it might be a PIN typed by mistake. */
	if (err == IMSS_ERR_INVALID_ARG)
		return tool_usage_error(t, command,
			_("malformed %s: use tty, file:PATH, fd:N or env:NAME"), option);
	return tool_fail(t, err, 1);
}

imss_err tool_open_login(struct tool *t, const char *uri, int read_write,
                         imss_pin_source *src, imss_token **out)
{
	imss_token *tok = NULL;
	imss_err err;

	*out = NULL;
	err = tool_open_token(t, uri, read_write, &tok);
	if (err == IMSS_OK && src)
		err = imss_token_login(tok, src, 0);
	if (err != IMSS_OK) {
		if (tok)
			imss_token_close(tok);
		return err;
	}
	*out = tok;
	return IMSS_OK;
}

int tool_is_pkcs12_name(const char *path)
{
	size_t n = strlen(path);

	return n >= 4 && (strcasecmp(path + n - 4, ".pfx") == 0 ||
	                  strcasecmp(path + n - 4, ".p12") == 0);
}

int tool_open_credential_files(struct tool *t, const char *path,
                               const char *key_file, imss_pin_source *password,
                               imss_credential **out)
{
	imss_ctx *ctx;
	imss_err err;

	*out = NULL;
	err = tool_ctx(t, &ctx);
	if (err == IMSS_OK)
		err = imss_credential_from_files(ctx, path, key_file, password, out);
	return err == IMSS_OK ? TOOL_EXIT_OK : tool_fail(t, err, 0);
}

int tool_exit_code(imss_err err, int from_user_text)
{
	switch (err) {
	case IMSS_OK:
		return TOOL_EXIT_OK;
	case IMSS_ERR_URI:
		/* Every URI the tool passes on was typed by the user. */
		return TOOL_EXIT_USAGE;
	case IMSS_ERR_INVALID_ARG:
		return from_user_text ? TOOL_EXIT_USAGE : TOOL_EXIT_FAILURE;
	default:
		return TOOL_EXIT_FAILURE;
	}
}

/*
 * Only --json, so that an error in the options that follow is reported in
 * the mode the user asked for.
 */
static void prescan_json(struct tool *t, int argc, char **argv)
{
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, global_optstring, global_options, NULL)) != -1)
		if (c == OPT_JSON)
			t->json = 1;
	optind = 0;
}

/*
 * The global options, up to the command name (argv[optind] afterwards).
 * *done is set when --help or --version answered already.
 */
static int parse_global(struct tool *t, int argc, char **argv, int *done)
{
	int c;

	prescan_json(t, argc, argv);
	/*
	 * JSON is for scripts: the same bytes in every language, so its
	 * messages (errors, doctor checks, renewal events) stay in English.
	 */
	if (t->json)
		setlocale(LC_MESSAGES, "C");
	while ((c = getopt_long(argc, argv, global_optstring, global_options, NULL)) != -1) {
		switch (c) {
		case OPT_MODULE:
			t->module_path = optarg;
			break;
		case OPT_JSON:
			break;
		case 'v':
			t->verbose = 1;
			break;
		case 'V':
			*done = 1;
			return print_version(t);
		case 'h':
			*done = 1;
			print_help();
			return TOOL_EXIT_OK;
		case OPT_PIN:
			return tool_refuse_pin(t, NULL);
		default:
			return tool_bad_option(t, NULL, argv, c);
		}
	}
	return TOOL_EXIT_OK;
}

static const struct tool_command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Output that could not be written is a failure, even after success. */
static int finish_output(int rc)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return rc;
	fprintf(stderr, _("%s: cannot write the output: %s\n"), TOOL_NAME, strerror(errno));
	return rc == TOOL_EXIT_OK ? TOOL_EXIT_FAILURE : rc;
}

/* The catalogues: LOCALEDIR, or IMSS_RENEW_LOCALEDIR (the build tree's, for
 * the tests). */
static const char *locale_dir(void)
{
	const char *dir = getenv("IMSS_RENEW_LOCALEDIR");

	return dir && *dir ? dir : LOCALEDIR;
}

int main(int argc, char **argv)
{
	struct tool t = { 0 };
	const struct tool_command *cmd;
	int done = 0;
	int rc;

	setlocale(LC_ALL, "");
	bindtextdomain(IMSS_TEXTDOMAIN, locale_dir());
	textdomain(IMSS_TEXTDOMAIN);
	opterr = 0;

	rc = parse_global(&t, argc, argv, &done);
	if (rc != TOOL_EXIT_OK || done)
		goto out;
	if (optind >= argc) {
		rc = tool_usage_error(&t, NULL, "%s", _("no command given"));
		goto out;
	}
	cmd = find_command(argv[optind]);
	if (!cmd) {
		rc = tool_usage_error(&t, NULL, _("unknown command '%s'"), argv[optind]);
		goto out;
	}
	argc -= optind;
	argv += optind;
	optind = 0;  /* a fresh getopt scan for the command's own options */
	rc = cmd->run(&t, argc, argv);
out:
	if (t.ctx)
		imss_ctx_free(t.ctx);
	return finish_output(rc);
}
