/*
 * imss-renew-service: renewal requests, as rows of the database, and the
 * issuing of those that are due.  A request is 'pending' until its
 * certificate is issued ('issued'); both happen in one transaction, so a
 * restart finds each request either still pending or issued with its
 * certificate.  A pending request is 'cancelled' when the certificate
 * that signed it (old_serial) is revoked.  A certificate has at most one
 * request that is not cancelled (a unique index): a certificate renewed
 * once cannot renew again.  Functions run inside the caller's transaction.
 */
#ifndef SVC_REQUESTS_H
#define SVC_REQUESTS_H

#include <time.h>

#include <sqlite3.h>

#include "ca.h"

#define REQUEST_ID_LEN 32 /* hex characters */

struct request_new {
	char id[REQUEST_ID_LEN + 1];
	long long employer_id;
	long long session_id;
	long long letter_id;
	const char *old_serial;
	const unsigned char *cms;
	size_t cms_len;
	const unsigned char *csr;
	size_t csr_len;
	const unsigned char *spki; /* 32 bytes */
	const char *email;
	time_t created_at;
	time_t due_at;
};

struct request_row {
	long long employer_id;
	time_t due_at;
	int issued;
	int cancelled;
	char serial[64];
};

/* 1 when the employer has a pending request, 0 when not, -1. */
int request_pending_exists(sqlite3 *db, long long employer_id);

/* The employer's request for the key with this SPKI SHA-256, if any:
 * 1 (id set), 0 when none, -1. */
int request_find_by_key(sqlite3 *db, long long employer_id, const unsigned char *spki,
                        char id[REQUEST_ID_LEN + 1]);

/* The request (not cancelled) signed by the certificate old_serial, if
 * any: 1 (id set), 0 when none, -1. */
int request_of_cert(sqlite3 *db, const char *old_serial, char id[REQUEST_ID_LEN + 1]);

/* Cancel the pending requests signed by the certificate old_serial;
 * *count says how many.  0 or -1. */
int requests_cancel_signed_by(sqlite3 *db, const char *old_serial, time_t now, unsigned *count);

/* Insert r, drawing its id.  0; 1 when r->old_serial has a request
 * already (the certificate was renewed); -1. */
int request_insert(sqlite3 *db, struct request_new *r);

/* The request: 0, 1 when not found, -1. */
int request_get(sqlite3 *db, const char *id, struct request_row *out);

/* Issue the pending request id (validity days from now).  0 or -1. */
int request_issue(sqlite3 *db, const struct ca *ca, const char *id, time_t now,
                  unsigned validity_days);

/* Issue every pending request due by now; *count (may be NULL) says how
 * many.  0 or -1. */
int requests_issue_due(sqlite3 *db, const struct ca *ca, time_t now, unsigned validity_days,
                       unsigned *count);

#endif /* SVC_REQUESTS_H */
