/*
 * imss-renew-service: the certificates this CA issued, as rows of the
 * database.  Functions that write run inside the caller's transaction.
 */
#ifndef SVC_CERTDB_H
#define SVC_CERTDB_H

#include <time.h>

#include <sqlite3.h>
#include <openssl/x509.h>

#include "ca.h"
#include "employers.h"

struct certrow {
	long long employer_id;
	unsigned char *der;
	size_t der_len;
	time_t not_before;
	time_t not_after;
	int revoked;
};

/* The row of a serial: 0, 1 when not found, -1. */
int certdb_get(sqlite3 *db, const char *serial, struct certrow *out);
void certdb_row_clear(struct certrow *row);

/* The row as an X509.  NULL on failure. */
X509 *certdb_row_x509(const struct certrow *row);

/*
 * 1 when spki (SHA-256 of a SubjectPublicKeyInfo) is the key of a
 * certificate of this CA or of a renewal request; 0 when not; -1.
 */
int certdb_key_known(sqlite3 *db, const unsigned char spki[32]);

/* Revoke: 0; 1 when there is no such certificate; 2 when revoked already; -1. */
int certdb_revoke(sqlite3 *db, const char *serial, time_t now);

/*
 * Issue a certificate for pub to employer e (with e-mail email) and record
 * it (request_id may be NULL).  0 or -1.
 */
int certdb_issue(sqlite3 *db, const struct ca *ca, const struct employer *e, const char *email,
                 EVP_PKEY *pub, time_t not_before, time_t not_after, const char *request_id,
                 X509 **out);

#endif /* SVC_CERTDB_H */
