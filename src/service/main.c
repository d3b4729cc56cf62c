/*
 * imss-renew-service: the reference renewal service of imss-renew.  This
 * file: the table of commands, the helpers they share, and main().
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <imss-renew/imss-renew.h>

#include "cli.h"
#include "db.h"
#include "util.h"

struct command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "init", "create the CA, the TLS certificate and the database in a new directory", cmd_init },
	{ "employer", "add employers and their users (employer add)", cmd_employer },
	{ "issue", "issue an initial certificate for an employer, to a .pfx or onto a token",
	  cmd_issue },
	{ "revoke", "revoke a certificate by serial number", cmd_revoke },
	{ "serve", "serve the renewal protocol over HTTPS", cmd_serve },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(void)
{
	size_t i;

	printf("Usage: %s COMMAND --dir DIR [OPTIONS]\n"
	       "       %s --help | --version\n"
	       "The reference IMSS certificate renewal service of imss-renew: an\n"
	       "IDSE-shaped renewal endpoint (docs/protocol.md) with its own CA.\n"
	       "It is not the IMSS service.\n\nCommands:\n",
	       SVC_NAME, SVC_NAME);
	for (i = 0; i < N_COMMANDS; i++)
		printf("  %-9s %s\n", commands[i].name, commands[i].summary);
	printf("\nEvery command takes --dir DIR, the service's directory (CA, TLS\n"
	       "certificate, database).  Secrets never go on the command line: they\n"
	       "come from a source tty, file:PATH, fd:N, env:NAME or cred:NAME (a\n"
	       "systemd credential, LoadCredential=).\n"
	       "\nExit status: 0 success, 1 failure, 2 usage error.\n"
	       "Run '%s COMMAND --help' for a command's options.\n",
	       SVC_NAME);
}

void
cli_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", SVC_NAME);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", SVC_NAME);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s %s --help'.\n", SVC_NAME, command ? command : "");
	return CLI_USAGE;
}

int
cli_bad_option(const char *command, char **argv, int c)
{
	const char *opt = argv[optind - 1];

	if (c == ':')
		return cli_usage_error(command, "option '%s' needs an argument", opt);
	if (optopt && optopt < CLI_OPT_LONG)
		return cli_usage_error(command, "unknown option '-%c'", optopt);
	return cli_usage_error(command, "unknown option '%s'", opt);
}

/* The getopt_long() table of options: each value is CLI_OPT_LONG + its index. */
static struct option *
long_options(const struct cli_option *options)
{
	struct option *longs;
	size_t i, n = 0;

	while (options[n].name)
		n++;
	longs = calloc(n + 2, sizeof(*longs));
	if (!longs)
		return NULL;
	for (i = 0; i < n; i++) {
		longs[i].name = options[i].name;
		longs[i].has_arg = options[i].kind == CLI_ARG_FLAG ? no_argument : required_argument;
		longs[i].val = CLI_OPT_LONG + (int)i;
	}
	longs[n].name = "help";
	longs[n].val = 'h';
	return longs;
}

/* Store one option's value into args.  CLI_OK or CLI_USAGE (reported). */
static int
store(const char *command, const struct cli_option *o, const char *value, void *args)
{
	char *field = (char *)args + o->offset;

	switch (o->kind) {
	case CLI_ARG_TEXT:
		*(const char **)(void *)field = value;
		return CLI_OK;
	case CLI_ARG_FLAG:
		*(int *)(void *)field = 1;
		return CLI_OK;
	case CLI_ARG_UINT:
		if (cli_uint(value, o->min, o->max, (unsigned *)(void *)field) == 0)
			return CLI_OK;
		return cli_usage_error(command, "--%s must be %lu to %lu", o->name, o->min, o->max);
	}
	return CLI_USAGE;
}

int
cli_parse(const char *command, const struct cli_option *options, void (*print_usage)(void),
          int (*check)(const void *args), int argc, char **argv, void *args, int *done)
{
	struct option *longs = long_options(options);
	int c, rc = CLI_OK;

	*done = 0;
	if (!longs) {
		cli_error("out of memory");
		return CLI_FAILURE;
	}
	optind = 0;
	while (rc == CLI_OK && !*done && (c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
		if (c >= CLI_OPT_LONG)
			rc = store(command, &options[c - CLI_OPT_LONG], optarg, args);
		else if (c == 'h')
			*done = 1;
		else
			rc = cli_bad_option(command, argv, c);
	}
	free(longs);
	if (rc != CLI_OK)
		return rc;
	if (*done)
		print_usage();
	else if (optind < argc)
		rc = cli_usage_error(command, "unexpected argument '%s'", argv[optind]);
	else if (check)
		rc = check(args);
	return rc;
}

int
cli_uint(const char *s, unsigned long min, unsigned long max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max || v > UINT_MAX)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int
cli_open(const char *dir, sqlite3 **db, struct ca *ca)
{
	char path[PATH_MAX], err[512];

	if (svc_path(path, sizeof(path), dir, SVC_DB_FILE) != 0) {
		cli_error("directory name too long");
		return CLI_FAILURE;
	}
	if (db_open(path, 0, 0, db, err, sizeof(err)) != 0) {
		cli_error("%s: %s", path, err);
		return CLI_FAILURE;
	}
	if (ca && ca_load(dir, ca, err, sizeof(err)) != 0) {
		cli_error("%s: %s", dir, err);
		db_close(*db);
		*db = NULL;
		return CLI_FAILURE;
	}
	return CLI_OK;
}

int
cli_secret(const char *command, const char *spec, const char *prompt, char *buf, size_t size)
{
	imss_pin_source *src = NULL;
	imss_err err;

	err = imss_pin_source_parse(spec ? spec : "tty", &src);
	if (err == IMSS_ERR_INVALID_ARG)
		return cli_usage_error(command, "malformed secret source: use tty, file:PATH, "
		                                "fd:N, env:NAME or cred:NAME");
	if (err == IMSS_OK)
		err = imss_pin_source_read(src, prompt, buf, size);
	if (err != IMSS_OK)
		cli_error("cannot read the secret from %s: %s",
		          src ? imss_pin_source_describe(src) : "tty", imss_strerror(err));
	if (src)
		imss_pin_source_free(src);
	return err == IMSS_OK ? CLI_OK : CLI_FAILURE;
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage();
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage();
		return CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("%s %s\n", SVC_NAME, imss_version());
		return CLI_OK;
	}
	for (i = 0; i < N_COMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
}
