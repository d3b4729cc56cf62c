/*
 * imss-renew-service: the certificates this CA issued (see certdb.h).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "certdb.h"
#include "db.h"

int
certdb_get(sqlite3 *db, const char *serial, struct certrow *out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = db_row_by_text(db,
	                    "SELECT employer_id, der, not_before, not_after,"
	                    " revoked_at IS NOT NULL FROM certificates WHERE serial = ?1",
	                    serial, &st);
	if (rc != 0)
		goto out;
	out->employer_id = sqlite3_column_int64(st, 0);
	out->not_before = (time_t)sqlite3_column_int64(st, 2);
	out->not_after = (time_t)sqlite3_column_int64(st, 3);
	out->revoked = sqlite3_column_int(st, 4);
	if (db_column_blob(st, 1, &out->der, &out->der_len) != 0)
		rc = -1;
out:
	sqlite3_finalize(st);
	return rc;
}

void
certdb_row_clear(struct certrow *row)
{
	free(row->der);
	memset(row, 0, sizeof(*row));
}

X509 *
certdb_row_x509(const struct certrow *row)
{
	const unsigned char *p = row->der;

	return d2i_X509(NULL, &p, (long)row->der_len);
}

int
certdb_key_known(sqlite3 *db, const unsigned char spki[32])
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (db_prepare(db,
	               "SELECT 1 FROM certificates WHERE spki_sha256 = ?1"
	               " UNION ALL SELECT 1 FROM requests WHERE spki_sha256 = ?1",
	               &st) != 0 ||
	    sqlite3_bind_blob(st, 1, spki, 32, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	rc = db_has_row(st);
out:
	sqlite3_finalize(st);
	return rc;
}

int
certdb_revoke(sqlite3 *db, const char *serial, time_t now)
{
	struct certrow row;
	sqlite3_stmt *st = NULL;
	int rc;

	rc = certdb_get(db, serial, &row);
	if (rc != 0)
		return rc;
	if (row.revoked) {
		rc = 2;
		goto out;
	}
	rc = -1;
	if (db_prepare(db, "UPDATE certificates SET revoked_at = ?1 WHERE serial = ?2", &st) == 0 &&
	    sqlite3_bind_int64(st, 1, (sqlite3_int64)now) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, serial, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
out:
	sqlite3_finalize(st);
	certdb_row_clear(&row);
	return rc;
}

static int
insert(sqlite3 *db, X509 *x, long long employer, const char *request_id, int *dup)
{
	char serial[64];
	unsigned char spki[32], *der = NULL;
	size_t len;
	char *subject = ca_subject_text(X509_get_subject_name(x));
	time_t nb, na;
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	*dup = 0;
	if (!subject || ca_serial_text(x, serial, sizeof(serial)) != 0 ||
	    ca_spki_sha256(X509_get0_pubkey(x), spki) != 0 || ca_cert_der(x, &der, &len) != 0 ||
	    ca_cert_times(x, &nb, &na) != 0)
		goto out;
	if (db_prepare(db,
	               "INSERT INTO certificates(serial, employer_id, der, spki_sha256, subject,"
	               " not_before, not_after, issued_at, request_id)"
	               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	               &st) != 0)
		goto out;
	if (sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC) ||
	    sqlite3_bind_int64(st, 2, employer) ||
	    sqlite3_bind_blob(st, 3, der, (int)len, SQLITE_STATIC) ||
	    sqlite3_bind_blob(st, 4, spki, 32, SQLITE_STATIC) ||
	    sqlite3_bind_text(st, 5, subject, -1, SQLITE_STATIC) ||
	    sqlite3_bind_int64(st, 6, (sqlite3_int64)nb) ||
	    sqlite3_bind_int64(st, 7, (sqlite3_int64)na) ||
	    sqlite3_bind_int64(st, 8, (sqlite3_int64)time(NULL)) ||
	    (request_id ? sqlite3_bind_text(st, 9, request_id, -1, SQLITE_STATIC)
	                : sqlite3_bind_null(st, 9)))
		goto out;
	step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		rc = 0;
	else if (sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_PRIMARYKEY)
		*dup = 1;
out:
	sqlite3_finalize(st);
	OPENSSL_free(der);
	free(subject);
	return rc;
}

int
certdb_issue(sqlite3 *db, const struct ca *ca, const struct employer *e, const char *email,
             EVP_PKEY *pub, time_t not_before, time_t not_after, const char *request_id, X509 **out)
{
	struct subject s = { e->razon_social, e->registro_patronal, e->rfc, email };
	X509 *x = NULL;
	int tries, dup = 0;

	/* A serial already used (2^-126 odds) is drawn again. */
	for (tries = 0; tries < 4; tries++) {
		if (ca_issue(ca, pub, &s, not_before, not_after, &x) != 0)
			return -1;
		if (insert(db, x, e->id, request_id, &dup) == 0) {
			*out = x;
			return 0;
		}
		X509_free(x);
		x = NULL;
		if (!dup)
			return -1;
	}
	return -1;
}
