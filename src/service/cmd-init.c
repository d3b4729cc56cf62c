/*
 * imss-renew-service init: make the service's directory.  Everything is
 * made in a temporary directory beside DIR and renamed to DIR at the end,
 * so DIR is either complete or absent.  An existing, non-empty DIR is
 * refused.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ca.h"
#include "cli.h"
#include "db.h"
#include "password.h"
#include "util.h"

#define COMMAND "init"

static const char *const files[] = {
	SVC_CA_KEY,
	SVC_CA_CERT,
	SVC_TLS_KEY,
	SVC_TLS_CERT,
	SVC_DB_FILE,
	"." SVC_CA_KEY ".tmp",
	"." SVC_CA_CERT ".tmp",
	"." SVC_TLS_KEY ".tmp",
	"." SVC_TLS_CERT ".tmp",
	SVC_DB_FILE "-wal",
	SVC_DB_FILE "-shm",
	NULL,
};

static void
usage(void)
{
	printf("Usage: %s %s --dir DIR [--kdf-iterations N]\n"
	       "Create the service's directory DIR (mode 0700): a CA (ca.key, ca.pem),\n"
	       "the HTTPS certificate it issues for 127.0.0.1 and localhost (tls.key,\n"
	       "tls.pem) and the database (service.db).  Keys and database are mode\n"
	       "0600.  DIR must not exist or be empty.\n"
	       "\nOptions:\n"
	       "  --dir DIR            the directory to create\n"
	       "  --kdf-iterations N   PBKDF2-HMAC-SHA256 iterations of the password\n"
	       "                       hashes of users added later (default %u; lower\n"
	       "                       only for tests, at least %u)\n"
	       "  -h, --help           print this help and exit\n",
	       SVC_NAME, COMMAND, PW_DEFAULT_ITERATIONS, PW_MIN_ITERATIONS);
}

/* 1 when dir does not exist or is an empty directory. */
static int
usable(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;

	if (!d)
		return errno == ENOENT;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

static void
remove_tmp(const char *tmp)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; files[i]; i++)
		if (svc_path(path, sizeof(path), tmp, files[i]) == 0)
			unlink(path);
	rmdir(tmp);
}

static int
make(const char *dir, unsigned iterations)
{
	char tmp[PATH_MAX], path[PATH_MAX], err[512] = "", parent[PATH_MAX];
	char *slash;
	sqlite3 *db = NULL;

	if (snprintf(tmp, sizeof(tmp), "%s.init-XXXXXX", dir) >= (int)sizeof(tmp) || !mkdtemp(tmp)) {
		cli_error("cannot make a directory beside %s: %s", dir, strerror(errno));
		return CLI_FAILURE;
	}
	errno = 0;
	if (chmod(tmp, 0700) != 0 || ca_create(tmp, err, sizeof(err)) != 0 ||
	    svc_path(path, sizeof(path), tmp, SVC_DB_FILE) != 0 ||
	    db_open(path, 1, iterations, &db, err, sizeof(err)) != 0) {
		if (errno && !*err)
			snprintf(err, sizeof(err), "%s", strerror(errno));
		cli_error("%s: %s", dir, err);
		remove_tmp(tmp);
		return CLI_FAILURE;
	}
	db_close(db);
	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (slash)
		*(slash == parent ? slash + 1 : slash) = '\0';
	if (svc_fsync_dir(tmp) != 0 || rename(tmp, dir) != 0 ||
	    svc_fsync_dir(slash ? parent : ".") != 0) {
		cli_error("cannot create %s: %s", dir, strerror(errno));
		remove_tmp(tmp);
		return CLI_FAILURE;
	}
	return CLI_OK;
}

struct init_args {
	const char *dir;
	unsigned iterations;
};

static const struct cli_option options[] = {
	CLI_TEXT("dir", struct init_args, dir),
	CLI_UINT("kdf-iterations", struct init_args, iterations, PW_MIN_ITERATIONS, 100000000),
	CLI_END,
};

int
cmd_init(int argc, char **argv)
{
	struct init_args a = { NULL, PW_DEFAULT_ITERATIONS };
	int done, rc;

	rc = cli_parse(COMMAND, options, usage, NULL, argc, argv, &a, &done);
	if (rc != CLI_OK || done)
		return rc;
	if (!a.dir || !*a.dir)
		return cli_usage_error(COMMAND, "--dir DIR is required");
	if (!usable(a.dir)) {
		cli_error("%s exists and is not empty (or cannot be read); not overwriting it",
		          a.dir);
		return CLI_FAILURE;
	}
	if (make(a.dir, a.iterations) != CLI_OK)
		return CLI_FAILURE;
	printf("initialised %s (CA certificate %s/%s)\n", a.dir, a.dir, SVC_CA_CERT);
	return CLI_OK;
}
