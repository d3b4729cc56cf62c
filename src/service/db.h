/*
 * imss-renew-service: the SQLite database (DIR/service.db): opening it,
 * its schema, transactions, and helpers for prepared statements.  Every
 * statement binds its parameters; nothing is pasted into SQL text.
 */
#ifndef SVC_DB_H
#define SVC_DB_H

#include <sqlite3.h>

#define SVC_DB_FILE "service.db"
#define SVC_SCHEMA_VERSION 2

/*
 * Open the database at path (which must exist unless create).  WAL,
 * synchronous=FULL, foreign keys on, a busy timeout.  create makes the
 * schema (mode 0600) and records kdf_iterations in the meta table.
 * 0, or -1 with a message in err (may be NULL).
 */
int db_open(const char *path, int create, unsigned kdf_iterations, sqlite3 **out, char *err,
            size_t errsize);
void db_close(sqlite3 *db);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK.  0 or -1. */
int db_begin(sqlite3 *db);
int db_commit(sqlite3 *db);
void db_rollback(sqlite3 *db);

/* Prepare sql.  0 or -1. */
int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st);
/* The same after finalizing the statement *st held (a function's next one). */
int db_prepare_next(sqlite3 *db, const char *sql, sqlite3_stmt **st);

/* Step st to its first row: 0 on a row, 1 when there is none, -1 on failure. */
int db_first_row(sqlite3_stmt *st);

/* Step st: 1 when it gives a row, 0 when there is none, -1 on failure. */
int db_has_row(sqlite3_stmt *st);

/*
 * Prepare sql, bind key (text) to ?1 and step to the first row: 0 with *st
 * on the row, 1 when there is none, -1 on failure.  The caller finalizes
 * *st in every case.
 */
int db_row_by_text(sqlite3 *db, const char *sql, const char *key, sqlite3_stmt **st);

/*
 * Run a statement with no result rows: sql with its text parameters (NULL
 * binds NULL).  0 or -1.
 */
int db_exec_text(sqlite3 *db, const char *sql, int n, const char *const *params);

/* A meta value as an integer.  0, or -1 when missing. */
int db_meta_int(sqlite3 *db, const char *key, long long *out);

/* A column as a malloc'd NUL-terminated copy ("" for NULL); NULL when out
 * of memory. */
char *db_column_strdup(sqlite3_stmt *st, int col);

/* A blob column as a malloc'd copy.  0 or -1 (also for an empty blob). */
int db_column_blob(sqlite3_stmt *st, int col, unsigned char **out, size_t *len);

#endif /* SVC_DB_H */
