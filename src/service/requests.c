/*
 * imss-renew-service: renewal requests (see requests.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "certdb.h"
#include "db.h"
#include "employers.h"
#include "requests.h"
#include "util.h"

#define DAY 86400L
#define DUE_BATCH 64

int
request_pending_exists(sqlite3 *db, long long employer_id)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (db_prepare(db, "SELECT 1 FROM requests WHERE employer_id = ?1 AND state = 'pending'",
	               &st) == 0 &&
	    sqlite3_bind_int64(st, 1, employer_id) == SQLITE_OK)
		rc = db_has_row(st);
	sqlite3_finalize(st);
	return rc;
}

/*
 * Step st, whose first column is a request id, and copy that id: 1 when
 * found, 0 when there is no row, -1 on failure or a malformed id.
 */
static int
request_id_of_row(sqlite3_stmt *st, char id[REQUEST_ID_LEN + 1])
{
	const unsigned char *text;
	int step = sqlite3_step(st);

	if (step == SQLITE_DONE)
		return 0;
	if (step != SQLITE_ROW || (text = sqlite3_column_text(st, 0)) == NULL ||
	    strlen((const char *)text) != REQUEST_ID_LEN)
		return -1;
	memcpy(id, text, REQUEST_ID_LEN + 1);
	return 1;
}

int
request_find_by_key(sqlite3 *db, long long employer_id, const unsigned char *spki,
                    char id[REQUEST_ID_LEN + 1])
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (db_prepare(db, "SELECT id FROM requests WHERE employer_id = ?1 AND spki_sha256 = ?2",
	               &st) == 0 &&
	    sqlite3_bind_int64(st, 1, employer_id) == SQLITE_OK &&
	    sqlite3_bind_blob(st, 2, spki, 32, SQLITE_STATIC) == SQLITE_OK)
		rc = request_id_of_row(st, id);
	sqlite3_finalize(st);
	return rc;
}

int
request_of_cert(sqlite3 *db, const char *old_serial, char id[REQUEST_ID_LEN + 1])
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (db_prepare(db, "SELECT id FROM requests WHERE old_serial = ?1 AND state <> 'cancelled'",
	               &st) == 0 &&
	    sqlite3_bind_text(st, 1, old_serial, -1, SQLITE_STATIC) == SQLITE_OK)
		rc = request_id_of_row(st, id);
	sqlite3_finalize(st);
	return rc;
}

int
requests_cancel_signed_by(sqlite3 *db, const char *old_serial, time_t now, unsigned *count)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	*count = 0;
	if (db_prepare(db,
	               "UPDATE requests SET state = 'cancelled', cancelled_at = ?1"
	               " WHERE old_serial = ?2 AND state = 'pending'",
	               &st) == 0 &&
	    sqlite3_bind_int64(st, 1, (sqlite3_int64)now) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, old_serial, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE) {
		*count = (unsigned)sqlite3_changes(db);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int
request_insert(sqlite3 *db, struct request_new *r)
{
	unsigned char b[REQUEST_ID_LEN / 2];
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (svc_random(b, sizeof(b)) != 0)
		goto out;
	svc_hex(b, sizeof(b), r->id, 0);
	if (db_prepare(db,
	               "INSERT INTO requests(id, employer_id, session_id, letter_id, old_serial,"
	               " cms, csr, spki_sha256, email, created_at, due_at, state)"
	               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'pending')",
	               &st) != 0)
		goto out;
	if (sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC) ||
	    sqlite3_bind_int64(st, 2, r->employer_id) || sqlite3_bind_int64(st, 3, r->session_id) ||
	    sqlite3_bind_int64(st, 4, r->letter_id) ||
	    sqlite3_bind_text(st, 5, r->old_serial, -1, SQLITE_STATIC) ||
	    sqlite3_bind_blob(st, 6, r->cms, (int)r->cms_len, SQLITE_STATIC) ||
	    sqlite3_bind_blob(st, 7, r->csr, (int)r->csr_len, SQLITE_STATIC) ||
	    sqlite3_bind_blob(st, 8, r->spki, 32, SQLITE_STATIC) ||
	    sqlite3_bind_text(st, 9, r->email, -1, SQLITE_STATIC) ||
	    sqlite3_bind_int64(st, 10, (sqlite3_int64)r->created_at) ||
	    sqlite3_bind_int64(st, 11, (sqlite3_int64)r->due_at))
		goto out;
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
	else if (sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_UNIQUE)
		rc = 1; /* requests_one_per_cert: old_serial was renewed already */
out:
	sqlite3_finalize(st);
	return rc;
}

int
request_get(sqlite3 *db, const char *id, struct request_row *out)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *serial;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = db_row_by_text(db,
	                    "SELECT employer_id, due_at, state = 'issued', serial,"
	                    " state = 'cancelled' FROM requests WHERE id = ?1",
	                    id, &st);
	if (rc != 0)
		goto out;
	out->employer_id = sqlite3_column_int64(st, 0);
	out->due_at = (time_t)sqlite3_column_int64(st, 1);
	out->issued = sqlite3_column_int(st, 2);
	serial = sqlite3_column_text(st, 3);
	snprintf(out->serial, sizeof(out->serial), "%s", serial ? (const char *)serial : "");
	out->cancelled = sqlite3_column_int(st, 4);
out:
	sqlite3_finalize(st);
	return rc;
}

static int
mark_issued(sqlite3 *db, const char *id, X509 *x)
{
	char serial[64];
	const char *params[2] = { serial, id };

	if (ca_serial_text(x, serial, sizeof(serial)) != 0)
		return -1;
	return db_exec_text(db, "UPDATE requests SET state = 'issued', serial = ?1 WHERE id = ?2",
	                    2, params);
}

int
request_issue(sqlite3 *db, const struct ca *ca, const char *id, time_t now, unsigned validity_days)
{
	struct employer e = { 0 };
	sqlite3_stmt *st = NULL;
	unsigned char *csr = NULL;
	const unsigned char *p;
	size_t len;
	char *email = NULL;
	X509_REQ *req = NULL;
	EVP_PKEY *pub = NULL;
	X509 *x = NULL;
	long long employer;
	int rc = -1;

	if (db_prepare(db,
	               "SELECT employer_id, csr, email FROM requests"
	               " WHERE id = ?1 AND state = 'pending'",
	               &st) != 0 ||
	    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto out;
	employer = sqlite3_column_int64(st, 0);
	if (db_column_blob(st, 1, &csr, &len) != 0 || !(email = db_column_strdup(st, 2)))
		goto out;
	p = csr;
	req = d2i_X509_REQ(NULL, &p, (long)len);
	pub = req ? X509_REQ_get_pubkey(req) : NULL;
	if (!pub || employer_get(db, employer, &e) != 0)
		goto out;
	if (certdb_issue(db, ca, &e, email, pub, now, now + (time_t)validity_days * DAY, id, &x) != 0 ||
	    mark_issued(db, id, x) != 0)
		goto out;
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pub);
	X509_REQ_free(req);
	employer_clear(&e);
	free(email);
	free(csr);
	sqlite3_finalize(st);
	return rc;
}

int
requests_issue_due(sqlite3 *db, const struct ca *ca, time_t now, unsigned validity_days,
                   unsigned *count)
{
	char ids[DUE_BATCH][REQUEST_ID_LEN + 1];
	sqlite3_stmt *st = NULL;
	const unsigned char *id;
	int n = 0, i, rc = -1, step;

	if (count)
		*count = 0;
	if (db_prepare(db,
	               "SELECT id FROM requests WHERE state = 'pending' AND due_at <= ?1"
	               " ORDER BY due_at LIMIT ?2",
	               &st) != 0 ||
	    sqlite3_bind_int64(st, 1, (sqlite3_int64)now) != SQLITE_OK ||
	    sqlite3_bind_int(st, 2, DUE_BATCH) != SQLITE_OK)
		goto out;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		id = sqlite3_column_text(st, 0);
		if (!id)
			goto out;
		snprintf(ids[n++], sizeof(ids[0]), "%s", (const char *)id);
	}
	if (step != SQLITE_DONE)
		goto out;
	sqlite3_finalize(st);
	st = NULL;
	for (i = 0; i < n; i++)
		if (request_issue(db, ca, ids[i], now, validity_days) != 0)
			goto out;
	if (count)
		*count = (unsigned)n;
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}
