/*
 * imss-renew-service: the command line.  main.c holds the table of
 * commands; each command is in its own cmd-*.c file and returns an exit
 * status: 0 success, 1 failure, 2 usage error.
 */
#ifndef SVC_CLI_H
#define SVC_CLI_H

#include <stddef.h>

#include <sqlite3.h>

#include "ca.h"

#define SVC_NAME "imss-renew-service"

enum cli_exit {
	CLI_OK = 0,
	CLI_FAILURE = 1,
	CLI_USAGE = 2,
};

/* Long options without a short form get values above any character. */
enum { CLI_OPT_LONG = 0x100 };

int cmd_init(int argc, char **argv);
int cmd_employer(int argc, char **argv);
int cmd_issue(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* "imss-renew-service: <message>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The message and a pointer to `imss-renew-service CMD --help`; CLI_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What getopt_long() returned for a bad option ('?' or ':'); CLI_USAGE. */
int cli_bad_option(const char *command, char **argv, int c);

/*
 * One option of a command: its long name, the kind of its value and where
 * the value goes in the command's arguments (offsetof): a const char * for
 * CLI_ARG_TEXT, an int set to 1 for CLI_ARG_FLAG, an unsigned in [min, max]
 * for CLI_ARG_UINT.  A table ends with a NULL name.
 */
enum cli_arg_kind { CLI_ARG_TEXT, CLI_ARG_FLAG, CLI_ARG_UINT };

struct cli_option {
	const char *name;
	enum cli_arg_kind kind;
	size_t offset;
	unsigned long min, max; /* CLI_ARG_UINT */
};

#define CLI_TEXT(name, type, member)                             \
	{                                                        \
		name, CLI_ARG_TEXT, offsetof(type, member), 0, 0 \
	}
#define CLI_FLAG(name, type, member)                             \
	{                                                        \
		name, CLI_ARG_FLAG, offsetof(type, member), 0, 0 \
	}
#define CLI_UINT(name, type, member, min, max)                       \
	{                                                            \
		name, CLI_ARG_UINT, offsetof(type, member), min, max \
	}
#define CLI_END                             \
	{                                   \
		NULL, CLI_ARG_TEXT, 0, 0, 0 \
	}

/*
 * Parse a command's options by its table into args; -h and --help print
 * print_usage() and set *done.  Positional arguments are refused.  Then
 * check(args), when not NULL, refuses what the table cannot say (options
 * required, or given together).  CLI_OK, CLI_USAGE (reported), or
 * CLI_FAILURE when out of memory (reported).
 */
int cli_parse(const char *command, const struct cli_option *options, void (*print_usage)(void),
              int (*check)(const void *args), int argc, char **argv, void *args, int *done);

/* A decimal number in [min, max].  0 or -1. */
int cli_uint(const char *s, unsigned long min, unsigned long max, unsigned *out);

/* Open the service's database and CA in dir.  CLI_OK or CLI_FAILURE
 * (reported).  ca may be NULL. */
int cli_open(const char *dir, sqlite3 **db, struct ca *ca);

/*
 * Read a secret from a source "tty", "file:PATH", "fd:N" or "env:NAME"
 * (the library's PIN sources).  CLI_OK, CLI_USAGE for a malformed source,
 * CLI_FAILURE (reported).  Wipe buf after use.
 */
int cli_secret(const char *command, const char *spec, const char *prompt, char *buf, size_t size);

#endif /* SVC_CLI_H */
