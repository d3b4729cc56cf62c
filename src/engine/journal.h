/*
 * The renewal journal: one file per employer and token recording each
 * step of a renewal before and after it is done, so that a run that was
 * interrupted anywhere continues where it stopped.
 */
#ifndef IMSS_JOURNAL_H
#define IMSS_JOURNAL_H

#include "imss-renew/imss-renew.h"

/* In order; a state is what has been done, or (the *_STARTED ones) what
 * was begun and may or may not have happened. */
enum journal_state {
	JOURNAL_NEW = 0,
	JOURNAL_LOGGED_IN,
	JOURNAL_KEYGEN_STARTED,
	JOURNAL_KEY_GENERATED,
	JOURNAL_REQUEST_BUILT,
	JOURNAL_LETTER_SIGNED,
	JOURNAL_SUBMIT_STARTED,
	JOURNAL_SUBMITTED,
	JOURNAL_CERT_RECEIVED,
	JOURNAL_STORE_STARTED,
	JOURNAL_STORED,
	JOURNAL_DONE,
};

struct journal {
	char *path;
	enum journal_state state;
	char *server;
	char *registro_patronal;
	char *token_serial;
	char *key_label;       /* chosen, and found free, before generating */
	char *key_tmp_id;      /* hex random CKA_ID the pair is generated with,
	                           * recorded before C_GenerateKeyPair */
	char *key_id;          /* hex final CKA_ID once generated */
	char *key_spki_sha256; /* hex SHA-256 of the public key (SPKI DER),
	                           * recorded before the ID is changed */
	char *request_path;
	char *letter_path;
	char *letter_sha256;
	char *request_id;
	char *cert_path;
	char *cert_serial;
	char *email;
	long long updated;
};

const char *journal_state_name(enum journal_state s);

/* Where a renewal in state s stopped and what comes next, in words (the
 * user's language), for the message of a resumed run. */
const char *journal_state_words(enum journal_state s);

/* Read the journal at path.  *exists 0 (and an empty journal) when there
 * is none; a file that cannot be read back exactly is IMSS_ERR_JOURNAL. */
imss_err journal_load(imss_ctx *ctx, const char *path, struct journal *j, int *exists);

/* Parse a journal file's bytes text[0..len) into j (zeroed but for its
 * path, which names it in messages).  Anything but one JSON object of
 * known fields, with trailing white space at most, is IMSS_ERR_JOURNAL;
 * on failure j holds only its path. */
imss_err journal_parse(imss_ctx *ctx, const char *text, size_t len, struct journal *j);

/* The JSON text journal_save writes (malloc'd; NULL when out of memory). */
char *journal_format(const struct journal *j);

/* Write it atomically (0600), stamping the time. */
imss_err journal_save(imss_ctx *ctx, struct journal *j);

/* Set a string field (NULL clears). */
imss_err journal_set(char **field, const char *value);

void journal_clear(struct journal *j);

#endif
