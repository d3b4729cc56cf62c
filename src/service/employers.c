/*
 * imss-renew-service: employers and their users (see employers.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "db.h"
#include "employers.h"
#include "password.h"
#include "util.h"

static int
all_of(const char *s, const char *set, size_t min, size_t max)
{
	size_t len = strlen(s);

	return len >= min && len <= max && strspn(s, set) == len;
}

#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGITS "0123456789"
#define ALNUM UPPER "abcdefghijklmnopqrstuvwxyz" DIGITS

int
employer_valid_rp(const char *s)
{
	return all_of(s, UPPER DIGITS, 11, 11);
}

/* Letters of an RFC: A-Z, '&' and 'Ñ' (two bytes in UTF-8). */
static size_t
rfc_letters(const char *s)
{
	size_t n = 0;

	for (;;) {
		if ((*s >= 'A' && *s <= 'Z') || *s == '&')
			s++;
		else if (strncmp(s, "\xC3\x91", 2) == 0)
			s += 2;
		else
			return n;
		n++;
	}
}

int
employer_valid_rfc(const char *s)
{
	size_t letters = rfc_letters(s);
	size_t skip = 0, i;

	if (letters != 3 && letters != 4)
		return 0;
	for (i = 0; i < letters; i++)
		skip += strncmp(s + skip, "\xC3\x91", 2) == 0 ? 2 : 1;
	s += skip;
	return strlen(s) == 9 && strspn(s, DIGITS) >= 6 && all_of(s + 6, UPPER DIGITS, 3, 3);
}

int
employer_valid_razon(const char *s)
{
	size_t n = svc_utf8_chars(s);

	return n >= 1 && n <= 64 && svc_utf8_printable(s, strlen(s)) && s[0] != ' ';
}

int
employer_valid_address(const char *s)
{
	return svc_utf8_chars(s) <= 200 && svc_utf8_printable(s, strlen(s));
}

int
employer_valid_email(const char *s)
{
	const char *at = strchr(s, '@');
	size_t len = strlen(s), i;

	if (len < 3 || len > 128 || !at || at == s || !at[1] || strchr(at + 1, '@'))
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7F || strchr("\"(),:;<>[\\]", s[i]))
			return 0;
	return 1;
}

int
employer_valid_user(const char *s)
{
	return all_of(s, ALNUM, 8, 20);
}

int
employer_valid_password(const char *s)
{
	return all_of(s, ALNUM, 8, 20);
}

const char *
employer_input_check(const struct employer_input *in)
{
	if (!in->registro_patronal || !employer_valid_rp(in->registro_patronal))
		return "registro-patronal";
	if (!in->razon_social || !employer_valid_razon(in->razon_social))
		return "razon-social";
	if (!in->rfc || !employer_valid_rfc(in->rfc))
		return "rfc";
	if (!in->email || !employer_valid_email(in->email))
		return "email";
	if (in->address && !employer_valid_address(in->address))
		return "address";
	if (!in->user || !employer_valid_user(in->user))
		return "user";
	if (!in->password || !employer_valid_password(in->password))
		return "password";
	return NULL;
}

static int
exists(sqlite3 *db, const char *sql, const char *value)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (db_prepare(db, sql, &st) != 0 ||
	    sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	rc = db_has_row(st);
out:
	sqlite3_finalize(st);
	return rc;
}

static int
insert_employer(sqlite3 *db, const struct employer_input *in, long long *id)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (db_prepare(db,
	               "INSERT INTO employers(registro_patronal, razon_social, rfc, address,"
	               " email, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	               &st) != 0)
		goto out;
	if (sqlite3_bind_text(st, 1, in->registro_patronal, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(st, 2, in->razon_social, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(st, 3, in->rfc, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(st, 4, in->address ? in->address : "", -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(st, 5, in->email, -1, SQLITE_STATIC) ||
	    sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL)) || sqlite3_step(st) != SQLITE_DONE)
		goto out;
	*id = sqlite3_last_insert_rowid(db);
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

static int
insert_user(sqlite3 *db, long long employer, const char *user, const char *password,
            unsigned iterations)
{
	unsigned char salt[PW_SALT_LEN], hash[PW_HASH_LEN];
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (svc_random(salt, sizeof(salt)) != 0 ||
	    pw_hash(password, salt, sizeof(salt), iterations, hash) != 0)
		goto out;
	if (db_prepare(db,
	               "INSERT INTO users(employer_id, name, pw_salt, pw_hash, pw_iterations)"
	               " VALUES (?1, ?2, ?3, ?4, ?5)",
	               &st) != 0)
		goto out;
	if (sqlite3_bind_int64(st, 1, employer) || sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC) ||
	    sqlite3_bind_blob(st, 3, salt, sizeof(salt), SQLITE_STATIC) ||
	    sqlite3_bind_blob(st, 4, hash, sizeof(hash), SQLITE_STATIC) ||
	    sqlite3_bind_int64(st, 5, iterations) || sqlite3_step(st) != SQLITE_DONE)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(hash, sizeof(hash));
	sqlite3_finalize(st);
	return rc;
}

int
employer_insert(sqlite3 *db, const struct employer_input *in, unsigned iterations)
{
	long long id;
	int e1, e2;

	e1 = exists(db, "SELECT 1 FROM employers WHERE registro_patronal = ?1",
	            in->registro_patronal);
	e2 = exists(db, "SELECT 1 FROM users WHERE name = ?1", in->user);
	if (e1 < 0 || e2 < 0)
		return -1;
	if (e1 || e2)
		return 1;
	if (insert_employer(db, in, &id) != 0 ||
	    insert_user(db, id, in->user, in->password, iterations) != 0)
		return -1;
	return 0;
}

static int
get_by(sqlite3 *db, const char *where, long long id, const char *rp, struct employer *out)
{
	char sql[256];
	sqlite3_stmt *st = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	snprintf(sql, sizeof(sql),
	         "SELECT id, registro_patronal, razon_social, rfc, address, email"
	         " FROM employers WHERE %s = ?1",
	         where);
	if (db_prepare(db, sql, &st) != 0)
		goto out;
	if ((rp ? sqlite3_bind_text(st, 1, rp, -1, SQLITE_STATIC) : sqlite3_bind_int64(st, 1, id)) !=
	    SQLITE_OK)
		goto out;
	rc = db_first_row(st);
	if (rc != 0)
		goto out;
	out->id = sqlite3_column_int64(st, 0);
	out->registro_patronal = db_column_strdup(st, 1);
	out->razon_social = db_column_strdup(st, 2);
	out->rfc = db_column_strdup(st, 3);
	out->address = db_column_strdup(st, 4);
	out->email = db_column_strdup(st, 5);
	if (!out->registro_patronal || !out->razon_social || !out->rfc || !out->address || !out->email)
		rc = -1;
out:
	sqlite3_finalize(st);
	if (rc != 0)
		employer_clear(out);
	return rc;
}

int
employer_get(sqlite3 *db, long long id, struct employer *out)
{
	return get_by(db, "id", id, NULL, out);
}

int
employer_find_rp(sqlite3 *db, const char *rp, struct employer *out)
{
	return get_by(db, "registro_patronal", 0, rp, out);
}

void
employer_clear(struct employer *e)
{
	free(e->registro_patronal);
	free(e->razon_social);
	free(e->rfc);
	free(e->address);
	free(e->email);
	memset(e, 0, sizeof(*e));
}

int
employer_set_email(sqlite3 *db, long long id, const char *email)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (db_prepare(db, "UPDATE employers SET email = ?1 WHERE id = ?2", &st) == 0 &&
	    sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 2, id) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}
