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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <limits.h>
#include <unistd.h>

#include "tool.h"

#if !defined(LOCALEDIR) || !defined(LOCALEDIR_FROM_BINDIR) || !defined(BUILD_DIR) || \
        !defined(BUILD_LOCALEDIR)
#error "LOCALEDIR, LOCALEDIR_FROM_BINDIR, BUILD_DIR and BUILD_LOCALEDIR come from the build"
#endif

const struct tool_command *const tool_commands[] = {
	&cmd_tokens, &cmd_objects, &cmd_doctor, &cmd_keygen, &cmd_csr,     &cmd_sign,  &cmd_import,
	&cmd_status, &cmd_check,   &cmd_export, &cmd_renew,  &cmd_recover, &cmd_fleet, &cmd_enroll,
};

const size_t tool_command_count = sizeof(tool_commands) / sizeof(tool_commands[0]);

/*
 * GnuTLS is in the process only as a dependency of libcurl's dependencies
 * (librtmp, libldap), never used: libcurl speaks TLS through OpenSSL and
 * only https is allowed.  Its library constructor would still initialise
 * it (ASN.1 trees, the system priority file, its crypto back end): 1 MiB
 * of every run's resident memory (issue 12, a fleet's peak).  GnuTLS asks
 * the program for this exported hook before that implicit initialisation
 * (the same as GNUTLS_NO_IMPLICIT_INIT=1); a library that does use it
 * calls gnutls_global_init() itself, as librtmp and libldap do.
 */
int _gnutls_global_init_skip(void);

int
_gnutls_global_init_skip(void)
{
	return 1;
}

/* The hidden command the build runs to write the bash completion. */
#define COMPLETION_COMMAND "__complete"

void
tool_print_help(void)
{
	size_t i;

	printf(_("Usage: %s [GLOBAL OPTIONS] COMMAND [OPTIONS]\n"
	         "       %s --version | --help\n"
	         "Renew the IMSS employer certificate with a key generated inside a\n"
	         "PKCS#11 token; the private key never leaves the token.\n"),
	       TOOL_NAME, TOOL_NAME);
	printf("\n%s\n", _("Global options, before or after the command:"));
	tool_print_global_options();
	fputs(_("\nCommands:\n"), stdout);
	for (i = 0; i < tool_command_count; i++)
		printf("  %-9s %s\n", tool_commands[i]->name, _(tool_commands[i]->summary));
	fputs(_("\nPINs and passwords never go on the command line.  Commands that log\n"
	        "in take --pin-source tty|file:PATH|fd:N|env:NAME|cred:NAME (default\n"
	        "tty; cred:NAME is a systemd credential, LoadCredential=);\n"
	        "commands that open a .pfx or .key take --password-source, same forms.\n"),
	      stdout);
	fputs(_("\nExit status:\n"
	        "  0  success\n"
	        "  1  failure (also: doctor found a problem that blocks the renewal)\n"
	        "  2  usage error: unknown command or option, missing argument,\n"
	        "     malformed --type, --subject, --pin-source, --password-source\n"
	        "     or PKCS#11 URI\n"),
	      stdout);
	fputs(_("  10 check: a certificate expires within the days given (--days)\n"
	        "  11 check: a certificate has expired\n"),
	      stdout);
	fputs(_("  12 renew, recover: the certificate is still pending when --timeout\n"
	        "     runs out; run the same command again later\n"),
	      stdout);
	fputs(_("  130 renew: interrupted (Ctrl-C) after the step under way; run the\n"
	        "     same command again to continue\n"),
	      stdout);
	printf(_("\nRun '%s COMMAND --help' for the options and examples of a command.\n"),
	       TOOL_NAME);
}

int
tool_print_version(const struct tool *t)
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
static void
log_to_stderr(void *user, imss_log_level level, const char *message)
{
	const struct tool *t = user;

	if (level >= IMSS_LOG_WARN)
		tool_warn("%s", message);
	else if (t->verbose)
		fprintf(stderr, "%s: %s%s\n", TOOL_NAME,
		        level == IMSS_LOG_DEBUG ? _("debug: ") : "", message);
}

imss_err
tool_ctx(struct tool *t, imss_ctx **out)
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

imss_err
tool_open_token(struct tool *t, const char *uri, int read_write, imss_token **out)
{
	imss_ctx *ctx;
	imss_err err;

	err = tool_ctx(t, &ctx);
	if (err == IMSS_OK)
		err = imss_token_open(ctx, uri, read_write, out);
	return err;
}

int
tool_pin_source(struct tool *t, const char *command, const char *option, const char *spec,
                imss_pin_source **out)
{
	tool_notify_note_source(spec);
	/* The spec is not repeated: it might be a PIN typed by mistake. */
	return tool_typed_result(t, command, imss_pin_source_parse(spec ? spec : "tty", out),
	                         _("malformed %s: use tty, file:PATH, fd:N, env:NAME or cred:NAME"),
	                         option);
}

imss_err
tool_open_login(struct tool *t, const char *uri, int read_write, imss_pin_source *src,
                imss_token **out)
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

/* Ctrl-C (or SIGTERM) during a renewal: only noted; the library ends
 * the step under way and stops cleanly.  Atomic (lock-free, so
 * async-signal-safe): the workers of fleet renew --jobs read it. */
static atomic_int stop_requested;

static void
on_stop_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_requested, 1);
}

/* No SA_RESTART: a prompt or a wait is cut short at once. */
void
tool_stop_signals(int install)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = install ? on_stop_signal : SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int
tool_stop_requested(void)
{
	return atomic_load(&stop_requested) != 0;
}

/* Does the name end in .pfx or .p12 (any case)? */
static int
is_pkcs12_name(const char *path)
{
	size_t n = strlen(path);

	return n >= 4 &&
	       (strcasecmp(path + n - 4, ".pfx") == 0 || strcasecmp(path + n - 4, ".p12") == 0);
}

int
tool_check_key_file(struct tool *t, const char *command, const char *key_file, const char *credential)
{
	if (key_file && !credential)
		return tool_usage_error(t, command, "%s",
		                        _("--key-file goes with --credential FILE.cer"));
	if (key_file && is_pkcs12_name(credential))
		return tool_usage_error(t, command, "%s",
		                        _("--key-file goes with a .cer; a .pfx holds its own key"));
	return TOOL_EXIT_OK;
}

int
tool_open_credential_files(struct tool *t, const char *path, const char *key_file,
                           imss_pin_source *password, imss_credential **out)
{
	imss_ctx *ctx;
	imss_err err;

	*out = NULL;
	err = tool_ctx(t, &ctx);
	if (err == IMSS_OK)
		err = imss_credential_from_files(ctx, path, key_file, password, out);
	return err == IMSS_OK ? TOOL_EXIT_OK : tool_fail(t, err, 0);
}

int
tool_exit_code(imss_err err, int from_user_text)
{
	switch (err) {
	case IMSS_OK:
		return TOOL_EXIT_OK;
	case IMSS_ERR_URI:
		/* Every URI the tool passes on was typed by the user. */
		return TOOL_EXIT_USAGE;
	case IMSS_ERR_INVALID_ARG:
		return from_user_text ? TOOL_EXIT_USAGE : TOOL_EXIT_FAILURE;
	case IMSS_ERR_PENDING:
		return TOOL_EXIT_PENDING;
	case IMSS_ERR_INTERRUPTED:
		return TOOL_EXIT_INTERRUPTED;
	default:
		return TOOL_EXIT_FAILURE;
	}
}

/*
 * Only --json, anywhere before "--", so that an error in the options is
 * reported in the mode the user asked for, and JSON messages stay in
 * English: the same bytes in every language.
 */
static void
prescan_json(struct tool *t, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			t->json = 1;
	if (t->json)
		setlocale(LC_MESSAGES, "C");
}

static const struct tool_command *
find_command(const char *name)
{
	size_t i;

	for (i = 0; i < tool_command_count; i++)
		if (strcmp(tool_commands[i]->name, name) == 0)
			return tool_commands[i];
	return NULL;
}

/* Output that could not be written is a failure, even after success. */
static int
finish_output(int rc)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return rc;
	fprintf(stderr, _("%s: cannot write the output: %s\n"), TOOL_NAME, strerror(errno));
	return rc == TOOL_EXIT_OK ? TOOL_EXIT_FAILURE : rc;
}

/* dir, if it is a directory. */
static const char *
if_dir(const char *dir)
{
	struct stat st;

	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? dir : NULL;
}

/*
 * Where the catalogues are, without asking the user for anything:
 * IMSS_RENEW_LOCALEDIR when set; for an installed tool, the locale
 * directory beside its bin/ (so that a tree installed or unpacked
 * elsewhere finds its own); for the tool in the build tree, the build
 * tree's catalogues; else LOCALEDIR.
 */
static const char *
locale_dir(char *buf, size_t size)
{
	const char *dir = getenv("IMSS_RENEW_LOCALEDIR");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (dir && *dir)
		return dir;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return LOCALEDIR;
	exe[n] = '\0';
	if (strncmp(exe, BUILD_DIR "/", strlen(BUILD_DIR) + 1) == 0 && if_dir(BUILD_LOCALEDIR))
		return BUILD_LOCALEDIR;
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(buf, size, "%s/%s", exe, LOCALEDIR_FROM_BINDIR);
	return if_dir(buf) ? buf : LOCALEDIR;
}

/* The command's first word, when it takes one (fleet check|renew), into
 * t->subcommand (-1 when not given): taken off argv. */
static void
take_subcommand(struct tool *t, const struct tool_command *cmd, int *argc, char ***argv)
{
	t->subcommand = -1;
	for (int i = 0; cmd->subcommands != NULL && cmd->subcommands[i] != NULL; i++) {
		if (*argc >= 2 && strcmp((*argv)[1], cmd->subcommands[i]) == 0) {
			t->subcommand = i;
			(*argc)--;
			(*argv)++;
			return;
		}
	}
}

/* Parse the command's options into its argument struct, then run it. */
static int
run_command(struct tool *t, const struct tool_command *cmd, int argc, char **argv)
{
	void *args = cmd->args_size ? calloc(1, cmd->args_size) : NULL;
	int done = 0;
	int rc;

	if (cmd->args_size && !args)
		return tool_fail(t, IMSS_ERR_NOMEM, 0);
	take_subcommand(t, cmd, &argc, &argv);
	rc = tool_parse(t, cmd, argc, argv, args, &done);
	if (rc == TOOL_EXIT_OK && !done && cmd->check)
		rc = cmd->check(t, args);
	if (rc == TOOL_EXIT_OK && !done)
		rc = cmd->run(t, args);
	free(args);
	return rc;
}

int
main(int argc, char **argv)
{
	struct tool t = { 0 };
	char locales[PATH_MAX + 64];
	const struct tool_command *cmd;
	int done = 0;
	int rc;

	setlocale(LC_ALL, "");
	bindtextdomain(IMSS_TEXTDOMAIN, locale_dir(locales, sizeof(locales)));
	textdomain(IMSS_TEXTDOMAIN);
	opterr = 0;

	prescan_json(&t, argc, argv);
	rc = tool_parse_global(&t, argc, argv, &done);
	if (rc != TOOL_EXIT_OK || done)
		goto out;
	if (optind >= argc) {
		rc = tool_usage_error(&t, NULL, "%s", _("no command given"));
		goto out;
	}
	if (strcmp(argv[optind], COMPLETION_COMMAND) == 0) {
		rc = tool_print_completion();
		goto out;
	}
	cmd = find_command(argv[optind]);
	if (!cmd) {
		rc = tool_usage_error(&t, NULL, _("unknown command '%s'"), argv[optind]);
		goto out;
	}
	rc = run_command(&t, cmd, argc - optind, argv + optind);
out:
	if (t.ctx)
		imss_ctx_free(t.ctx);
	return finish_output(rc);
}
