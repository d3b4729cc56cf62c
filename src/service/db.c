/*
 * imss-renew-service: the SQLite database (see db.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db.h"

/*
 * Renewal requests.  A certificate is renewed at most once: one request
 * that is not cancelled per old_serial (the unique index makes parallel
 * renewals from one certificate yield one request).  Revocation of the
 * certificate that signed a pending request cancels it.
 */
#define REQUESTS_TABLE(name)                                                        \
	"CREATE TABLE " name "("                                                    \
	" id TEXT PRIMARY KEY,"                                                     \
	" employer_id INTEGER NOT NULL REFERENCES employers(id),"                   \
	" session_id INTEGER NOT NULL REFERENCES sessions(id),"                     \
	" letter_id INTEGER NOT NULL REFERENCES letters(id),"                       \
	" old_serial TEXT NOT NULL,"                                                \
	" cms BLOB NOT NULL,"                                                       \
	" csr BLOB NOT NULL,"                                                       \
	" spki_sha256 BLOB NOT NULL,"                                               \
	" email TEXT NOT NULL,"                                                     \
	" created_at INTEGER NOT NULL,"                                             \
	" due_at INTEGER NOT NULL,"                                                 \
	" state TEXT NOT NULL CHECK (state IN ('pending', 'issued', 'cancelled'))," \
	" serial TEXT REFERENCES certificates(serial),"                             \
	" cancelled_at INTEGER);"
#define REQUESTS_INDEXES                                                    \
	"CREATE INDEX requests_spki ON requests(spki_sha256);"              \
	"CREATE UNIQUE INDEX requests_one_per_cert ON requests(old_serial)" \
	" WHERE state <> 'cancelled';"

static const char schema[] = "CREATE TABLE meta("
                             " key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                             "CREATE TABLE employers("
                             " id INTEGER PRIMARY KEY,"
                             " registro_patronal TEXT NOT NULL UNIQUE,"
                             " razon_social TEXT NOT NULL,"
                             " rfc TEXT NOT NULL,"
                             " address TEXT NOT NULL,"
                             " email TEXT NOT NULL,"
                             " created_at INTEGER NOT NULL);"
                             "CREATE TABLE users("
                             " id INTEGER PRIMARY KEY,"
                             " employer_id INTEGER NOT NULL REFERENCES employers(id),"
                             " name TEXT NOT NULL UNIQUE,"
                             " pw_salt BLOB NOT NULL,"
                             " pw_hash BLOB NOT NULL,"
                             " pw_iterations INTEGER NOT NULL,"
                             " failed_logins INTEGER NOT NULL DEFAULT 0,"
                             " login_not_before INTEGER NOT NULL DEFAULT 0);"
                             "CREATE TABLE challenges("
                             " id INTEGER PRIMARY KEY,"
                             " value TEXT NOT NULL UNIQUE,"
                             " user_id INTEGER NOT NULL REFERENCES users(id),"
                             " created_at INTEGER NOT NULL,"
                             " expires_at INTEGER NOT NULL,"
                             " used_at INTEGER);"
                             "CREATE TABLE certificates("
                             " serial TEXT PRIMARY KEY,"
                             " employer_id INTEGER NOT NULL REFERENCES employers(id),"
                             " der BLOB NOT NULL,"
                             " spki_sha256 BLOB NOT NULL,"
                             " subject TEXT NOT NULL,"
                             " not_before INTEGER NOT NULL,"
                             " not_after INTEGER NOT NULL,"
                             " issued_at INTEGER NOT NULL,"
                             " request_id TEXT,"
                             " revoked_at INTEGER);"
                             "CREATE INDEX certificates_spki ON certificates(spki_sha256);"
                             "CREATE TABLE sessions("
                             " id INTEGER PRIMARY KEY,"
                             " token_sha256 BLOB NOT NULL UNIQUE,"
                             " user_id INTEGER NOT NULL REFERENCES users(id),"
                             " cert_serial TEXT NOT NULL REFERENCES certificates(serial),"
                             " renewal_required INTEGER NOT NULL,"
                             " created_at INTEGER NOT NULL,"
                             " last_used INTEGER NOT NULL,"
                             " ended_at INTEGER);"
                             "CREATE TABLE letters("
                             " id INTEGER PRIMARY KEY,"
                             " session_id INTEGER NOT NULL REFERENCES sessions(id),"
                             " employer_id INTEGER NOT NULL REFERENCES employers(id),"
                             " email TEXT NOT NULL,"
                             " pdf BLOB NOT NULL,"
                             " sha256 BLOB NOT NULL,"
                             " created_at INTEGER NOT NULL,"
                             " signature BLOB,"
                             " signer_serial TEXT,"
                             " signed_at INTEGER);" REQUESTS_TABLE("requests") REQUESTS_INDEXES;

static void
set_err(char *err, size_t size, const char *what, sqlite3 *db)
{
	if (err && size)
		snprintf(err, size, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

static int
exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int
db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	return sqlite3_prepare_v2(db, sql, -1, st, NULL) == SQLITE_OK ? 0 : -1;
}

int
db_prepare_next(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	sqlite3_finalize(*st);
	*st = NULL;
	return db_prepare(db, sql, st);
}

int
db_first_row(sqlite3_stmt *st)
{
	int step = sqlite3_step(st);

	return step == SQLITE_ROW ? 0 : step == SQLITE_DONE ? 1 : -1;
}

int
db_has_row(sqlite3_stmt *st)
{
	int step = sqlite3_step(st);

	return step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -1;
}

int
db_row_by_text(sqlite3 *db, const char *sql, const char *key, sqlite3_stmt **st)
{
	if (db_prepare(db, sql, st) != 0 ||
	    sqlite3_bind_text(*st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
		return -1;
	return db_first_row(*st);
}

int
db_exec_text(sqlite3 *db, const char *sql, int n, const char *const *params)
{
	sqlite3_stmt *st = NULL;
	int i, rc = -1;

	if (db_prepare(db, sql, &st) != 0)
		goto out;
	for (i = 0; i < n; i++)
		if (sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_TRANSIENT) != SQLITE_OK)
			goto out;
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

static int
create_schema(sqlite3 *db, unsigned kdf_iterations)
{
	char version[16], iter[16];
	const char *p1[2] = { "schema_version", version };
	const char *p2[2] = { "kdf_iterations", iter };
	const char *sql = "INSERT INTO meta(key, value) VALUES (?1, ?2)";

	snprintf(version, sizeof(version), "%d", SVC_SCHEMA_VERSION);
	snprintf(iter, sizeof(iter), "%u", kdf_iterations);
	if (db_begin(db) != 0)
		return -1;
	if (exec(db, schema) != 0 || db_exec_text(db, sql, 2, p1) != 0 ||
	    db_exec_text(db, sql, 2, p2) != 0 || db_commit(db) != 0) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

/* Version 1 to 2: requests may be cancelled, one per old certificate. */
static const char upgrade_1_2[] =
        REQUESTS_TABLE("requests_v2") "INSERT INTO requests_v2 SELECT *, NULL FROM requests;"
                                      "DROP TABLE requests;"
                                      "ALTER TABLE requests_v2 RENAME TO requests;" REQUESTS_INDEXES
                                      "UPDATE meta SET value = '2' WHERE key = 'schema_version';";

static int
upgrade_schema(sqlite3 *db, char *err, size_t errsize)
{
	long long v;

	int rc = -1;

	if (db_meta_int(db, "schema_version", &v) != 0 || v != 1)
		return 0;
	/* The table is rebuilt as SQLite advises: foreign keys off meanwhile. */
	if (exec(db, "PRAGMA foreign_keys=OFF") != 0)
		goto out;
	if (db_begin(db) == 0 && exec(db, upgrade_1_2) == 0 && db_commit(db) == 0)
		rc = 0;
out:
	if (rc != 0) {
		set_err(err, errsize,
		        "cannot upgrade the database from version 1 (when a"
		        " certificate was renewed twice, remove one of its requests or start a new"
		        " DIR)",
		        db);
		db_rollback(db);
	}
	if (exec(db, "PRAGMA foreign_keys=ON") != 0 && rc == 0) {
		set_err(err, errsize, "cannot set up the database", db);
		rc = -1;
	}
	return rc;
}

static int
check_schema(sqlite3 *db)
{
	long long v;

	return db_meta_int(db, "schema_version", &v) == 0 && v == SVC_SCHEMA_VERSION ? 0 : -1;
}

int
db_open(const char *path, int create, unsigned kdf_iterations, sqlite3 **out, char *err,
        size_t errsize)
{
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	mode_t old = umask(077);
	int rc = -1;

	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		set_err(err, errsize, "cannot open the database", db);
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	if (exec(db, "PRAGMA journal_mode=WAL") != 0 || exec(db, "PRAGMA synchronous=FULL") != 0 ||
	    exec(db, "PRAGMA foreign_keys=ON") != 0) {
		set_err(err, errsize, "cannot set up the database", db);
		goto out;
	}
	if (create && create_schema(db, kdf_iterations) != 0) {
		set_err(err, errsize, "cannot create the schema", db);
		goto out;
	}
	if (!create && upgrade_schema(db, err, errsize) != 0)
		goto out;
	if (!create && check_schema(db) != 0) {
		set_err(err, errsize, "not a database of this service (or another schema version)",
		        db);
		goto out;
	}
	*out = db;
	db = NULL;
	rc = 0;
out:
	umask(old);
	sqlite3_close(db);
	return rc;
}

void
db_close(sqlite3 *db)
{
	sqlite3_close(db);
}

int
db_begin(sqlite3 *db)
{
	return exec(db, "BEGIN IMMEDIATE");
}

int
db_commit(sqlite3 *db)
{
	return exec(db, "COMMIT");
}

void
db_rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		exec(db, "ROLLBACK");
}

int
db_meta_int(sqlite3 *db, const char *key, long long *out)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (db_prepare(db, "SELECT value FROM meta WHERE key = ?1", &st) != 0 ||
	    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = 0;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

char *
db_column_strdup(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return strdup(s ? (const char *)s : "");
}

int
db_column_blob(sqlite3_stmt *st, int col, unsigned char **out, size_t *len)
{
	const void *p = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);

	if (!p || n <= 0)
		return -1;
	*out = malloc((size_t)n);
	if (!*out)
		return -1;
	memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	return 0;
}
