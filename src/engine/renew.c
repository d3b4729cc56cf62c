/*
 * imss_renew: the seed's seven steps, each recorded in the journal before
 * and after it is done.  A second run after any interruption reads the
 * journal and continues: the key already generated is reused (never a
 * second one), a submitted request is polled again, a certificate already
 * received is stored.  The old credential is never touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "renew.h"

/*
 * A finished journal whose certificate is current and newer than the
 * credential being renewed: that credential was renewed already.  Run
 * again (after an interruption at the very end, or by mistake), the
 * renewal is not made twice: its certificate is looked for on the token.
 */
static int
renewed_already(struct renew *r)
{
	X509 *mine = r->o->current ? imss_credential_get_certificate(r->o->current) : NULL;
	X509 *done = NULL;
	FILE *f = r->j.cert_path ? fopen(r->j.cert_path, "rb") : NULL;
	int yes = 0;

	if (f != NULL) {
		done = d2i_X509_fp(f, NULL);
		fclose(f);
	}
	if (done != NULL && mine != NULL && X509_cmp(done, mine) != 0 &&
	    X509_cmp_time(X509_get0_notAfter(done), NULL) > 0 &&
	    ASN1_TIME_compare(X509_get0_notAfter(done), X509_get0_notAfter(mine)) > 0) {
		/* ... and its key is still there (else a new renewal it is). */
		imss_key *key = NULL;

		yes = renew_find_journal_key(r, &key) == IMSS_OK;
		imss_key_free(key);
	}
	X509_free(done);
	return yes;
}

/* This run's kind: a first enrollment or a renewal. */
static const char *
run_kind(const struct renew *r)
{
	return renew_is_first(r) ? JOURNAL_KIND_ENROLL : JOURNAL_KIND_RENEW;
}

/* An unfinished journal is continued only by a run of its own kind: an
 * enrollment must not take (and, refused, delete) a renewal's key. */
static imss_err
same_kind(struct renew *r)
{
	const char *kind = r->j.kind ? r->j.kind : JOURNAL_KIND_RENEW;

	if (strcmp(kind, run_kind(r)) == 0)
		return IMSS_OK;
	if (strcmp(kind, JOURNAL_KIND_ENROLL) == 0)
		return ctx_fail_next(r->ctx, IMSS_ERR_BUSY, IMSS_NEXT_ABANDON,
		                     _("An unfinished first enrollment of this employer on this token (key '%s') is in the state directory; finish it by enrolling again, or undo it. Nothing was done."),
		                     r->j.key_label ? r->j.key_label : "-");
	return ctx_fail_next(r->ctx, IMSS_ERR_BUSY, IMSS_NEXT_ABANDON,
	                     _("An unfinished renewal of this employer on this token (key '%s') is in the state directory; finish it by renewing with the current credential, or undo it. Nothing was done."),
	                     r->j.key_label ? r->j.key_label : "-");
}

/*
 * The current certificate signed a renewal request (the service says so
 * at login) that no journal here records: its journal was deleted, or the
 * renewal was made elsewhere.  No second key is made (the service would
 * refuse its request): the certificate it issued is fetched by its serial
 * and stored next to the key that request was for.
 */
static imss_err
renewed_elsewhere(struct renew *r)
{
	struct idse_result res = { 0 };
	imss_cert_info info;
	char serial[128] = "";
	imss_err err = idse_poll(r->ctx, r->http, r->session.renewal_request, &res);

	if (err == IMSS_OK && res.cert != NULL && imss_cert_describe(res.cert, &info) == IMSS_OK) {
		snprintf(serial, sizeof(serial), "%s", info.serial);
		imss_cert_info_clear(&info);
	}
	idse_result_clear(&res);
	if (err != IMSS_OK)
		return err;
	if (serial[0] == '\0')
		return ctx_fail(r->ctx, IMSS_ERR_SERVICE,
		                _("The current certificate has signed a renewal request already (%s), not issued yet, and no journal of it is in the state directory (deleted, or the renewal was made on another computer). Nothing was done. Once the service has issued it, fetch the certificate by its serial and store it next to its key."),
		                r->session.renewal_request);
	return ctx_fail_next(r->ctx, IMSS_ERR_SERVICE, IMSS_NEXT_RECOVER,
	                     _("The current certificate was renewed already: the service issued certificate %s for its request %s, and no journal of that renewal is in the state directory (deleted, or the renewal was made on another computer). Nothing was done, no second key made. If that certificate is on the token, renew from it; else fetch it by its serial, %s, and store it next to its key."),
	                     serial, r->session.renewal_request, serial);
}

/* A journal of this employer and token: continue it, or start one. */
static imss_err
journal_open(struct renew *r)
{
	char *path;
	int exists = 0;
	imss_err err = renew_journal_load(r, &exists);

	if (err != IMSS_OK)
		return err;
	if (exists && r->j.state == JOURNAL_DONE && renewed_already(r)) {
		renew_emit(r, "resume", 1, NULL,
		           _("This credential was renewed already (certificate %s); checking that the certificate is on the token next to its key. To renew again, use the new certificate as the current one."),
		           r->j.cert_serial ? r->j.cert_serial : "?");
		return IMSS_OK;
	}
	if (exists && r->j.state != JOURNAL_DONE) {
		err = same_kind(r);
		if (err != IMSS_OK)
			return err;
		if (strcmp(r->j.protocol ? r->j.protocol : "idse",
		           imss_protocol_name(r->o->protocol)) != 0)
			return ctx_fail_next(r->ctx, IMSS_ERR_BUSY, IMSS_NEXT_ABANDON,
			                     _("An unfinished renewal of this employer on this token was started with the protocol %s; finish it with that protocol, or undo it."),
			                     r->j.protocol ? r->j.protocol : "idse");
		if (strcmp(r->j.server, r->o->server) != 0)
			return ctx_fail_next(r->ctx, IMSS_ERR_BUSY, IMSS_NEXT_ABANDON,
			                     _("An unfinished renewal of this employer on this token was started with %s; finish it there, or undo it."),
			                     r->j.server);
		renew_emit(r, "resume", 1, NULL, _("Continuing the interrupted renewal: %s."),
		           journal_state_words(r->j.state));
		return IMSS_OK;
	}
	if (r->session.renewal_request[0] != '\0')
		return renewed_elsewhere(r);
	path = r->j.path;
	r->j.path = NULL;
	journal_clear(&r->j);
	r->j.path = path;
	r->j.state = JOURNAL_LOGGED_IN;
	if (journal_set(&r->j.server, r->o->server) != IMSS_OK ||
	    journal_set(&r->j.kind, run_kind(r)) != IMSS_OK ||
	    journal_set(&r->j.registro_patronal, r->company.registro_patronal) != IMSS_OK ||
	    journal_set(&r->j.token_serial, imss_token_get_info(r->o->token)->serial) != IMSS_OK ||
	    journal_set(&r->j.protocol, r->o->protocol == IMSS_PROTOCOL_IDSE
	                                        ? NULL
	                                        : imss_protocol_name(r->o->protocol)) != IMSS_OK)
		return IMSS_ERR_NOMEM;
	return IMSS_OK;
}

static imss_err
result_fill(struct renew *r)
{
	imss_cert_info info;
	imss_err err = imss_cert_describe(r->cert, &info);

	if (err != IMSS_OK)
		return err;
	r->result->serial = info.serial;
	r->result->subject = info.subject;
	r->result->not_before = info.not_before;
	r->result->not_after = info.not_after;
	info.serial = info.subject = NULL;
	imss_cert_info_clear(&info);
	r->result->key_uri = strdup(imss_key_get_uri(r->key));
	return r->result->key_uri ? IMSS_OK : IMSS_ERR_NOMEM;
}

/* A step's result, or the interruption the user asked for during it. */
static imss_err
after_step(struct renew *r, imss_err err, int step)
{
	imss_err stop = renew_check_interrupt(r, err == IMSS_OK ? step : step - 1);

	return stop != IMSS_OK ? stop : err;
}

/*
 * Does this renewal generate its key on the token?  A renewal given a key
 * made beforehand (--new-key) does not, and needs no generation mechanism.
 */
static int
renew_generates_key(const struct renew *r)
{
	return r->o->new_key_uri == NULL;
}

/* What the preflight leaves out: the key generation when no key is to be
 * made (--new-key, or a resumed renewal whose key was made already). */
static unsigned
preflight_flags(struct renew *r)
{
	return renew_generates_key(r) && !renew_resumes_past_keygen(r) ? 0 : PREFLIGHT_SKIP_KEYGEN;
}

/*
 * A first enrollment (enroll): SCEP only, and an RSA key, since the CA
 * encrypts its answer to the new key (RFC 8894 3.2.1); refused before
 * anything is sent or made.
 */
static imss_err
first_preflight(struct renew *r)
{
	imss_err err;

	if (r->o->protocol != IMSS_PROTOCOL_SCEP)
		return ctx_fail(r->ctx, IMSS_ERR_INVALID_ARG,
		                _("A first certificate is enrolled by SCEP only. Nothing was done."));
	if (r->o->flags & (IMSS_RENEW_RETIRE_OLD | IMSS_RENEW_RETIRE_DELETE))
		return ctx_fail(r->ctx, IMSS_ERR_INVALID_ARG,
		                _("A first certificate has no old credential to retire. Nothing was done."));
	if (r->o->keyspec.kind != IMSS_KEY_RSA)
		return ctx_fail_next(r->ctx, IMSS_ERR_UNSUPPORTED, IMSS_NEXT_OTHER_KEY_TYPE,
		                     _("SCEP enrollment needs an RSA key: the CA encrypts its answer to the new key, and an EC key cannot decrypt. Nothing was sent and no key was made; choose an RSA key type."));
	err = renew_parse_subject(r);
	return err == IMSS_OK
	               ? token_preflight(r->o->token, &r->o->keyspec, NULL, preflight_flags(r))
	               : err;
}

/*
 * Before step 1, without side effects: the current credential holds its
 * certificate and key, and the token can take the new key (token_preflight).
 * A failure here leaves the service, the journal and the token untouched.
 */
static imss_err
renew_preflight(struct renew *r)
{
	imss_credential *current = r->o->current;

	if (renew_is_first(r))
		return first_preflight(r);
	if (imss_credential_get_certificate(current) == NULL ||
	    (imss_credential_get_key(current) == NULL &&
	     imss_credential_get_token_key(current) == NULL))
		return ctx_fail(r->ctx, IMSS_ERR_NO_OBJECT,
		                _("The current credential has no certificate or no key. Nothing was sent to the service. Give the credential with both."));
	return token_preflight(r->o->token, &r->o->keyspec, imss_credential_get_token_key(current),
	                       preflight_flags(r));
}

/*
 * Steps 1 and 2 (login, company data), then 5 and 6 (letter, submit and
 * wait) talk to the service with the token free for other threads'
 * renewals (a pipelined fleet): what they sign on the token holds it for
 * that one operation (imss_key_sign), so one employer's network steps go
 * on while another's key is generated.
 */
static imss_err
renew_identify(struct renew *r)
{
	imss_err err;

	if (r->o->protocol != IMSS_PROTOCOL_IDSE) /* no login, company data or letter */
		return after_step(r, renew_enroll_identity(r), 2);
	err = after_step(r, renew_login(r), 1);
	if (err == IMSS_OK)
		err = after_step(r, renew_company(r), 2);
	return err;
}

static imss_err
renew_send(struct renew *r, const unsigned char *req, size_t req_len)
{
	imss_err err = IMSS_OK;

	renew_token_leave(r);
	if (r->j.state < JOURNAL_CERT_RECEIVED && r->o->protocol == IMSS_PROTOCOL_IDSE)
		err = after_step(r, renew_ensure_letter(r, req, req_len), 5);
	if (err == IMSS_OK)
		err = after_step(r, renew_submit(r, req, req_len), 6);
	return err;
}

/* A run stopped (an error, an interruption): the records left to a later
 * save are written, the run's error (its detail and next step) kept. */
static void
journal_keep(struct renew *r)
{
	char saved[IMSS_DETAIL_MAX];
	imss_next next = imss_ctx_get_next(r->ctx);

	if (!r->j.unsaved)
		return;
	memcpy(saved, ctx_detail_buf(r->ctx), sizeof(saved));
	journal_flush(r->ctx, &r->j);
	memcpy(ctx_detail_buf(r->ctx), saved, sizeof(saved));
	ctx_set_next(r->ctx, next);
}

/* The steps, the token held (imss_token_acquire) for its own ones, from
 * the journal to the store (the key, the request, the store), and free
 * before them. */
static imss_err
renew_steps(struct renew *r)
{
	unsigned char *req = NULL;
	size_t req_len = 0;
	imss_err err = renew_identify(r);

	renew_token_take(r);
	if (err == IMSS_OK)
		err = journal_open(r);
	if (err == IMSS_OK)
		err = after_step(r, renew_ensure_key(r), 3);
	if (err == IMSS_OK)
		err = after_step(r, renew_ensure_request(r, &req, &req_len), 4);
	if (err == IMSS_OK) /* the key's record, unless the request's save wrote it */
		err = journal_flush(r->ctx, &r->j);
	if (err == IMSS_OK)
		err = renew_send(r, req, req_len);
	if (err == IMSS_OK)
		err = renew_store(r);
	if (err == IMSS_OK) {
		r->j.state = JOURNAL_DONE;
		err = journal_save(r->ctx, &r->j);
	} else {
		journal_keep(r);
	}
	if (err == IMSS_OK)
		err = result_fill(r);
	if (err == IMSS_OK && (r->o->flags & (IMSS_RENEW_RETIRE_OLD | IMSS_RENEW_RETIRE_DELETE))) {
		renew_token_take(r);
		if (renew_retire_old(r) != IMSS_OK)
			/* The renewal is done; only the tidying up failed. */
			ctx_log(r->ctx, IMSS_LOG_WARN,
			        _("the old credential could not be retired: %s"),
			        imss_ctx_detail(r->ctx));
	}
	renew_token_leave(r);
	OPENSSL_free(req);
	return err;
}

/* A first enrollment the CA refused leaves nothing behind: the refusal
 * (err, its message in the context) is kept, and says what was undone. */
static void
undo_refused(struct renew *r, imss_err err)
{
	char saved[IMSS_DETAIL_MAX];

	char why[IMSS_DETAIL_MAX];

	memcpy(saved, r->ctx->detail, sizeof(saved));
	if (renew_undo_refused(r) == IMSS_OK) {
		ctx_fail(r->ctx, err, "%s %s", saved,
		         _("Nothing is left behind: the key this run made was deleted, with its journal."));
		return;
	}
	memcpy(why, r->ctx->detail, sizeof(why));
	ctx_fail(r->ctx, err, "%s %s %s", saved, _("The key this run made could not be deleted:"),
	         why);
}

/* A refusal of a key this run did not make (a resumed enrollment): the key
 * and the journal stay; undoing is the user's choice. */
static void
keep_refused(struct renew *r)
{
	ctx_append_detail(r->ctx,
	                  _(" The key '%s' was not made by this run and was kept, with its journal; undo the enrollment to delete it."),
	                  r->j.key_label ? r->j.key_label : "-");
	ctx_set_next(r->ctx, IMSS_NEXT_ABANDON);
}

imss_err
imss_renew(imss_ctx *ctx, const imss_renew_options *o, const imss_renew_ui *ui,
           imss_renew_result *result)
{
	struct renew r;
	imss_err err;

	err = renew_setup(&r, ctx, o, ui, result);
	if (err == IMSS_OK && o->protocol == IMSS_PROTOCOL_IDSE &&
	    (o->server == NULL || o->user == NULL || o->current == NULL || o->password == NULL))
		err = ctx_fail(ctx, IMSS_ERR_INVALID_ARG,
		               _("A renewal needs the server, the user, the current credential and the token."));
	if (err == IMSS_OK && (o->server == NULL || (o->current == NULL && o->subject == NULL)))
		err = ctx_fail(ctx, IMSS_ERR_INVALID_ARG,
		               _("A renewal needs the server, the current credential and the token."));
	if (err == IMSS_OK && o->label != NULL && (o->label[0] == '\0' || !str_is_text(o->label)))
		err = ctx_fail(ctx, IMSS_ERR_INVALID_ARG,
		               _("The label for the new key is empty or holds control characters or invalid UTF-8; choose a printable one. Nothing was done."));
	if (err == IMSS_OK) {
		imss_token_acquire(o->token);
		err = renew_preflight(&r);
		imss_token_release(o->token);
	}
	if (err == IMSS_OK)
		err = renew_lock_token(&r, NULL);
	if (err == IMSS_OK)
		err = o->protocol == IMSS_PROTOCOL_IDSE ? renew_connect(&r)
		                                        : renew_connect_enroll(&r);
	if (err == IMSS_OK) {
		err = renew_steps(&r);
		imss_token_acquire(o->token); /* undone while the token is held */
		if (err != IMSS_OK && r.refused && renew_is_first(&r) && r.made_key)
			undo_refused(&r, err);
		else if (err != IMSS_OK && r.refused && renew_is_first(&r))
			keep_refused(&r);
		imss_token_release(o->token);
	}
	renew_free(&r);
	if (err != IMSS_OK)
		imss_renew_result_clear(result);
	return err;
}
