/*
 * imss-renew-service: users' logins, challenges and sessions, as rows of
 * the database.  Functions that write run inside the caller's
 * transaction.  Session tokens are stored as their SHA-256 only.
 */
#ifndef SVC_AUTH_H
#define SVC_AUTH_H

#include <time.h>

#include <sqlite3.h>

#include "errors.h"
#include "password.h"

#define AUTH_TOKEN_LEN 64    /* hex characters of a token or a challenge */
#define AUTH_FREE_FAILURES 5 /* failed logins before the delays start */
#define AUTH_MAX_DELAY 900   /* seconds: the longest delay */

struct user {
	long long id;
	long long employer_id;
	unsigned char salt[PW_SALT_LEN];
	unsigned char hash[PW_HASH_LEN];
	size_t salt_len;
	size_t hash_len;
	unsigned iterations;
	long long failed;
	time_t not_before;
};

/* A password checked against a user's row (api_prepare_session). */
struct pw_check {
	int done;
	long long user_id; /* 0: no such user (a hash was computed all the same) */
	unsigned char salt[PW_SALT_LEN];
	unsigned char hash[PW_HASH_LEN];
	unsigned iterations;
	int verdict; /* pw_verify's: 1 the password, 0 not it, -1 error */
};

struct session {
	long long id;
	long long user_id;
	long long employer_id;
	char user[32];
	char serial[64]; /* of the certificate that logged in */
	int renewal_required;
	time_t last_used;
};

/* The user by name: 0, 1 when there is none, -1. */
int auth_user_find(sqlite3 *db, const char *name, struct user *out);

/* One more failed login for the user; the next attempt waits (see
 * docs/protocol.md).  0 or -1. */
int auth_user_failed(sqlite3 *db, long long user_id, time_t now);
int auth_user_succeeded(sqlite3 *db, long long user_id);

/* A new challenge for the user (value: AUTH_TOKEN_LEN + 1).  Expired
 * challenges are deleted.  0 or -1. */
int auth_challenge_new(sqlite3 *db, long long user_id, time_t now, unsigned ttl, char *value);

/* Use up the challenge value for user_id: API_OK or API_CHALLENGE_*. */
enum api_code auth_challenge_take(sqlite3 *db, const char *value, size_t len, long long user_id,
                                  time_t now);

/* A new session (token: AUTH_TOKEN_LEN + 1).  0 or -1. */
int auth_session_new(sqlite3 *db, long long user_id, const char *serial, int renewal_required,
                     time_t now, char *token, long long *id);

/*
 * The session of token, if alive (used within idle seconds, not ended,
 * its certificate not revoked): API_OK, API_SESSION_INVALID,
 * API_SESSION_EXPIRED, API_CERT_REVOKED or API_INTERNAL.
 */
enum api_code auth_session_get(sqlite3 *db, const char *token, time_t now, unsigned idle,
                               struct session *out);

int auth_session_touch(sqlite3 *db, long long id, time_t now);
int auth_session_end(sqlite3 *db, long long id, time_t now);

#endif /* SVC_AUTH_H */
