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
int cli_usage_error(const char *command, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* What getopt_long() returned for a bad option ('?' or ':'); CLI_USAGE. */
int cli_bad_option(const char *command, char **argv, int c);

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
int cli_secret(const char *command, const char *spec, const char *prompt, char *buf,
               size_t size);

#endif /* SVC_CLI_H */
