/*
 * imss-renew-service: logins, challenges and sessions (see auth.h).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "db.h"
#include "util.h"

int
auth_user_find(sqlite3 *db, const char *name, struct user *out)
{
	sqlite3_stmt *st = NULL;
	const void *salt, *hash;
	int rc, ns, nh;

	memset(out, 0, sizeof(*out));
	rc = db_row_by_text(db,
	                    "SELECT id, employer_id, pw_salt, pw_hash, pw_iterations,"
	                    " failed_logins, login_not_before FROM users WHERE name = ?1",
	                    name, &st);
	if (rc != 0)
		goto out;
	out->id = sqlite3_column_int64(st, 0);
	out->employer_id = sqlite3_column_int64(st, 1);
	salt = sqlite3_column_blob(st, 2);
	ns = sqlite3_column_bytes(st, 2);
	hash = sqlite3_column_blob(st, 3);
	nh = sqlite3_column_bytes(st, 3);
	out->iterations = (unsigned)sqlite3_column_int64(st, 4);
	out->failed = sqlite3_column_int64(st, 5);
	out->not_before = (time_t)sqlite3_column_int64(st, 6);
	if (!salt || !hash || ns <= 0 || nh <= 0 || (size_t)ns > sizeof(out->salt) ||
	    (size_t)nh > sizeof(out->hash)) {
		rc = -1;
		goto out;
	}
	memcpy(out->salt, salt, (size_t)ns);
	memcpy(out->hash, hash, (size_t)nh);
	out->salt_len = (size_t)ns;
	out->hash_len = (size_t)nh;
out:
	sqlite3_finalize(st);
	return rc;
}

static int
exec_ids(sqlite3 *db, const char *sql, long long a, long long b)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (db_prepare(db, sql, &st) == 0 && sqlite3_bind_int64(st, 1, a) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 2, b) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

int
auth_user_failed(sqlite3 *db, long long user_id, time_t now)
{
	sqlite3_stmt *st = NULL;
	long long n, delay = 0;
	int rc = -1;

	if (db_prepare(db, "SELECT failed_logins FROM users WHERE id = ?1", &st) != 0 ||
	    sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		goto out;
	n = sqlite3_column_int64(st, 0) + 1;
	if (n >= AUTH_FREE_FAILURES)
		delay = n - AUTH_FREE_FAILURES >= 10 ? AUTH_MAX_DELAY
		                                     : 1LL << (n - AUTH_FREE_FAILURES);
	if (delay > AUTH_MAX_DELAY)
		delay = AUTH_MAX_DELAY;
	if (db_prepare_next(db,
	                    "UPDATE users SET failed_logins = ?1, login_not_before = ?2"
	                    " WHERE id = ?3",
	                    &st) == 0 &&
	    sqlite3_bind_int64(st, 1, n) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 2, (sqlite3_int64)now + delay) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 3, user_id) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

int
auth_user_succeeded(sqlite3 *db, long long user_id)
{
	return exec_ids(db,
	                "UPDATE users SET failed_logins = ?1, login_not_before = ?1"
	                " WHERE id = ?2",
	                0, user_id);
}

/* 32 random bytes as 64 lower-case hex characters. */
static int
random_hex(char *out)
{
	unsigned char b[AUTH_TOKEN_LEN / 2];

	if (svc_random(b, sizeof(b)) != 0)
		return -1;
	svc_hex(b, sizeof(b), out, 0);
	OPENSSL_cleanse(b, sizeof(b));
	return 0;
}

int
auth_challenge_new(sqlite3 *db, long long user_id, time_t now, unsigned ttl, char *value)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	/* Challenges an hour past their expiry are of no more use. */
	if (random_hex(value) != 0 ||
	    db_prepare(db, "DELETE FROM challenges WHERE expires_at < ?1", &st) != 0 ||
	    sqlite3_bind_int64(st, 1, (sqlite3_int64)now - 3600) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		goto out;
	if (db_prepare_next(db,
	                    "INSERT INTO challenges(value, user_id, created_at, expires_at)"
	                    " VALUES (?1, ?2, ?3, ?4)",
	                    &st) == 0 &&
	    sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 2, user_id) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 3, (sqlite3_int64)now) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 4, (sqlite3_int64)now + ttl) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

enum api_code
auth_challenge_take(sqlite3 *db, const char *value, size_t len, long long user_id, time_t now)
{
	sqlite3_stmt *st = NULL;
	enum api_code code = API_INTERNAL;
	long long id;
	int step;

	if (len != AUTH_TOKEN_LEN || memchr(value, '\0', len))
		return API_CHALLENGE_UNKNOWN;
	if (db_prepare(db,
	               "SELECT id, user_id, expires_at, used_at IS NOT NULL FROM challenges"
	               " WHERE value = ?1",
	               &st) != 0 ||
	    sqlite3_bind_text(st, 1, value, (int)len, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		code = API_CHALLENGE_UNKNOWN;
	if (step != SQLITE_ROW)
		goto out;
	id = sqlite3_column_int64(st, 0);
	if (sqlite3_column_int64(st, 1) != user_id)
		code = API_CHALLENGE_FOREIGN;
	else if (sqlite3_column_int(st, 3))
		code = API_CHALLENGE_USED;
	else if ((time_t)sqlite3_column_int64(st, 2) < now)
		code = API_CHALLENGE_EXPIRED;
	else if (exec_ids(db, "UPDATE challenges SET used_at = ?1 WHERE id = ?2", now, id) == 0)
		code = API_OK;
out:
	sqlite3_finalize(st);
	return code;
}

int
auth_session_new(sqlite3 *db, long long user_id, const char *serial, int renewal_required,
                 time_t now, char *token, long long *id)
{
	unsigned char h[32];
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (random_hex(token) != 0 || svc_sha256(token, AUTH_TOKEN_LEN, h) != 0)
		goto out;
	if (db_prepare(db,
	               "INSERT INTO sessions(token_sha256, user_id, cert_serial,"
	               " renewal_required, created_at, last_used) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
	               &st) == 0 &&
	    sqlite3_bind_blob(st, 1, h, sizeof(h), SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 2, user_id) == SQLITE_OK &&
	    sqlite3_bind_text(st, 3, serial, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int(st, 4, renewal_required) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 5, (sqlite3_int64)now) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE) {
		*id = sqlite3_last_insert_rowid(db);
		rc = 0;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

static enum api_code
session_row(sqlite3_stmt *st, time_t now, unsigned idle, struct session *out)
{
	const unsigned char *user = sqlite3_column_text(st, 3);
	const unsigned char *serial = sqlite3_column_text(st, 4);

	out->id = sqlite3_column_int64(st, 0);
	out->user_id = sqlite3_column_int64(st, 1);
	out->employer_id = sqlite3_column_int64(st, 2);
	out->renewal_required = sqlite3_column_int(st, 5);
	out->last_used = (time_t)sqlite3_column_int64(st, 6);
	if (!user || !serial)
		return API_INTERNAL;
	snprintf(out->user, sizeof(out->user), "%s", (const char *)user);
	snprintf(out->serial, sizeof(out->serial), "%s", (const char *)serial);
	if (sqlite3_column_type(st, 7) != SQLITE_NULL || now - out->last_used > (time_t)idle)
		return API_SESSION_EXPIRED;
	if (sqlite3_column_int(st, 8))
		return API_CERT_REVOKED;
	return API_OK;
}

enum api_code
auth_session_get(sqlite3 *db, const char *token, time_t now, unsigned idle, struct session *out)
{
	unsigned char h[32];
	sqlite3_stmt *st = NULL;
	enum api_code code = API_INTERNAL;
	int step;

	memset(out, 0, sizeof(*out));
	if (!svc_is_hex(token, AUTH_TOKEN_LEN, AUTH_TOKEN_LEN))
		return API_SESSION_INVALID;
	if (svc_sha256(token, AUTH_TOKEN_LEN, h) != 0 ||
	    db_prepare(db,
	               "SELECT s.id, s.user_id, u.employer_id, u.name, s.cert_serial,"
	               " s.renewal_required, s.last_used, s.ended_at, c.revoked_at IS NOT NULL"
	               " FROM sessions s JOIN users u ON u.id = s.user_id"
	               " JOIN certificates c ON c.serial = s.cert_serial"
	               " WHERE s.token_sha256 = ?1",
	               &st) != 0 ||
	    sqlite3_bind_blob(st, 1, h, sizeof(h), SQLITE_STATIC) != SQLITE_OK)
		goto out;
	step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		code = API_SESSION_INVALID;
	else if (step == SQLITE_ROW)
		code = session_row(st, now, idle, out);
out:
	sqlite3_finalize(st);
	return code;
}

int
auth_session_touch(sqlite3 *db, long long id, time_t now)
{
	return exec_ids(db, "UPDATE sessions SET last_used = ?1 WHERE id = ?2", now, id);
}

int
auth_session_end(sqlite3 *db, long long id, time_t now)
{
	return exec_ids(db, "UPDATE sessions SET ended_at = ?1 WHERE id = ?2", now, id);
}
