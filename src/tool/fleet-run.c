/*
 * fleet check and fleet renew (fleet.h): the tokens of the run, each
 * opened and logged in once and its certificates listed once; for every
 * employer its current credential (the row's current column, or the
 * employer's newest certificate with its key on the token, whichever is
 * newer), whether it is due, and the renewal with imss_renew, the options
 * filled from the row.  Then the summary: a table, or one JSON document,
 * and the --report file.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fleet.h"

/* A token of the run: opened and logged in once, or why not. */
struct fleet_token {
	char *uri;                /* as the file or --token gives it */
	imss_token *tok;          /* NULL when it could not be opened */
	struct fleet_token *same; /* another URI of a token opened already */
	imss_err err;
	char *detail;           /* of err, told for every employer on it */
	imss_token_cert *certs; /* listed once, on first need */
	char **rps;             /* of each certificate, or NULL */
	long long *not_after;   /* of each certificate */
	size_t ncerts;
	int listed;
};

/* What became of one employer. */
struct fleet_result {
	const struct fleet_row *row;
	const char *status; /* the JSON word: "renewed", "not-due", ... */
	char *razon_social;
	char *where; /* the current credential: URI or file */
	char *serial;
	long long not_after;
	long days_left;
	int found; /* a current certificate was found */
	imss_renew_result renewed;
	imss_err err;
	char *detail;
};

struct fleet_run {
	struct tool *t;
	const struct fleet_args *a;
	struct fleet_token *tokens;
	size_t ntokens;
	imss_pin_source *pin; /* NULL: fleet check without --pin-source */
	struct fleet_result *results;
	size_t nresults;
	size_t index; /* fleet check: the employer under way, from 1 */
	int progress; /* the step of each employer on stderr (a terminal) */
	/* fleet renew: the queue its workers (--jobs) take employers from. */
	pthread_mutex_t lock;      /* guards the tokens and the queue; taken before a token */
	size_t next;               /* the next employer to take, from 0 */
	pthread_mutex_t told_lock; /* guards stderr and the two below; taken last */
	size_t told;               /* employers whose end was told, in order */
	unsigned char *ended;      /* of each employer: its renewal ended */
};

/* One employer under way in a worker: what its events report. */
struct fleet_job {
	struct fleet_run *r;
	struct fleet_result *res;
	size_t index; /* from 1 */
};

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* err and what the context says of it, kept for the employer. */
static imss_err
result_fail(struct fleet_run *r, struct fleet_result *res, imss_err err, const char *detail)
{
	const char *hint = r->t->ctx ? tool_next_hint(imss_ctx_get_next(r->t->ctx)) : NULL;
	const char *said = detail ? detail : r->t->ctx ? imss_ctx_detail(r->t->ctx) : "";
	size_t len = strlen(said) + (hint ? strlen(hint) + 2 : 0) + 1;

	res->status = "failed";
	res->err = err;
	free(res->detail);
	res->detail = malloc(len);
	if (res->detail)
		snprintf(res->detail, len, "%s%s%s", said, hint && !detail ? " " : "",
		         hint && !detail ? hint : "");
	return err;
}

/* ---- tokens ----------------------------------------------------------- */

static int
same_token(const imss_token_info *x, const imss_token_info *y)
{
	return strcmp(x->serial, y->serial) == 0 && strcmp(x->label, y->label) == 0 &&
	       strcmp(x->module_name, y->module_name) == 0;
}

/* The one login of this token for the run (one C_Login per PIN read). */
static void
token_open(struct fleet_run *r, struct fleet_token *ft)
{
	size_t i;

	ft->err = tool_open_token(r->t, ft->uri, r->a->renew, &ft->tok);
	for (i = 0; ft->err == IMSS_OK && i < r->ntokens; i++) {
		struct fleet_token *other = &r->tokens[i];

		if (other != ft && other->tok != NULL && other->same == NULL &&
		    same_token(imss_token_get_info(other->tok), imss_token_get_info(ft->tok))) {
			imss_token_close(ft->tok);
			ft->tok = NULL;
			ft->same = other;
			return;
		}
	}
	if (ft->err == IMSS_OK && r->pin != NULL)
		ft->err = imss_token_login(ft->tok, r->pin, 0);
	if (ft->err != IMSS_OK) {
		ft->detail = strdup(imss_ctx_detail(r->t->ctx));
		if (ft->tok)
			imss_token_close(ft->tok);
		ft->tok = NULL;
	}
}

/* The token of uri, opened on first use. */
static struct fleet_token *
run_token(struct fleet_run *r, const char *uri)
{
	struct fleet_token *ft;
	size_t i;

	for (i = 0; i < r->ntokens; i++)
		if (strcmp(r->tokens[i].uri, uri) == 0)
			return r->tokens[i].same ? r->tokens[i].same : &r->tokens[i];
	/* A key's URI on a token open already, as renew takes --current on
	 * --token: not opened again (5 PKCS#11 calls an employer). */
	for (i = 0; i < r->ntokens; i++)
		if (r->tokens[i].tok != NULL && imss_token_uri_matches(r->tokens[i].tok, uri))
			return &r->tokens[i];
	ft = &r->tokens[r->ntokens++]; /* room for every row's two URIs */
	memset(ft, 0, sizeof(*ft));
	ft->uri = strdup(uri);
	if (ft->uri == NULL) {
		ft->err = IMSS_ERR_NOMEM;
		return ft;
	}
	token_open(r, ft);
	return ft->same ? ft->same : ft;
}

static imss_err
token_usable(struct fleet_run *r, struct fleet_token *ft, struct fleet_result *res)
{
	if (ft->tok != NULL)
		return IMSS_OK;
	return result_fail(r, res, ft->err, ft->detail ? ft->detail : "");
}

static void
tokens_close(struct fleet_run *r)
{
	size_t i, j;

	for (i = 0; r->tokens && i < r->ntokens; i++) {
		for (j = 0; r->tokens[i].rps && j < r->tokens[i].ncerts; j++)
			free(r->tokens[i].rps[j]);
		free(r->tokens[i].rps);
		free(r->tokens[i].not_after);
		imss_token_cert_free(r->tokens[i].certs, r->tokens[i].ncerts);
		if (r->tokens[i].tok)
			imss_token_close(r->tokens[i].tok);
		free(r->tokens[i].uri);
		free(r->tokens[i].detail);
	}
	free(r->tokens);
	r->tokens = NULL;
	r->ntokens = 0;
}

/* The token's certificates, listed and described once for the run: their
 * registro patronal (NULL: none, or not usable) and expiry. */
static void
token_list(struct fleet_run *r, struct fleet_token *ft)
{
	imss_cert_info info;
	size_t i;

	ft->listed = 1;
	if (imss_token_list_certificates(ft->tok, &ft->certs, &ft->ncerts) != IMSS_OK) {
		tool_warn(_("the certificates on %s could not be listed: %s"), ft->uri,
		          imss_ctx_detail(r->t->ctx));
		return;
	}
	ft->rps = calloc(ft->ncerts ? ft->ncerts : 1, sizeof(*ft->rps));
	ft->not_after = calloc(ft->ncerts ? ft->ncerts : 1, sizeof(*ft->not_after));
	if (ft->rps == NULL || ft->not_after == NULL) {
		imss_token_cert_free(ft->certs, ft->ncerts);
		ft->certs = NULL;
		ft->ncerts = 0;
		return;
	}
	for (i = 0; i < ft->ncerts; i++) {
		const imss_token_cert *c = &ft->certs[i];

		if ((c->key_known && c->key_uri == NULL) ||
		    imss_cert_describe(c->cert, &info) != IMSS_OK)
			continue; /* a certificate without its key is not a credential */
		ft->rps[i] = info.registro_patronal;
		ft->not_after[i] = info.not_after;
		info.registro_patronal = NULL;
		imss_cert_info_clear(&info);
	}
}

/*
 * What a certificate on the token must chain to before it is taken as an
 * employer's current one: in fleet renew, the CA the renewal trusts (--ca,
 * else the CA pinned for the row's server); *cas NULL: none known, so
 * nothing on the token is taken (*usable 0).  fleet check lists what the
 * token holds, unchecked (*usable 1, *cas NULL).
 */
static void
row_trust(struct fleet_run *r, const struct fleet_row *row, STACK_OF(X509) * *cas, int *usable)
{
	const char *server = row->server ? row->server : r->a->server;

	*cas = NULL;
	*usable = !r->a->renew;
	if (!r->a->renew)
		return;
	if (imss_renew_trusted_cas(r->t->ctx, server, r->a->ca, r->a->state_dir, cas) != IMSS_OK)
		tool_warn(_("registro patronal %s: the service's CA cannot be read (%s); no certificate on the token is taken as current"),
		          row->registro_patronal, imss_ctx_detail(r->t->ctx));
	else if (*cas == NULL && row->current == NULL)
		tool_warn(_("registro patronal %s: no CA to check the token's certificates against (give --ca, or the current column); none is taken as current"),
		          row->registro_patronal);
	*usable = *cas != NULL;
}

/* Certificate i of the token: the employer's, and (cas) issued by its CA. */
static int
employer_cert(struct fleet_token *ft, size_t i, const char *rp, STACK_OF(X509) * cas)
{
	if (ft->rps[i] == NULL || strcmp(ft->rps[i], rp) != 0)
		return 0;
	if (cas == NULL || imss_cert_chains_to(ft->certs[i].cert, cas))
		return 1;
	tool_warn(_("registro patronal %s: the certificate %s on the token does not chain to the service's CA; it is not taken as current"),
	          rp, ft->certs[i].uri ? ft->certs[i].uri : "?");
	return 0;
}

/* The employer's newest certificate on the token (with its key, when keys
 * are visible) that chains to the run's trust (row_trust), or NULL. */
static const imss_token_cert *
newest_on_token(struct fleet_run *r, struct fleet_token *ft, const struct fleet_row *row)
{
	STACK_OF(X509) *cas = NULL;
	size_t i, best = 0;
	int found = 0, usable;

	if (!ft->listed)
		token_list(r, ft);
	row_trust(r, row, &cas, &usable);
	for (i = 0; usable && i < ft->ncerts; i++)
		if (employer_cert(ft, i, row->registro_patronal, cas) &&
		    (!found || ft->not_after[i] > ft->not_after[best])) {
			best = i;
			found = 1;
		}
	sk_X509_pop_free(cas, X509_free);
	return found ? &ft->certs[best] : NULL;
}

/* The employer's certificates of the listing, freed once its row was
 * looked at: every row names another employer (fleet-file.c), so none is
 * looked for again, and a fleet of hundreds keeps no certificate it is
 * done with. */
static void
token_forget(struct fleet_token *ft, const char *rp)
{
	size_t i;

	for (i = 0; ft->listed && ft->rps && i < ft->ncerts; i++)
		if (ft->rps[i] && strcmp(ft->rps[i], rp) == 0) {
			free(ft->rps[i]);
			ft->rps[i] = NULL;
			X509_free(ft->certs[i].cert);
			ft->certs[i].cert = NULL;
		}
}

/* ---- the current credential --------------------------------------- */

static imss_err
result_describe(struct fleet_result *res, X509 *cert, const char *where)
{
	imss_cert_info info;
	imss_err err = imss_cert_describe(cert, &info);

	if (err != IMSS_OK)
		return err;
	free(res->razon_social);
	free(res->serial);
	free(res->where);
	res->razon_social = dup_or_null(info.razon_social);
	res->serial = dup_or_null(info.serial);
	res->where = strdup(where);
	res->not_after = info.not_after;
	res->days_left = info.days_left;
	res->found = 1;
	imss_cert_info_clear(&info);
	return res->where ? IMSS_OK : IMSS_ERR_NOMEM;
}

/* The secret source of a row: its own column, else the option, with the
 * employer's placeholders replaced.  NULL spec: tty. */
static imss_err
row_source(const struct fleet_row *row, const char *column, const char *option, imss_pin_source **out)
{
	char *spec = NULL;
	imss_err err = imss_secret_source_expand(column   ? column
	                                         : option ? option
	                                                  : "tty",
	                                         row->registro_patronal, row->user, &spec);

	if (err == IMSS_OK)
		err = imss_pin_source_parse(spec, out);
	free(spec);
	return err;
}

/* The row's current credential names the row's employer (its OU): a
 * row copied from another with only the registro patronal changed would
 * renew that other employer under this one's name. */
static imss_err
row_names_employer(struct fleet_run *r, const struct fleet_row *row, struct fleet_result *res,
                   imss_credential **cred)
{
	X509 *cert = imss_credential_get_certificate(*cred);
	imss_cert_info info;
	char detail[512];
	int same;

	if (cert == NULL || imss_cert_describe(cert, &info) != IMSS_OK)
		return IMSS_OK; /* what cannot be read is refused further on */
	same = info.registro_patronal && strcmp(info.registro_patronal, row->registro_patronal) == 0;
	snprintf(detail, sizeof(detail),
	         _("The current credential %s is of registro patronal %s, not %s: the row names another employer's credential. Correct the row's current column (or its registro_patronal)."),
	         imss_credential_get_location(*cred),
	         info.registro_patronal ? info.registro_patronal : "-", row->registro_patronal);
	imss_cert_info_clear(&info);
	if (same)
		return IMSS_OK;
	imss_credential_free(*cred); /* not renewed, not counted */
	*cred = NULL;
	return result_fail(r, res, IMSS_ERR_MISMATCH, detail);
}

/* The row's current column: a token key, or a .pfx/.cer opened. */
static imss_err
row_current_named(struct fleet_run *r, const struct fleet_row *row, struct fleet_result *res,
                  imss_credential **cred)
{
	struct fleet_token *ft;
	imss_pin_source *password = NULL;
	imss_ctx *ctx;
	imss_err err;

	if (strncmp(row->current, "pkcs11:", 7) != 0) {
		err = row_source(row, row->password_source, r->a->password_source, &password);
		if (err == IMSS_OK)
			err = tool_ctx(r->t, &ctx);
		if (err == IMSS_OK)
			err = imss_credential_from_files(ctx, row->current, NULL, password, cred);
		imss_pin_source_free(password);
		if (err != IMSS_OK)
			return result_fail(r, res, err, NULL);
		return row_names_employer(r, row, res, cred);
	}
	ft = run_token(r, row->current);
	err = token_usable(r, ft, res);
	if (err == IMSS_OK) {
		imss_token_acquire(ft->tok); /* a worker may be renewing on it */
		err = imss_credential_from_token(ft->tok, row->current, cred);
		imss_token_release(ft->tok);
	}
	if (err != IMSS_OK)
		return result_fail(r, res, err, NULL);
	return row_names_employer(r, row, res, cred);
}

/*
 * The credential to renew from: the row's current one, unless the token
 * holds a newer certificate of the employer with its key (renewed
 * already: the newer one is the current one now).  *cred NULL and IMSS_OK:
 * nothing found (res says so).
 */
static imss_err
row_current(struct fleet_run *r, const struct fleet_row *row, struct fleet_token *target,
            struct fleet_result *res, imss_credential **cred)
{
	const imss_token_cert *newest = newest_on_token(r, target, row);
	imss_err err = IMSS_OK;

	*cred = NULL;
	if (row->current != NULL) {
		err = row_current_named(r, row, res, cred);
		if (err != IMSS_OK)
			return err;
		if (newest == NULL || !imss_credential_get_certificate(*cred) ||
		    ASN1_TIME_compare(X509_get0_notAfter(newest->cert),
		                      X509_get0_notAfter(imss_credential_get_certificate(*cred))) <= 0)
			return result_describe(res, imss_credential_get_certificate(*cred),
			                       imss_credential_get_location(*cred));
		imss_credential_free(*cred);
		*cred = NULL;
	}
	if (newest == NULL || newest->key_uri == NULL)
		return IMSS_OK;
	err = imss_credential_from_token(target->tok, newest->key_uri, cred);
	if (err == IMSS_OK)
		err = result_describe(res, newest->cert, newest->key_uri);
	return err == IMSS_OK ? IMSS_OK : result_fail(r, res, err, NULL);
}

/* ---- progress ---------------------------------------------------------- */

static void
progress_at(struct fleet_run *r, size_t index, const struct fleet_result *res, const char *step)
{
	if (!r->progress)
		return;
	fprintf(stderr, "\r\033[K[%zu/%zu] %s %.40s: %s", index, r->nresults,
	        res->row->registro_patronal, res->razon_social ? res->razon_social : "", step);
	fflush(stderr);
}

static void
progress(struct fleet_run *r, const struct fleet_result *res, const char *step)
{
	progress_at(r, (size_t)(res - r->results) + 1, res, step);
}

static void
progress_end(struct fleet_run *r, const struct fleet_result *res)
{
	if (r->progress) {
		progress(r, res, res->status);
		fputc('\n', stderr);
	}
	if (res->err != IMSS_OK)
		fprintf(stderr, "%s: %s: %s. %s\n", TOOL_NAME, res->row->registro_patronal,
		        imss_strerror(res->err), res->detail ? res->detail : "");
}

static void
on_event(void *user, const imss_renew_event *ev)
{
	struct fleet_job *job = user;

	pthread_mutex_lock(&job->r->told_lock);
	progress(job->r, job->res, ev->message);
	pthread_mutex_unlock(&job->r->told_lock);
}

static int
on_confirm(void *user, const char *question)
{
	(void)user;
	(void)question;
	return IMSS_CONFIRM_NO_TERMINAL; /* nothing is asked: IMSS_RENEW_YES */
}

static int
on_interrupted(void *user)
{
	(void)user;
	return tool_stop_requested();
}

/* ---- fleet renew ------------------------------------------------------- */

/* What a summary row shows of a renewal (serial, expiry, certificate URI);
 * the rest is freed when the employer is done. */
static void
result_keep_summary(imss_renew_result *renewed)
{
	free(renewed->subject);
	free(renewed->key_uri);
	free(renewed->cert_path);
	free(renewed->letter_path);
	renewed->subject = renewed->key_uri = renewed->cert_path = renewed->letter_path = NULL;
}

static imss_err
renew_one(struct fleet_run *r, const struct fleet_row *row, struct fleet_token *target,
          imss_credential *cred, struct fleet_result *res)
{
	struct fleet_job job = { r, res, 0 };
	imss_renew_ui ui = { on_event, on_confirm, NULL, &job, NULL, on_interrupted };
	const struct fleet_args *a = r->a;
	imss_renew_options o;
	imss_pin_source *password = NULL;
	imss_err err;

	memset(&o, 0, sizeof(o));
	err = row_source(row, row->idse_password_source, a->idse_password_source, &password);
	if (err == IMSS_OK && row->type)
		err = imss_keyspec_parse(row->type, &o.keyspec);
	else if (err == IMSS_OK)
		err = imss_keyspec_parse(a->type, &o.keyspec);
	if (err != IMSS_OK) {
		imss_pin_source_free(password);
		return result_fail(r, res, err,
		                   _("The IDSE password source of this employer is malformed."));
	}
	o.server = row->server ? row->server : a->server;
	o.user = row->user;
	o.password = password;
	o.current = cred;
	o.token = target->tok;
	o.label = row->label;
	o.email = row->email;
	o.ca_file = a->ca;
	o.state_dir = a->state_dir;
	o.out_dir = a->out_dir;
	o.wait_seconds = a->timeout;
	o.flags = IMSS_RENEW_YES | (a->wait_lock ? IMSS_RENEW_WAIT_LOCK : 0);
	err = imss_renew(r->t->ctx, &o, &ui, &res->renewed);
	imss_pin_source_free(password);
	result_keep_summary(&res->renewed);
	if (err == IMSS_OK)
		res->status = "renewed";
	else if (err == IMSS_ERR_PENDING)
		res->status = "pending";
	if (err != IMSS_OK && err != IMSS_ERR_PENDING)
		result_fail(r, res, err, NULL);
	if (err == IMSS_ERR_INTERRUPTED)
		res->status = "interrupted";
	return err;
}

/*
 * The employer's token (*target) and current credential (*cred), under
 * the run's lock: the tokens are the run's, and the token is held while
 * it is asked (another worker may be renewing on it).  *cred NULL: not to
 * be renewed (res says why).
 */
static void
renew_find(struct fleet_run *r, const struct fleet_row *row, struct fleet_result *res,
           struct fleet_token **target, imss_credential **cred)
{
	pthread_mutex_lock(&r->lock);
	*target = run_token(r, row->token ? row->token : r->a->token);
	res->status = "not-due";
	pthread_mutex_lock(&r->told_lock);
	progress(r, res, _("looking for the current certificate"));
	pthread_mutex_unlock(&r->told_lock);
	if (token_usable(r, *target, res) == IMSS_OK) {
		imss_token_acquire((*target)->tok);
		if (row_current(r, row, *target, res, cred) == IMSS_OK && *cred == NULL)
			result_fail(r, res, IMSS_ERR_NO_OBJECT,
			            _("No certificate of this employer with its key is on the token; give it in the current column."));
		imss_token_release((*target)->tok);
		token_forget(*target, row->registro_patronal);
	}
	pthread_mutex_unlock(&r->lock);
}

/* Employer i ended: the ends not told yet, told in the file's order. */
static void
renew_ended(struct fleet_run *r, size_t i)
{
	pthread_mutex_lock(&r->told_lock);
	r->ended[i] = 1;
	while (r->told < r->nresults && r->ended[r->told])
		progress_end(r, &r->results[r->told++]);
	pthread_mutex_unlock(&r->told_lock);
}

/*
 * A worker of fleet renew: employers taken from the queue, one after the
 * other, until none is left or the user stops the run; for each its
 * token, its current credential, due or not, renewed.  Its error detail
 * is its own (the context is shared).
 */
static void *
renew_worker(void *arg)
{
	struct fleet_run *r = arg;
	size_t i;

	imss_ctx_thread_detail(1);
	for (;;) {
		struct fleet_token *target = NULL;
		imss_credential *cred = NULL;

		pthread_mutex_lock(&r->lock);
		i = tool_stop_requested() ? r->nresults : r->next;
		r->next += i < r->nresults;
		pthread_mutex_unlock(&r->lock);
		if (i >= r->nresults)
			break;
		renew_find(r, r->results[i].row, &r->results[i], &target, &cred);
		if (cred != NULL && r->results[i].days_left <= r->a->due)
			renew_one(r, r->results[i].row, target, cred, &r->results[i]);
		imss_credential_free(cred);
		renew_ended(r, i);
		malloc_trim(0); /* the pages the employer's renewal freed go back (peak RSS) */
	}
	imss_ctx_thread_detail(0);
	return NULL;
}

/* jobs workers (the calling thread one of them); 0 or an errno. */
static int
renew_all(struct fleet_run *r, long jobs)
{
	pthread_t *threads = calloc((size_t)jobs, sizeof(*threads));
	long started = 0, k;
	int rc = threads ? 0 : ENOMEM;

	if (rc == 0 && (r->ended = calloc(r->nresults + 1, 1)) == NULL)
		rc = ENOMEM;
	if (rc == 0 && imss_ctx_libctx(r->t->ctx) == NULL) /* made once, before the threads */
		rc = ENOMEM;
	/* One malloc arena for every worker: SoftHSM's copy of the token's
	 * objects, allocated by whichever worker holds the token, would
	 * otherwise spread over one arena a worker, each keeping free pages of
	 * its own (half a MiB of a fleet of 200's peak RSS); the workers wait
	 * on the token and the service, not on malloc's lock. */
	mallopt(M_ARENA_MAX, 1);
	while (rc == 0 && started + 1 < jobs && (size_t)started + 1 < r->nresults &&
	       pthread_create(&threads[started], NULL, renew_worker, r) == 0)
		started++;
	if (rc == 0)
		renew_worker(r);
	for (k = 0; k < started; k++)
		pthread_join(threads[k], NULL);
	free(threads);
	return rc;
}

/* ---- the summary ----------------------------------------------------- */

static json_object *
result_json(const void *item)
{
	const struct fleet_result *res = item;
	json_object *o = json_object_new_object();
	char until[TOOL_TIME_SIZE], new_until[TOOL_TIME_SIZE];

	tool_time_text(res->not_after, until, sizeof(until));
	tool_time_text(res->renewed.not_after, new_until, sizeof(new_until));
	if (o == NULL || tool_json_int(o, "line", (long long)res->row->line) ||
	    tool_json_str(o, "registro_patronal", res->row->registro_patronal) ||
	    tool_json_str(o, "user", res->row->user) || tool_json_str(o, "status", res->status) ||
	    tool_json_str(o, "razon_social", res->razon_social) ||
	    tool_json_str(o, "location", res->where) || tool_json_str(o, "serial", res->serial) ||
	    tool_json_str(o, "not_after", res->found ? until : NULL) ||
	    (res->found ? tool_json_int(o, "days_left", res->days_left)
	                : tool_json_str(o, "days_left", NULL)) ||
	    tool_json_str(o, "new_serial", res->renewed.serial) ||
	    tool_json_str(o, "new_not_after", res->renewed.serial ? new_until : NULL) ||
	    tool_json_str(o, "certificate_uri", res->renewed.cert_uri) ||
	    tool_json_str(o, "error", res->err ? tool_error_code(res->err) : NULL) ||
	    tool_json_str(o, "detail", res->detail)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* How many results have status. */
static long long
count_of(const struct fleet_run *r, const char *status)
{
	long long n = 0;
	size_t i;

	for (i = 0; i < r->nresults; i++)
		n += strcmp(r->results[i].status, status) == 0;
	return n;
}

static json_object *
summary_json(const struct fleet_run *r, const char *const *statuses, int rc)
{
	json_object *root = tool_json_list("employers", r->results, r->nresults,
	                                   sizeof(*r->results), result_json);
	char key[32];
	size_t i;

	for (i = 0; root && statuses[i]; i++) {
		snprintf(key, sizeof(key), "%s", statuses[i]);
		key[strcspn(key, "-")] = key[strcspn(key, "-")] ? '_' : '\0';
		if (tool_json_int(root, key, count_of(r, statuses[i]))) {
			json_object_put(root);
			return NULL;
		}
	}
	if (root && tool_json_int(root, "exit", rc)) {
		json_object_put(root);
		return NULL;
	}
	return root;
}

static void
summary_text(const struct fleet_run *r, const char *const *statuses)
{
	size_t i;

	printf("%-11s  %-30s  %-8s  %5s  %s\n", _("REGISTRO"), _("RAZON SOCIAL"), _("STATUS"),
	       _("DAYS"), _("SERIAL"));
	for (i = 0; i < r->nresults; i++) {
		const struct fleet_result *res = &r->results[i];
		char days[24] = "-";

		if (res->found)
			snprintf(days, sizeof(days), "%ld", res->days_left);
		printf("%-11s  %-30.30s  %-8s  %5s  %s\n", res->row->registro_patronal,
		       res->razon_social ? res->razon_social : "-", res->status, days,
		       res->renewed.serial   ? res->renewed.serial
		       : res->err != IMSS_OK ? tool_error_code(res->err)
		       : res->serial         ? res->serial
		                             : "-");
	}
	for (i = 0; statuses[i]; i++)
		printf("%s%s: %lld", i ? ", " : "", statuses[i], count_of(r, statuses[i]));
	putchar('\n');
}

static int
write_report(struct fleet_run *r, const char *const *statuses, int rc)
{
	json_object *root = summary_json(r, statuses, rc);
	const char *text;
	int wrc;

	if (root == NULL)
		return tool_fail(r->t, IMSS_ERR_NOMEM, 0);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	wrc = tool_write_file(r->t, r->a->report, text, strlen(text), 1);
	json_object_put(root);
	return wrc;
}

/* --notify-command with the summary (the --json document), when worth
 * telling: something expires, was renewed or failed. */
static void
notify_summary(struct fleet_run *r, const char *const *statuses, int rc, int worth)
{
	json_object *root;

	if (r->a->notify_command == NULL || !worth)
		return;
	root = summary_json(r, statuses, rc);
	if (root == NULL) {
		tool_warn(_("the notify command was not run: %s"), strerror(ENOMEM));
		return;
	}
	tool_notify(r->t, r->a->notify_command,
	            json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
	                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

static void
result_clear(struct fleet_result *res)
{
	imss_renew_result_clear(&res->renewed);
	free(res->detail);
	free(res->serial);
	free(res->where);
	free(res->razon_social);
}

static void
run_clear(struct fleet_run *r)
{
	size_t i;

	tokens_close(r);
	imss_pin_source_free(r->pin);
	free(r->ended);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->told_lock);
	for (i = 0; r->results && i < r->nresults; i++)
		result_clear(&r->results[i]);
	free(r->results);
}

static int
run_setup(struct tool *t, const struct fleet_args *a, const struct fleet_file *f, struct fleet_run *r)
{
	imss_ctx *ctx;
	size_t i;
	int rc = TOOL_EXIT_OK;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->told_lock, NULL);
	r->t = t;
	r->a = a;
	r->progress = a->renew && !t->json && isatty(STDERR_FILENO);
	r->tokens = calloc(2 * f->n + 1, sizeof(*r->tokens));
	r->results = calloc(f->n, sizeof(*r->results));
	if (r->tokens == NULL || r->results == NULL || tool_ctx(t, &ctx) != IMSS_OK)
		return tool_fail(t, IMSS_ERR_NOMEM, 0);
	r->nresults = f->n;
	for (i = 0; i < f->n; i++) {
		r->results[i].row = &f->rows[i];
		r->results[i].status = "not-run";
	}
	if (a->renew || a->pin_source)
		rc = tool_pin_source(t, "fleet", "--pin-source", a->pin_source, &r->pin);
	return rc;
}

static const char *const renew_statuses[] = { "renewed",     "not-due", "pending", "failed",
	                                      "interrupted", "not-run", NULL };

int
fleet_renew(struct tool *t, const struct fleet_args *a, const struct fleet_file *f)
{
	struct fleet_run r;
	long long failed;
	int rc = run_setup(t, a, f, &r);

	if (rc == TOOL_EXIT_OK && renew_all(&r, a->jobs) != 0)
		rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
	if (rc != TOOL_EXIT_OK)
		goto out;
	tokens_close(&r);
	imss_ctx_unload_modules(t->ctx); /* the module's copy of the objects freed before the summary */
	malloc_trim(0);
	failed = count_of(&r, "failed");
	rc = tool_stop_requested() || count_of(&r, "interrupted") || count_of(&r, "not-run")
	             ? TOOL_EXIT_INTERRUPTED
	     : failed                  ? TOOL_EXIT_FAILURE
	     : count_of(&r, "pending") ? TOOL_EXIT_PENDING
	                               : TOOL_EXIT_OK;
	if (t->json)
		tool_json_print(summary_json(&r, renew_statuses, rc));
	else
		summary_text(&r, renew_statuses);
	if (a->report && write_report(&r, renew_statuses, rc) != TOOL_EXIT_OK && rc == TOOL_EXIT_OK)
		rc = TOOL_EXIT_FAILURE;
	notify_summary(&r, renew_statuses, rc, count_of(&r, "renewed") || failed);
	if (failed)
		fprintf(stderr,
		        _("%s: %lld of %zu employers failed; the others went on (see above).\n"),
		        TOOL_NAME, failed, f->n);
	else if (rc == TOOL_EXIT_PENDING)
		fprintf(stderr,
		        _("%s: some certificates are still pending; run the same command again later.\n"),
		        TOOL_NAME);
	else if (rc == TOOL_EXIT_INTERRUPTED)
		fprintf(stderr, _("%s: interrupted; run the same command again to continue.\n"),
		        TOOL_NAME);
out:
	run_clear(&r);
	return rc;
}

/* ---- fleet check ------------------------------------------------------- */

static void
check_employer(struct fleet_run *r, const struct fleet_row *row, struct fleet_result *res)
{
	struct fleet_token *target = run_token(r, row->token ? row->token : r->a->token);
	imss_credential *cred = NULL;

	if (token_usable(r, target, res) != IMSS_OK ||
	    row_current(r, row, target, res, &cred) != IMSS_OK)
		goto out;
	if (!res->found && row->current == NULL) {
		/* Not logged in: the newest certificate, its key unseen. */
		const imss_token_cert *c = newest_on_token(r, target, row);

		if (c != NULL && result_describe(res, c->cert, c->uri) != IMSS_OK)
			goto out;
	}
	res->status = !res->found                    ? "not-found"
	              : res->days_left < 0           ? "expired"
	              : res->days_left <= r->a->days ? "expiring"
	                                             : "ok";
out:
	imss_credential_free(cred);
	progress_end(r, res);
}

static const char *const check_statuses[] = { "ok",        "expiring", "expired",
	                                      "not-found", "failed",   NULL };

int
fleet_check(struct tool *t, const struct fleet_args *a, const struct fleet_file *f)
{
	struct fleet_run r;
	int rc = run_setup(t, a, f, &r);

	for (r.index = 1; rc == TOOL_EXIT_OK && r.index <= f->n; r.index++)
		check_employer(&r, &f->rows[r.index - 1], &r.results[r.index - 1]);
	if (rc != TOOL_EXIT_OK)
		goto out;
	rc = count_of(&r, "failed") || count_of(&r, "not-found") ? TOOL_EXIT_FAILURE
	     : count_of(&r, "expired")                           ? 11
	     : count_of(&r, "expiring")                          ? 10
	                                                         : TOOL_EXIT_OK;
	if (t->json)
		tool_json_print(summary_json(&r, check_statuses, rc));
	else
		summary_text(&r, check_statuses);
	notify_summary(&r, check_statuses, rc, rc != TOOL_EXIT_OK);
out:
	run_clear(&r);
	return rc;
}
