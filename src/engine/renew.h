/*
 * The renewal engine's shared state and steps.  renew.c (imss_renew) and
 * renew-undo.c (abandon, recover) are the drivers; renew-steps.c holds the
 * steps, certcheck.c checks what the service sends, renew-retire.c retires
 * the old credential; context.c holds what they all share.  The drivers
 * call the steps and context.c; the steps call only context.c (and the
 * layers below the engine): no circle.
 */
#ifndef IMSS_RENEW_INTERNAL_H
#define IMSS_RENEW_INTERNAL_H

#include <openssl/x509.h>

#include "http.h"
#include "idse.h"
#include "token-internal.h"
#include "journal.h"

struct renew {
	imss_ctx *ctx;
	const imss_renew_options *o;
	const imss_renew_ui *ui;
	imss_renew_result *result;
	struct http_client *http;
	char *state_dir;
	char *out_dir;           /* absolute */
	STACK_OF(X509) * issuer; /* CA(s) issued certificates must chain to */
	struct idse_company company;
	struct idse_session session;
	struct journal j;
	imss_key *key;        /* the new key */
	X509_NAME *subject;   /* a first enrollment's (--subject) */
	int refused;          /* the CA refused the request for good */
	int made_key;         /* this run generated the key (so its request
	                       * was never answered before) */
	X509 *cert;           /* the new certificate */
	int letter_binds;     /* the service holds this run's letter signature
	                       * as binding the request: it is sent bare */
	int token_held;       /* renew_token_take: the token is this run's */
	int lock_fd;          /* token-<token>.lock */
	int employer_lock_fd; /* token-<token>-<employer>.lock */
};

/* context.c: the token for this renewal's own calls (imss_token_acquire),
 * taken or left once however often asked (token_held); left around a
 * step's file writes, so that another renewal may use the token while
 * they reach the disk. */
void renew_token_take(struct renew *r);
void renew_token_leave(struct renew *r);

/* context.c: report a step: fields are name/value pairs ending in NULL. */
void renew_emit(struct renew *r, const char *step, int number, const char *const *fields,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The token's name in state files: its identity, or (legacy) the serial
 * older versions used, NULL when the same (malloc'd, file-safe). */
char *renew_token_name(struct renew *r, int legacy);
/* state_dir/NAME-<registro patronal>-<token name>.EXT */
char *renew_state_file(struct renew *r, const char *name, const char *ext);
/* The one entry nid of a subject, as UTF-8 (malloc'd); NULL when it is
 * absent, repeated or empty. */
char *renew_subject_entry(const X509_NAME *name, int nid);
/* Move the journal of employer rp on this token to path from a name older
 * versions gave it, when only that exists, records rp (or no employer) and
 * is this token's (below). */
imss_err renew_journal_adopt_old(struct renew *r, const char *rp, const char *path);
/* Is j, a journal named by the serial, this token's: before keygen, or its
 * key (recorded ID and label) on this token?  Else *ours 0, and said. */
imss_err renew_journal_ours(struct renew *r, const struct journal *j, int *ours);
/* text as part of a file name, one to one: itself when all of
 * [A-Za-z0-9._-], else each other byte '_' plus '~' and 16 hex digits of
 * its SHA-256 (malloc'd). */
char *renew_file_safe(const char *text);
/* The name versions before gave text (others as '_'), NULL when that is
 * renew_file_safe's. */
char *renew_file_legacy(const char *text);
/* Does this employer's journal on this token (the current certificate's
 * registro patronal) record a key generated already?  Then the preflight
 * need not ask for the generation mechanism. */
int renew_resumes_past_keygen(struct renew *r);
/* The journal of this employer and token into r->j (*exists 0 when none). */
imss_err renew_journal_load(struct renew *r, int *exists);
/* *field (a journal field) set to path, the journal moved on to state
 * (never back), and saved. */
imss_err renew_journal_reached(struct renew *r, char **field, const char *path,
                               enum journal_state state);

/* renew-steps.c */
/* May a wrong answer (IMSS_ASK_*) be asked again after attempt tries? */
int renew_ask_again(struct renew *r, int what, int attempt);
/* IMSS_ERR_INTERRUPTED (saying what is kept and how to go on) once the
 * user asked to stop; step: the last one done. */
imss_err renew_check_interrupt(struct renew *r, int step);
imss_err renew_login(struct renew *r);
imss_err renew_company(struct renew *r);
/* The company data (r->company) name the current certificate's employer
 * (O, OU, x500UniqueIdentifier), else IMSS_ERR_MISMATCH naming both. */
imss_err renew_check_employer(struct renew *r);
imss_err renew_ensure_key(struct renew *r);
imss_err renew_ensure_request(struct renew *r, unsigned char **der, size_t *len);
/* The letter signed, its signature binding the request (req, len; NULL
 * when there is none to bind). */
imss_err renew_ensure_letter(struct renew *r, const unsigned char *req, size_t len);
imss_err renew_submit(struct renew *r, const unsigned char *req, size_t len);
imss_err renew_store(struct renew *r);

/* certcheck.c: the full check of a certificate before it is trusted (key,
 * validity, usage, chain, employer; the e-mail too with with_email): NULL
 * when it passes, else the reason (in buf, or a constant). */
const char *renew_certificate_problem(struct renew *r, X509 *cert, EVP_PKEY *key_pub,
                                      int with_email, char *buf, size_t size);
/* The same for the certificate the service sent: IMSS_ERR_REFUSED_CERT
 * with the reason. */
imss_err renew_check_certificate(struct renew *r, X509 *cert, EVP_PKEY *key_pub, int with_email);
/* The user's copy in the output directory (*path malloc'd): written,
 * never read back. */
imss_err renew_write_certificate(struct renew *r, X509 *cert, char **path);
/* The same, its path in r->result->cert_path. */
imss_err renew_user_copy(struct renew *r, X509 *cert);
/* The copy a resumed run reads (and checks again), in the state directory
 * next to the journal: certificate-RP-TOKEN.der, 0600 (*path malloc'd). */
imss_err renew_keep_certificate(struct renew *r, X509 *cert, char **path);
/* A checked certificate: the state copy, then the journal (certificate
 * received; a later state is kept), then the user's copy. */
imss_err renew_save_certificate(struct renew *r, X509 *cert);

/* context.c: set-up and tear-down shared by renew, abandon and recover. */
imss_err renew_setup(struct renew *r, imss_ctx *ctx, const imss_renew_options *o,
                     const imss_renew_ui *ui, imss_renew_result *result);
/* One renewal per employer (rp, else the current certificate's) and
 * token at a time. */
imss_err renew_lock_token(struct renew *r, const char *rp);
imss_err renew_connect(struct renew *r);
void renew_free(struct renew *r);
/* The same for a standard protocol (SCEP, CMP): --ca trusted alone. */
imss_err renew_connect_enroll(struct renew *r);

/* renew-enroll.c: a standard protocol (SCEP, CMP).  The employer (the
 * names of the journal and state files) from the current certificate,
 * instead of the IDSE login and company data. */
imss_err renew_enroll_identity(struct renew *r);
/* Step 6 for a standard protocol: send the request (the journal records
 * the transaction first), check the certificate, save it. */
imss_err renew_enroll(struct renew *r, const unsigned char *der, size_t len);

/* context.c: a first enrollment (enroll): no current credential, the
 * subject given.  The subject wanted: the current certificate's, or the
 * one given (r->subject, parsed by renew_parse_subject). */
int renew_is_first(const struct renew *r);
const X509_NAME *renew_wanted_subject(const struct renew *r);
imss_err renew_parse_subject(struct renew *r);

/* renew-undo.c: a first enrollment the CA refused: delete the key this
 * run made (proven its own, as --abandon does), the saved request and the
 * journal. */
imss_err renew_undo_refused(struct renew *r);

/* renew-retire.c: --retire-old, after success. */
imss_err renew_retire_old(struct renew *r);

/* The key the journal names: by ID (checked against its public key hash),
 * or by label when generation may have been under way. */
imss_err renew_find_journal_key(struct renew *r, imss_key **out);
/* renew-steps.c: in state keygen-started, the EC private key the journal
 * planned (its random ID and label) whose public half went with the
 * session of a run stopped before its request was saved: deleted
 * (*dropped); nothing else is touched. */
imss_err renew_drop_half_made(struct renew *r, int *dropped);

#endif
