/*
 * imss-renew-service: employers and their users.  The checks of each
 * field (shared by `employer add` and PATCH /company), and their rows.
 * Functions that write run inside the caller's transaction.
 */
#ifndef SVC_EMPLOYERS_H
#define SVC_EMPLOYERS_H

#include <sqlite3.h>

struct employer {
	long long id;
	char *registro_patronal;
	char *razon_social;
	char *rfc;
	char *address;
	char *email;
};

struct employer_input {
	const char *registro_patronal;
	const char *razon_social;
	const char *rfc;
	const char *email;
	const char *address; /* may be NULL: "" */
	const char *user;
	const char *password;
};

/* Field checks: 1 when valid. */
int employer_valid_rp(const char *s);       /* 11 of [A-Z0-9] */
int employer_valid_rfc(const char *s);      /* SAT RFC, 12 or 13 characters */
int employer_valid_razon(const char *s);    /* 1-64 characters, printable UTF-8 */
int employer_valid_address(const char *s);  /* 0-200 characters, printable UTF-8 */
int employer_valid_email(const char *s);    /* <= 128, one @, printable ASCII */
int employer_valid_user(const char *s);     /* 8-20 letters and digits */
int employer_valid_password(const char *s); /* 8-20 letters and digits */

/* The first field of in that is not valid (its option name), or NULL. */
const char *employer_input_check(const struct employer_input *in);

/*
 * Insert the employer and its user.  0; 1 when the registro patronal or
 * the user exists already; -1 on failure.
 */
int employer_insert(sqlite3 *db, const struct employer_input *in, unsigned iterations);

/* The employer by id or by registro patronal: 0, 1 when not found, -1. */
int employer_get(sqlite3 *db, long long id, struct employer *out);
int employer_find_rp(sqlite3 *db, const char *rp, struct employer *out);
void employer_clear(struct employer *e);

int employer_set_email(sqlite3 *db, long long id, const char *email);

#endif /* SVC_EMPLOYERS_H */
