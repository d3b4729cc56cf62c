/*
 * imss-renew-service employer add: an employer and its user, from options
 * (the password from a secret source) or from a CSV file (all rows or
 * none).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "csv-read.h"
#include "db.h"
#include "employers.h"
#include "password.h"

#define COMMAND "employer add"
#define SECRET_MAX 256

struct add_args {
	struct employer_input in;
	const char *dir;
	const char *csv;
	const char *password_source;
};

static void
usage(void)
{
	printf("Usage: %s employer add --dir DIR --registro-patronal RP --razon-social NAME\n"
	       "         --rfc RFC --email MAIL --user USER [--address TEXT]\n"
	       "         [--password-source SRC]\n"
	       "       %s employer add --dir DIR --csv FILE\n"
	       "Add an employer and the user that logs in for it.\n"
	       "\nOptions:\n"
	       "  --registro-patronal RP  11 characters, A-Z and 0-9 (e.g. Y1234567108)\n"
	       "  --razon-social NAME     1 to 64 characters\n"
	       "  --rfc RFC               the SAT RFC (12 or 13 characters)\n"
	       "  --email MAIL            the e-mail (the one field the employer can change)\n"
	       "  --address TEXT          the address, up to 200 characters\n"
	       "  --user USER             8 to 20 letters and digits\n"
	       "  --password-source SRC   where the user's password (8 to 20 letters and\n"
	       "                          digits) comes from: tty (default), file:PATH,\n"
	       "                          fd:N or env:NAME; never the command line\n"
	       "  --csv FILE              add every row of FILE, or none: a header line with\n"
	       "                          the columns registro_patronal, razon_social, rfc,\n"
	       "                          email, user, password and optionally address, in\n"
	       "                          any order; FILE must not be readable by others\n"
	       "  -h, --help              print this help and exit\n",
	       SVC_NAME, SVC_NAME);
}

static const struct cli_option options[] = {
	CLI_TEXT("dir", struct add_args, dir),
	CLI_TEXT("registro-patronal", struct add_args, in.registro_patronal),
	CLI_TEXT("razon-social", struct add_args, in.razon_social),
	CLI_TEXT("rfc", struct add_args, in.rfc),
	CLI_TEXT("email", struct add_args, in.email),
	CLI_TEXT("address", struct add_args, in.address),
	CLI_TEXT("user", struct add_args, in.user),
	CLI_TEXT("password-source", struct add_args, password_source),
	CLI_TEXT("csv", struct add_args, csv),
	CLI_END,
};

static int
check_args(const void *args)
{
	const struct add_args *a = args;

	if (!a->dir)
		return cli_usage_error(COMMAND, "--dir DIR is required");
	if (a->csv && (a->in.registro_patronal || a->in.razon_social || a->in.rfc || a->in.email ||
	               a->in.address || a->in.user || a->password_source))
		return cli_usage_error(COMMAND, "--csv takes no other employer option");
	return CLI_OK;
}

/* Insert one employer; reports errors.  CLI_OK, CLI_FAILURE or CLI_USAGE. */
static int
add_one(sqlite3 *db, const struct employer_input *in, unsigned iterations, const char *where)
{
	const char *bad = employer_input_check(in);
	int rc;

	if (bad) {
		cli_error("%sinvalid %s", where, bad);
		return CLI_USAGE;
	}
	rc = employer_insert(db, in, iterations);
	if (rc == 1)
		cli_error("%sregistro patronal %s or user %s exists already", where,
		          in->registro_patronal, in->user);
	else if (rc != 0)
		cli_error("%scannot add the employer: %s", where, sqlite3_errmsg(db));
	return rc == 0 ? CLI_OK : CLI_FAILURE;
}

/* Which column of the header holds each field. */
struct columns {
	int rp, razon, rfc, email, user, password, address;
};

static int
header(const struct csv_row *row, struct columns *col)
{
	int *slots[] = { &col->rp,   &col->razon,    &col->rfc,    &col->email,
		         &col->user, &col->password, &col->address };
	const char *names[] = { "registro_patronal", "razon_social", "rfc", "email", "user",
		                "password",          "address" };
	size_t i, j;

	for (j = 0; j < 7; j++)
		*slots[j] = -1;
	for (i = 0; i < row->n; i++) {
		for (j = 0; j < 7 && strcasecmp(row->fields[i], names[j]) != 0; j++)
			;
		if (j == 7 || *slots[j] >= 0) {
			cli_error("CSV header: unknown or repeated column '%s'", row->fields[i]);
			return -1;
		}
		*slots[j] = (int)i;
	}
	for (j = 0; j < 6; j++)
		if (*slots[j] < 0) {
			cli_error("CSV header: column '%s' is missing", names[j]);
			return -1;
		}
	return 0;
}

static int
add_row(sqlite3 *db, const struct csv_row *row, const struct columns *col, unsigned iterations,
        size_t ncols)
{
	struct employer_input in;
	char where[64];

	snprintf(where, sizeof(where), "CSV line %u: ", row->line);
	if (row->n != ncols) {
		cli_error("%s%zu fields, the header has %zu", where, row->n, ncols);
		return CLI_FAILURE;
	}
	in.registro_patronal = row->fields[col->rp];
	in.razon_social = row->fields[col->razon];
	in.rfc = row->fields[col->rfc];
	in.email = row->fields[col->email];
	in.user = row->fields[col->user];
	in.password = row->fields[col->password];
	in.address = col->address >= 0 ? row->fields[col->address] : NULL;
	return add_one(db, &in, iterations, where) == CLI_OK ? CLI_OK : CLI_FAILURE;
}

static int
add_csv(sqlite3 *db, FILE *f, unsigned iterations, unsigned *count)
{
	struct csv_row row;
	struct columns col;
	unsigned line = 0;
	size_t ncols;
	int r;

	if (csv_read(f, &line, &row) != 1) {
		cli_error("CSV: no header line");
		return CLI_FAILURE;
	}
	ncols = row.n;
	r = header(&row, &col);
	csv_row_clear(&row);
	if (r != 0)
		return CLI_FAILURE;
	while ((r = csv_read(f, &line, &row)) == 1) {
		if (row.n == 1 && !*row.fields[0]) { /* an empty line */
			csv_row_clear(&row);
			continue;
		}
		r = add_row(db, &row, &col, iterations, ncols);
		csv_row_clear(&row);
		if (r != CLI_OK)
			return r;
		(*count)++;
	}
	if (r < 0) {
		cli_error("CSV line %u: malformed", line + 1);
		return CLI_FAILURE;
	}
	return CLI_OK;
}

static int
open_csv(const char *path, FILE **out)
{
	struct stat st;
	FILE *f = fopen(path, "r");

	if (!f || fstat(fileno(f), &st) != 0) {
		cli_error("cannot read %s", path);
		if (f)
			fclose(f);
		return CLI_FAILURE;
	}
	if (st.st_mode & 077) {
		cli_error("%s holds passwords and is readable by others: chmod 600 it", path);
		fclose(f);
		return CLI_FAILURE;
	}
	*out = f;
	return CLI_OK;
}

/* Inside one transaction: the CSV's rows, or the one employer. */
static int
add(sqlite3 *db, struct add_args *a, unsigned iterations, unsigned *count)
{
	FILE *f = NULL;
	int rc;

	if (a->csv) {
		rc = open_csv(a->csv, &f);
		if (rc != CLI_OK)
			return rc;
	}
	if (db_begin(db) != 0) {
		cli_error("cannot start a transaction: %s", sqlite3_errmsg(db));
		rc = CLI_FAILURE;
	} else if (f) {
		rc = add_csv(db, f, iterations, count);
	} else {
		rc = add_one(db, &a->in, iterations, "");
		*count = rc == CLI_OK;
	}
	if (rc == CLI_OK && db_commit(db) != 0) {
		cli_error("cannot commit: %s", sqlite3_errmsg(db));
		rc = CLI_FAILURE;
	}
	if (rc != CLI_OK)
		db_rollback(db);
	if (f)
		fclose(f);
	return rc;
}

static int
employer_add(int argc, char **argv)
{
	struct add_args a;
	char password[SECRET_MAX] = "";
	sqlite3 *db = NULL;
	long long iterations;
	unsigned count = 0;
	int done = 0, rc;

	memset(&a, 0, sizeof(a));
	rc = cli_parse(COMMAND, options, usage, check_args, argc, argv, &a, &done);
	if (rc != CLI_OK || done)
		return rc;
	if (!a.csv) {
		rc = cli_secret(COMMAND, a.password_source, "Password of the new user: ", password,
		                sizeof(password));
		a.in.password = password;
	}
	if (rc == CLI_OK)
		rc = cli_open(a.dir, &db, NULL);
	if (rc == CLI_OK && db_meta_int(db, "kdf_iterations", &iterations) != 0) {
		cli_error("the database has no kdf_iterations");
		rc = CLI_FAILURE;
	}
	if (rc == CLI_OK)
		rc = add(db, &a, (unsigned)iterations, &count);
	if (rc == CLI_OK)
		printf("added %u employer%s\n", count, count == 1 ? "" : "s");
	OPENSSL_cleanse(password, sizeof(password));
	db_close(db);
	return rc;
}

int
cmd_employer(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "add") == 0)
		return employer_add(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage();
		return CLI_OK;
	}
	return cli_usage_error("employer", "use 'employer add'");
}
