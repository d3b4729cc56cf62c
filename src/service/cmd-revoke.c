/*
 * imss-renew-service revoke: mark a certificate revoked.  It can no longer
 * log in, sign a letter or a renewal, sessions opened with it end, and
 * the renewal requests it signed that are still pending are cancelled.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "certdb.h"
#include "cli.h"
#include "db.h"
#include "requests.h"
#include "util.h"

#define COMMAND "revoke"

static void
usage(void)
{
	printf("Usage: %s %s --dir DIR --serial SERIAL\n"
	       "Revoke the certificate with that serial number (hexadecimal, as 'issue'\n"
	       "prints it or 'openssl x509 -serial' shows it; colons allowed).\n"
	       "\nOptions:\n"
	       "  --dir DIR        the service's directory\n"
	       "  --serial SERIAL  the certificate's serial number\n"
	       "  -h, --help       print this help and exit\n",
	       SVC_NAME, COMMAND);
}

/* Upper-case hex without colons or a "serial=" prefix.  0 or -1. */
static int
normalise(const char *in, char *out, size_t size)
{
	size_t n = 0;

	if (strncmp(in, "serial=", 7) == 0)
		in += 7;
	for (; *in; in++) {
		if (*in == ':')
			continue;
		if (!isxdigit((unsigned char)*in) || n + 1 >= size)
			return -1;
		out[n++] = (char)toupper((unsigned char)*in);
	}
	out[n] = '\0';
	/* BN_bn2hex, as the database has it, strips leading zero bytes. */
	while (n > 2 && out[0] == '0' && out[1] == '0') {
		memmove(out, out + 2, n - 1);
		n -= 2;
	}
	return n ? 0 : -1;
}

/* Revoke serial and cancel the pending requests it signed, in the caller's
 * transaction (committed here on success).  CLI_OK or CLI_FAILURE. */
static int
revoke(sqlite3 *db, const char *serial)
{
	unsigned cancelled = 0;
	int state = certdb_revoke(db, serial, time(NULL));

	if (state == 1) {
		cli_error("no certificate with serial %s", serial);
		return CLI_FAILURE;
	}
	if ((state != 0 && state != 2) ||
	    requests_cancel_signed_by(db, serial, time(NULL), &cancelled) != 0 || db_commit(db) != 0) {
		cli_error("cannot revoke %s: %s", serial, sqlite3_errmsg(db));
		return CLI_FAILURE;
	}
	printf(state == 2 ? "%s was revoked already\n" : "revoked %s\n", serial);
	if (cancelled)
		printf("cancelled %u pending renewal request%s signed by it\n", cancelled,
		       cancelled == 1 ? "" : "s");
	return CLI_OK;
}

struct revoke_args {
	const char *dir;
	const char *serial;
};

static const struct cli_option options[] = {
	CLI_TEXT("dir", struct revoke_args, dir),
	CLI_TEXT("serial", struct revoke_args, serial),
	CLI_END,
};

int
cmd_revoke(int argc, char **argv)
{
	struct revoke_args a = { NULL, NULL };
	char serial[80];
	sqlite3 *db = NULL;
	int done, rc;

	rc = cli_parse(COMMAND, options, usage, NULL, argc, argv, &a, &done);
	if (rc != CLI_OK || done)
		return rc;
	if (!a.dir || !a.serial)
		return cli_usage_error(COMMAND, "--dir and --serial are required");
	if (normalise(a.serial, serial, sizeof(serial)) != 0)
		return cli_usage_error(COMMAND, "--serial must be hexadecimal");
	rc = cli_open(a.dir, &db, NULL);
	if (rc != CLI_OK)
		return rc;
	rc = CLI_FAILURE;
	if (db_begin(db) != 0) {
		cli_error("cannot start a transaction: %s", sqlite3_errmsg(db));
		goto out;
	}
	rc = revoke(db, serial);
	db_rollback(db);
out:
	db_close(db);
	return rc;
}
