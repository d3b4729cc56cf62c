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

#include "renew.h"

void
renew_emit(struct renew *r, const char *step, int number, const char *const *fields,
           const char *fmt, ...)
{
	static const char *const none[] = { NULL };
	imss_renew_event ev;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ev.step = step;
	ev.number = number;
	ev.message = msg;
	ev.fields = fields ? fields : none;
	if (r->ui != NULL && r->ui->event != NULL)
		r->ui->event(r->ui->user, &ev);
	else
		ctx_log(r->ctx, IMSS_LOG_INFO, "%s", msg);
}

char *
renew_file_safe(const char *text)
{
	char *s = strdup(text), *p;

	for (p = s; p && *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			*p = '_';
	return s;
}

char *
renew_state_file(struct renew *r, const char *name, const char *ext)
{
	char *rp = renew_file_safe(r->company.registro_patronal ? r->company.registro_patronal
	                                                       : r->session.registro_patronal);
	char *serial = renew_file_safe(imss_token_get_info(r->o->token)->serial);
	char *path = NULL;

	if (rp && serial)
		path = str_printf("%s/%s-%s-%s.%s", r->state_dir, name, rp, serial, ext);
	free(rp);
	free(serial);
	return path;
}

/* mkdir -p, private. */
static imss_err
make_dirs(imss_ctx *ctx, const char *path)
{
	char *copy = strdup(path), *p;
	imss_err err = IMSS_OK;

	if (copy == NULL)
		return IMSS_ERR_NOMEM;
	for (p = copy + 1; err == IMSS_OK; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(copy, 0700) != 0 && errno != EEXIST)
			err = ctx_fail(ctx, IMSS_ERR_IO, _("Cannot create '%s': %s."), copy,
			               strerror(errno));
		*p = c;
		if (c == '\0')
			break;
	}
	free(copy);
	return err;
}

static imss_err
state_dir_init(struct renew *r)
{
	const char *base = r->o->state_dir, *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char *dir = NULL;

	if (base != NULL)
		dir = strdup(base);
	else if (xdg != NULL && xdg[0] == '/')
		dir = str_printf("%s/imss-renew", xdg);
	else if (home != NULL && home[0] == '/')
		dir = str_printf("%s/.local/state/imss-renew", home);
	else
		return ctx_fail(r->ctx, IMSS_ERR_INVALID_ARG,
		                _("No state directory: set HOME or XDG_STATE_HOME, or give --state-dir."));
	if (dir == NULL)
		return IMSS_ERR_NOMEM;
	r->state_dir = dir;
	return make_dirs(r->ctx, dir);
}

/* The journal keeps paths: absolute, so that a run from another working
 * directory finds the same files. */
static imss_err
absolute_dir(imss_ctx *ctx, const char *dir, char **out)
{
	*out = realpath(dir, NULL);
	if (*out == NULL)
		return ctx_fail(ctx, IMSS_ERR_IO, _("Cannot use the directory '%s': %s."), dir,
		                strerror(errno));
	return IMSS_OK;
}

/* One renewal per token at a time. */
imss_err
renew_lock_token(struct renew *r)
{
	char *serial = renew_file_safe(imss_token_get_info(r->o->token)->serial);
	char *path = NULL;
	imss_err err = IMSS_OK;
	int op = LOCK_EX | ((r->o->flags & IMSS_RENEW_WAIT_LOCK) ? 0 : LOCK_NB);

	if (serial == NULL ||
	    (path = str_printf("%s/token-%s.lock", r->state_dir, serial)) == NULL) {
		free(serial);
		return IMSS_ERR_NOMEM;
	}
	r->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (r->lock_fd < 0)
		err = ctx_fail(r->ctx, IMSS_ERR_IO, _("Cannot open the lock '%s': %s."), path,
		               strerror(errno));
	else if (flock(r->lock_fd, op) != 0)
		err = ctx_fail(r->ctx, IMSS_ERR_BUSY,
		               _("Another imss-renew is renewing on token '%s' (lock %s). Wait for it to finish, or run with --wait."),
		               imss_token_get_info(r->o->token)->label, path);
	free(path);
	free(serial);
	return err;
}

/* The CA certificates from --ca, or the one pinned for this server, or
 * (first use) the one the service publishes, pinned from now on. */
static imss_err
pin_path(struct renew *r, char **out)
{
	const char *host = strstr(r->o->server, "://");
	char *safe = renew_file_safe(host ? host + 3 : r->o->server);

	*out = NULL;
	if (safe != NULL)
		*out = str_printf("%s/ca-%s.pem", r->state_dir, safe);
	free(safe);
	return *out ? IMSS_OK : IMSS_ERR_NOMEM;
}

static imss_err
write_pem_cert(imss_ctx *ctx, const char *path, X509 *cert)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data;
	long len;
	imss_err err;

	if (mem == NULL || !PEM_write_bio_X509(mem, cert)) {
		BIO_free(mem);
		return IMSS_ERR_NOMEM;
	}
	len = BIO_get_mem_data(mem, &data);
	err = imss_write_file_atomic(ctx, path, data, (size_t)len, 0644, 1);
	BIO_free(mem);
	return err;
}

/* Pin the first certificate of a CA file for later runs without --ca. */
static imss_err
pin_ca(struct renew *r, X509 *ca, const char *pinned)
{
	imss_cert_info info;
	imss_err err = write_pem_cert(r->ctx, pinned, ca);

	if (err == IMSS_OK && imss_cert_describe(ca, &info) == IMSS_OK) {
		const char *f[] = { "ca_subject", info.subject, "ca_sha256", info.fingerprint,
		                    "pinned", pinned, NULL };

		renew_emit(r, "ca", 1, f, _("The CA of %s (%s, SHA-256 %s) is pinned in %s for later runs."),
		           r->o->server, info.subject, info.fingerprint, pinned);
		imss_cert_info_clear(&info);
	}
	return err;
}

/*
 * Trust: TLS with --ca, else the system store plus the CA pinned for this
 * service; certificates issued must chain to --ca, else to the pinned CA,
 * else (first use) to the CA the service publishes over that verified
 * TLS, pinned from then on.
 */
imss_err
renew_connect(struct renew *r)
{
	struct http_options ho = { NULL, NULL, 15, 120, 8u << 20, 3 };
	char *pinned = NULL;
	int have_pin;
	X509 *ca = NULL;
	imss_err err;

	err = pin_path(r, &pinned);
	if (err != IMSS_OK)
		return err;
	have_pin = access(pinned, R_OK) == 0;
	ho.ca_file = r->o->ca_file;
	ho.extra_ca = have_pin ? pinned : NULL;
	err = http_client_new(r->ctx, r->o->server, &ho, &r->http);
	if (err == IMSS_OK && (r->o->ca_file != NULL || have_pin))
		err = imss_certs_load(r->ctx, r->o->ca_file ? r->o->ca_file : pinned, &r->issuer);
	if (err == IMSS_OK && r->o->ca_file != NULL && !have_pin)
		err = pin_ca(r, sk_X509_value(r->issuer, 0), pinned);
	if (err != IMSS_OK || r->issuer != NULL)
		goto out;
	err = idse_get_ca(r->ctx, r->http, &ca);
	if (err == IMSS_ERR_TLS)
		ctx_append_detail(r->ctx, _(" The first time, give the service's CA with --ca FILE."));
	if (err == IMSS_OK)
		err = pin_ca(r, ca, pinned);
	if (err == IMSS_OK && ((r->issuer = sk_X509_new_null()) == NULL || !sk_X509_push(r->issuer, ca)))
		err = IMSS_ERR_NOMEM;
	if (err == IMSS_OK)
		ca = NULL;
out:
	X509_free(ca);
	free(pinned);
	return err;
}

/*
 * A finished journal whose certificate is current and newer than the
 * credential being renewed: that credential was renewed already.  Run
 * again (after an interruption at the very end, or by mistake), the
 * renewal is not made twice: its certificate is looked for on the token.
 */
static int
renewed_already(struct renew *r)
{
	X509 *mine = imss_credential_get_certificate(r->o->current), *done = NULL;
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

/* A journal of this employer and token: continue it, or start one. */
static imss_err
journal_open(struct renew *r)
{
	char *path = renew_state_file(r, "renew", "json");
	int exists = 0;
	imss_err err;

	if (path == NULL)
		return IMSS_ERR_NOMEM;
	err = journal_load(r->ctx, path, &r->j, &exists);
	free(path);
	if (err != IMSS_OK)
		return err;
	if (exists && r->j.state == JOURNAL_DONE && renewed_already(r)) {
		renew_emit(r, "resume", 1, NULL,
		           _("This credential was renewed already (certificate %s); checking that the certificate is on the token next to its key. To renew again, use the new certificate as the current one."),
		           r->j.cert_serial ? r->j.cert_serial : "?");
		return IMSS_OK;
	}
	if (exists && r->j.state != JOURNAL_DONE) {
		if (strcmp(r->j.server, r->o->server) != 0)
			return ctx_fail(r->ctx, IMSS_ERR_BUSY,
			                _("An unfinished renewal of this employer on this token was started with %s; finish it there, or undo it with --abandon."),
			                r->j.server);
		renew_emit(r, "resume", 1, NULL, _("Continuing the interrupted renewal: %s."),
		           journal_state_words(r->j.state));
		return IMSS_OK;
	}
	path = r->j.path;
	r->j.path = NULL;
	journal_clear(&r->j);
	r->j.path = path;
	r->j.state = JOURNAL_LOGGED_IN;
	if (journal_set(&r->j.server, r->o->server) != IMSS_OK ||
	    journal_set(&r->j.registro_patronal, r->company.registro_patronal) != IMSS_OK ||
	    journal_set(&r->j.token_serial, imss_token_get_info(r->o->token)->serial) != IMSS_OK)
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

imss_err
renew_check_interrupt(struct renew *r, int step)
{
	const char *key = r->key ? imss_key_get_label(r->key) : r->j.key_label;
	char *kept;
	imss_err err;

	if (r->ui == NULL || r->ui->interrupted == NULL || !r->ui->interrupted(r->ui->user))
		return IMSS_OK;
	if (key != NULL && r->j.path != NULL)
		kept = str_printf(_("the new key '%s' on the token, the journal %s"), key, r->j.path);
	else if (r->j.path != NULL)
		kept = str_printf(_("the journal %s"), r->j.path);
	else
		kept = str_printf("%s", _("nothing (no key was made yet)"));
	if (kept == NULL)
		return IMSS_ERR_NOMEM;
	err = ctx_fail(r->ctx, IMSS_ERR_INTERRUPTED,
	               _("Interrupted after step %d (%s). Kept: %s. Run the same command again to continue, or `imss-renew renew --abandon` with the same --token to undo."),
	               step, journal_state_words(r->j.state), kept);
	free(kept);
	return err;
}

/* A step's result, or the interruption the user asked for during it. */
static imss_err
after_step(struct renew *r, imss_err err, int step)
{
	imss_err stop = renew_check_interrupt(r, err == IMSS_OK ? step : step - 1);

	return stop != IMSS_OK ? stop : err;
}

static imss_err
renew_steps(struct renew *r)
{
	unsigned char *req = NULL;
	size_t req_len = 0;
	imss_err err;

	err = after_step(r, renew_login(r), 1);
	if (err == IMSS_OK)
		err = after_step(r, renew_company(r), 2);
	if (err == IMSS_OK)
		err = journal_open(r);
	if (err == IMSS_OK)
		err = after_step(r, renew_ensure_key(r), 3);
	if (err == IMSS_OK)
		err = after_step(r, renew_ensure_request(r, &req, &req_len), 4);
	if (err == IMSS_OK && r->j.state < JOURNAL_CERT_RECEIVED)
		err = after_step(r, renew_ensure_letter(r), 5);
	if (err == IMSS_OK)
		err = after_step(r, renew_submit(r, req, req_len), 6);
	if (err == IMSS_OK)
		err = renew_store(r);
	if (err == IMSS_OK) {
		r->j.state = JOURNAL_DONE;
		err = journal_save(r->ctx, &r->j);
	}
	if (err == IMSS_OK)
		err = result_fill(r);
	if (err == IMSS_OK && (r->o->flags & (IMSS_RENEW_RETIRE_OLD | IMSS_RENEW_RETIRE_DELETE)) &&
	    renew_retire_old(r) != IMSS_OK)
		/* The renewal is done; only the tidying up failed. */
		ctx_log(r->ctx, IMSS_LOG_WARN, _("the old credential could not be retired: %s"),
		        r->ctx->detail);
	OPENSSL_free(req);
	return err;
}

void
renew_free(struct renew *r)
{
	if (r->http != NULL) {
		/* Leave the service; the error detail of the run is kept. */
		char saved[IMSS_DETAIL_MAX];

		memcpy(saved, r->ctx->detail, sizeof(saved));
		idse_logout(r->ctx, r->http);
		memcpy(r->ctx->detail, saved, sizeof(saved));
		http_client_free(r->http);
	}
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	sk_X509_pop_free(r->issuer, X509_free);
	idse_company_clear(&r->company);
	journal_clear(&r->j);
	imss_key_free(r->key);
	X509_free(r->cert);
	free(r->state_dir);
	free(r->out_dir);
}

imss_err
renew_setup(struct renew *r, imss_ctx *ctx, const imss_renew_options *o,
            const imss_renew_ui *ui, imss_renew_result *result)
{
	imss_err err;

	memset(r, 0, sizeof(*r));
	r->ctx = ctx;
	r->o = o;
	r->ui = ui;
	r->result = result;
	r->lock_fd = -1;
	if (result != NULL)
		memset(result, 0, sizeof(*result));
	ctx_clear_detail(ctx);
	if (o->token == NULL)
		return ctx_fail(ctx, IMSS_ERR_INVALID_ARG, _("No token was given."));
	err = state_dir_init(r);
	/* Before any key is made: the letter and the certificate go there. */
	if (err == IMSS_OK && o->out_dir != NULL)
		err = make_dirs(ctx, o->out_dir);
	if (err == IMSS_OK)
		err = absolute_dir(ctx, o->out_dir ? o->out_dir : ".", &r->out_dir);
	if (err == IMSS_OK) {
		char *abs = NULL;

		err = absolute_dir(ctx, r->state_dir, &abs);
		free(r->state_dir);
		r->state_dir = abs;
	}
	return err;
}

imss_err
imss_renew(imss_ctx *ctx, const imss_renew_options *o, const imss_renew_ui *ui,
           imss_renew_result *result)
{
	struct renew r;
	imss_err err;

	err = renew_setup(&r, ctx, o, ui, result);
	if (err == IMSS_OK && (o->server == NULL || o->user == NULL || o->current == NULL ||
	                       o->password == NULL))
		err = ctx_fail(ctx, IMSS_ERR_INVALID_ARG,
		               _("A renewal needs the server, the user, the current credential and the token."));
	if (err == IMSS_OK)
		err = renew_lock_token(&r);
	if (err == IMSS_OK)
		err = renew_connect(&r);
	if (err == IMSS_OK)
		err = renew_steps(&r);
	renew_free(&r);
	if (err != IMSS_OK)
		imss_renew_result_clear(result);
	return err;
}

void
imss_renew_result_clear(imss_renew_result *res)
{
	if (res == NULL)
		return;
	free(res->serial);
	free(res->subject);
	free(res->key_uri);
	free(res->cert_uri);
	free(res->cert_path);
	free(res->letter_path);
	memset(res, 0, sizeof(*res));
}
