/*
 * What every part of the renewal engine shares: the set-up and tear-down
 * of a run (state and output directories, the token lock, the connection
 * to the service with its pinned CA) and the events and state files the
 * steps report and write.  The drivers (renew.c: imss_renew; renew-undo.c:
 * abandon and recover) and the steps (renew-steps.c, certcheck.c,
 * renew-retire.c) call these; nothing here calls them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "renew.h"
#include "scep.h"

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
renew_subject_entry(const X509_NAME *name, int nid)
{
	int i = X509_NAME_get_index_by_NID(name, nid, -1);
	unsigned char *utf8 = NULL;
	char *s = NULL;
	int len;

	if (i < 0 || X509_NAME_get_index_by_NID(name, nid, i) >= 0)
		return NULL;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	if (len > 0 && memchr(utf8, '\0', (size_t)len) == NULL)
		s = strndup((char *)utf8, (size_t)len);
	OPENSSL_free(utf8);
	return s;
}

static int
file_safe_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* The name before 0.5 (renew_file_legacy): each other byte a '_'. */
static char *
file_safe_replaced(const char *text)
{
	char *s = strdup(text), *p;

	for (p = s; p && *p; p++)
		if (!file_safe_char(*p))
			*p = '_';
	return s;
}

/*
 * text as a part of a file name, one to one (docs/design.md, "State file
 * names"): text itself when it is all of [A-Za-z0-9._-]; else each other
 * byte a '_', then '~' (which no unchanged name has) and the first 16 hex
 * digits of SHA-256 over text, so that "A/B" and "A_B" differ.
 */
char *
renew_file_safe(const char *text)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *safe = file_safe_replaced(text), *hex, *named = NULL;

	if (safe == NULL || strcmp(safe, text) == 0)
		return safe;
	SHA256((const unsigned char *)text, strlen(text), md);
	hex = hex_encode(md, 8);
	if (hex != NULL)
		named = str_printf("%s~%s", safe, hex);
	free(hex);
	free(safe);
	return named;
}

/* The name older versions gave text when it differs from today's (each
 * byte outside [A-Za-z0-9._-] a '_', which made "A/B" and "A_B" one
 * name), else NULL: where an unfinished renewal may still be. */
char *
renew_file_legacy(const char *text)
{
	char *old = file_safe_replaced(text);

	if (old != NULL && strcmp(old, text) == 0) {
		free(old);
		old = NULL;
	}
	return old;
}

/* The token's name in the state files: its identity (docs/design.md,
 * "Per-token state"), or with legacy its serial, the name versions before
 * the identity gave it, NULL when that is the same. */
char *
renew_token_name(struct renew *r, int legacy)
{
	const imss_token_info *ti = imss_token_get_info(r->o->token);

	if (legacy && strcmp(ti->serial, ti->identity) == 0)
		return NULL;
	return renew_file_safe(legacy ? ti->serial : ti->identity);
}

static char *
state_file_named(struct renew *r, const char *name, const char *ext, int legacy)
{
	char *rp = renew_file_safe(r->company.registro_patronal ? r->company.registro_patronal
	                                                        : r->session.registro_patronal);
	char *token = renew_token_name(r, legacy);
	char *path = NULL;

	if (rp && token)
		path = str_printf("%s/%s-%s-%s.%s", r->state_dir, name, rp, token, ext);
	free(rp);
	free(token);
	return path;
}

char *
renew_state_file(struct renew *r, const char *name, const char *ext)
{
	return state_file_named(r, name, ext, 0);
}

/* Is there a private key labelled label with the ID hex on this token? */
static imss_err
key_here(struct renew *r, const char *hex, const char *label, int *here)
{
	long len = 0;
	unsigned char *id = OPENSSL_hexstr2buf(hex, &len);
	char *uri = id ? object_uri(r->o->token, CKO_PRIVATE_KEY, id, (size_t)len, label) : NULL;
	imss_key *key = NULL;
	imss_err err = uri ? imss_token_find_key(r->o->token, uri, &key) : IMSS_ERR_JOURNAL;

	*here = err == IMSS_OK || err == IMSS_ERR_AMBIGUOUS_OBJECT;
	if (*here || err == IMSS_ERR_NO_OBJECT || err == IMSS_ERR_JOURNAL) {
		ctx_clear_detail(r->ctx);
		err = IMSS_OK;
	}
	imss_key_free(key);
	OPENSSL_free(id);
	free(uri);
	return err;
}

imss_err
renew_journal_ours(struct renew *r, const struct journal *j, int *ours)
{
	imss_err err = IMSS_OK;

	*ours = j->state < JOURNAL_KEYGEN_STARTED;
	if (!*ours && j->key_id != NULL)
		err = key_here(r, j->key_id, j->key_label, ours);
	if (err == IMSS_OK && !*ours && j->key_tmp_id != NULL)
		err = key_here(r, j->key_tmp_id, j->key_label, ours);
	if (err == IMSS_OK && !*ours)
		ctx_log(r->ctx, IMSS_LOG_WARN,
		        _("the journal '%s' of an earlier version (named by the token's serial) names a key labelled '%s' that is not on this token: it may be another token's with the same serial, so it is left where it is"),
		        j->path ? j->path : "?", j->key_label ? j->key_label : "?");
	return err;
}

/* A journal this employer's renewal on this token left under the serial
 * (before the identity named the files) moves to its name of now: the
 * renewal goes on after an upgrade.  Tokens may share a serial
 * (tpm2-pkcs11: 0000000000000000), so it is taken only when it is this
 * token's (renew_journal_ours).  The request and certificate files it
 * names stay where they are. */
static imss_err
renew_journal_adopt(struct renew *r, const char *path, const char *rp, const char *legacy)
{
	struct journal old;
	struct stat st;
	int exists = 0, ours = 0;
	imss_err err;

	if (legacy == NULL || lstat(path, &st) == 0 || lstat(legacy, &st) != 0 ||
	    !S_ISREG(st.st_mode))
		return IMSS_OK;
	err = journal_load(r->ctx, legacy, &old, &exists);
	/* an old name may be another employer's (the old rule's "A/B" and
	 * "A_B"): it must record this one */
	if (err == IMSS_OK && exists &&
	    (old.registro_patronal == NULL || strcmp(old.registro_patronal, rp) == 0))
		err = renew_journal_ours(r, &old, &ours);
	journal_clear(&old);
	if (err != IMSS_OK || !ours)
		return err;
	if (rename(legacy, path) != 0)
		return ctx_fail(r->ctx, IMSS_ERR_IO,
		                _("Cannot move the journal '%s' of an earlier version to '%s': %s."),
		                legacy, path, strerror(errno));
	ctx_log(r->ctx, IMSS_LOG_INFO, _("the journal '%s' of an earlier version is now '%s'"),
	        legacy, path);
	return IMSS_OK;
}

/* The journal of employer rp on this token moved to path from a name an
 * older version gave it: by the serial (before the token's identity), or
 * with the employer's or the token's name by the old rule
 * (renew_file_legacy). */
imss_err
renew_journal_adopt_old(struct renew *r, const char *rp, const char *path)
{
	const imss_token_info *ti = imss_token_get_info(r->o->token);
	imss_err err = IMSS_OK;
	int i;

	for (i = 1; err == IMSS_OK && i < 8; i++) {
		const char *token = (i & 1) ? ti->serial : ti->identity;
		char *rp_name = (i & 2) ? renew_file_legacy(rp) : renew_file_safe(rp);
		char *token_name = (i & 4) ? renew_file_legacy(token) : renew_file_safe(token);
		char *legacy = rp_name && token_name ? str_printf("%s/renew-%s-%s.json",
		                                                  r->state_dir, rp_name, token_name)
		                                     : NULL;

		if (legacy != NULL && strcmp(legacy, path) != 0)
			err = renew_journal_adopt(r, path, rp, legacy);
		free(legacy);
		free(token_name);
		free(rp_name);
	}
	return err;
}

imss_err
renew_journal_reached(struct renew *r, char **field, const char *path, enum journal_state state)
{
	imss_err err = journal_set(field, path);

	if (err != IMSS_OK)
		return err;
	if (r->j.state < state)
		r->j.state = state;
	return journal_save(r->ctx, &r->j);
}

imss_err
renew_journal_load(struct renew *r, int *exists)
{
	const char *rp = r->company.registro_patronal ? r->company.registro_patronal
	                                              : r->session.registro_patronal;
	char *path = renew_state_file(r, "renew", "json");
	imss_err err = IMSS_ERR_NOMEM;

	*exists = 0;
	if (path != NULL)
		err = renew_journal_adopt_old(r, rp, path);
	if (err == IMSS_OK)
		err = journal_load(r->ctx, path, &r->j, exists);
	free(path);
	return err;
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

/*
 * The state directory holds the journal (the only record of a key being
 * made) and the token's lock: it must be the user's alone, neither
 * readable nor writable by anyone else.
 */
static imss_err
state_dir_rule(imss_ctx *ctx, const char *dir, const struct stat *st)
{
	if (!S_ISDIR(st->st_mode) || st->st_uid != geteuid())
		return ctx_fail_next(ctx, IMSS_ERR_IO, IMSS_NEXT_OTHER_STATE_DIR,
		                     _("The state directory '%s' is not a directory of yours; it must be, since it holds the renewal journal and lock. Give another state directory."),
		                     dir);
	if ((st->st_mode & 077) != 0)
		return ctx_fail_next(ctx, IMSS_ERR_IO, IMSS_NEXT_OTHER_STATE_DIR,
		                     _("The state directory '%s' can be read or written by other users (mode %03o); it holds the renewal journal and lock. Run 'chmod 700 %s', or give another state directory."),
		                     dir, (unsigned)(st->st_mode & 0777), dir);
	return IMSS_OK;
}

/*
 * The letter and the certificate copy go to the output directory: one
 * that other users may write to (without the sticky bit that keeps them
 * from replacing someone else's files) is refused.
 */
static imss_err
out_dir_rule(imss_ctx *ctx, const char *dir, const struct stat *st)
{
	/* Its owner may replace what is in it, sticky bit or not. */
	if (st->st_uid != geteuid() && st->st_uid != 0) {
		struct passwd pwd, *pw = NULL;
		char names[1024];

		if (getpwuid_r(st->st_uid, &pwd, names, sizeof(names), &pw) != 0)
			pw = NULL; /* fleet renew's workers: not getpwuid */
		return ctx_fail_next(ctx, IMSS_ERR_IO, IMSS_NEXT_OTHER_OUT_DIR,
		                     _("The output directory '%s' belongs to another user (%s), who could replace the terms letter or the certificate copy written there. Give a directory of yours."),
		                     dir, pw ? pw->pw_name : "?");
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st->st_mode & S_ISVTX) == 0)
		return ctx_fail_next(ctx, IMSS_ERR_IO, IMSS_NEXT_OTHER_OUT_DIR,
		                     _("The output directory '%s' can be written by other users (mode %03o), who could replace the terms letter or the certificate copy written there. Run 'chmod go-w %s', or give another output directory."),
		                     dir, (unsigned)(st->st_mode & 0777), dir);
	return IMSS_OK;
}

/* Whether dir, once made, may be used: rule says what it must be. */
static imss_err
check_dir(imss_ctx *ctx, const char *dir,
          imss_err (*rule)(imss_ctx *ctx, const char *dir, const struct stat *st))
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return ctx_fail(ctx, IMSS_ERR_IO, _("Cannot use the directory '%s': %s."), dir,
		                strerror(errno));
	return rule(ctx, dir, &st);
}

/* The state directory given, else the default one (malloc'd). */
static imss_err
state_dir_path(imss_ctx *ctx, const char *base, char **out)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (base != NULL)
		*out = strdup(base);
	else if (xdg != NULL && xdg[0] == '/')
		*out = str_printf("%s/imss-renew", xdg);
	else if (home != NULL && home[0] == '/')
		*out = str_printf("%s/.local/state/imss-renew", home);
	else
		return ctx_fail_next(ctx, IMSS_ERR_INVALID_ARG, IMSS_NEXT_OTHER_STATE_DIR,
		                     _("No state directory: set HOME or XDG_STATE_HOME, or give a state directory."));
	return *out ? IMSS_OK : IMSS_ERR_NOMEM;
}

static imss_err
state_dir_init(struct renew *r)
{
	char *dir = NULL;
	imss_err err;

	err = state_dir_path(r->ctx, r->o->state_dir, &dir);
	if (err != IMSS_OK)
		return err;
	r->state_dir = dir;
	err = make_dirs(r->ctx, dir);
	return err == IMSS_OK ? check_dir(r->ctx, dir, state_dir_rule) : err;
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

/* A lock file: never through a symbolic link, and only a regular file of
 * the user's.  *fd is -1 or the open file. */
static imss_err
open_lock(struct renew *r, const char *path, int *fd)
{
	struct stat st;

	*fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (*fd < 0 && errno == ELOOP)
		return ctx_fail(r->ctx, IMSS_ERR_IO,
		                _("The lock '%s' is a symbolic link; nothing was changed. Remove it: imss-renew makes its own."),
		                path);
	if (*fd < 0)
		return ctx_fail(r->ctx, IMSS_ERR_IO, _("Cannot open the lock '%s': %s."), path,
		                strerror(errno));
	if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
		return ctx_fail(r->ctx, IMSS_ERR_IO,
		                _("The lock '%s' is not a regular file of yours; nothing was changed. Remove it: imss-renew makes its own."),
		                path);
	return IMSS_OK;
}

/* The registro patronal the renewal is of: rp, else the current
 * certificate's (malloc'd), NULL when neither tells. */
static char *
lock_employer(struct renew *r, const char *rp)
{
	X509 *cert = r->o->current ? imss_credential_get_certificate(r->o->current) : NULL;
	imss_cert_info info;
	char *safe = NULL;

	if (rp != NULL)
		return renew_file_safe(rp);
	if (cert == NULL || imss_cert_describe(cert, &info) != IMSS_OK)
		return NULL;
	if (info.registro_patronal != NULL)
		safe = renew_file_safe(info.registro_patronal);
	imss_cert_info_clear(&info);
	return safe;
}

int
renew_resumes_past_keygen(struct renew *r)
{
	char *employer = lock_employer(r, NULL), *token = renew_token_name(r, 0);
	char *path = employer && token
	                     ? str_printf("%s/renew-%s-%s.json", r->state_dir, employer, token)
	                     : NULL;
	struct journal j;
	int exists = 0, past = 0;

	memset(&j, 0, sizeof(j));
	/* The key's hash is recorded once the pair exists (its key-generated
	 * record may wait for the request's save).  A finished one is no
	 * resume: the next renewal makes a key.  A journal that does not
	 * load is cleared too (it may hold what it read before the error). */
	if (path != NULL && journal_load(r->ctx, path, &j, &exists) == IMSS_OK)
		past = exists && j.state >= JOURNAL_KEYGEN_STARTED && j.state != JOURNAL_DONE &&
		       j.key_spki_sha256 != NULL;
	journal_clear(&j);
	ctx_clear_detail(r->ctx); /* a damaged journal is told when it is read */
	free(path);
	free(token);
	free(employer);
	return past;
}

/* state_dir/token-<token>[-<employer>].lock opened into *fd and locked
 * with op (LOCK_NB added unless the user waits). */
static imss_err
take_lock(struct renew *r, const char *token, const char *employer, int op, int *fd)
{
	char *path = employer ? str_printf("%s/token-%s-%s.lock", r->state_dir, token, employer)
	                      : str_printf("%s/token-%s.lock", r->state_dir, token);
	imss_err err;

	if (path == NULL)
		return IMSS_ERR_NOMEM;
	op |= (r->o->flags & IMSS_RENEW_WAIT_LOCK) ? 0 : LOCK_NB;
	err = open_lock(r, path, fd);
	if (err == IMSS_OK && flock(*fd, op) != 0 && employer == NULL)
		err = ctx_fail_next(r->ctx, IMSS_ERR_BUSY, IMSS_NEXT_WAIT,
		                    _("Another imss-renew is renewing on token '%s' (lock %s). Wait for it to finish, or run again waiting for the lock."),
		                    imss_token_get_info(r->o->token)->label, path);
	else if (err == IMSS_OK && employer != NULL && flock(*fd, op) != 0)
		err = ctx_fail_next(r->ctx, IMSS_ERR_BUSY, IMSS_NEXT_WAIT,
		                    _("Another imss-renew is renewing employer %s on token '%s' (lock %s). Wait for it to finish, or run again waiting for the lock."),
		                    employer, imss_token_get_info(r->o->token)->label, path);
	free(path);
	return err;
}

/*
 * One renewal per employer and token at a time: the employer's lock
 * (token-<token>-<employer>.lock) exclusive, the token's lock
 * (token-<token>.lock) shared, so that renewals of several employers on
 * one token may run at once (fleet renew --jobs) while anything holding
 * the token's lock exclusively (an older imss-renew) still excludes them.
 * rp: the employer, else the current certificate's; when neither is known
 * the token's lock is taken exclusively.
 */
imss_err
renew_lock_token(struct renew *r, const char *rp)
{
	char *token = renew_token_name(r, 0);
	char *employer = token ? lock_employer(r, rp) : NULL;
	imss_err err = IMSS_ERR_NOMEM;

	if (token != NULL)
		err = take_lock(r, token, NULL, employer ? LOCK_SH : LOCK_EX, &r->lock_fd);
	if (err == IMSS_OK && employer != NULL)
		err = take_lock(r, token, employer, LOCK_EX, &r->employer_lock_fd);
	free(employer);
	free(token);
	return err;
}

/* Where the CA of server is pinned: state_dir/ca-HOST_PORT~HASH.pem
 * (renew_file_safe). */
static imss_err
pin_path_of(const char *state_dir, const char *server, char **out)
{
	const char *host = strstr(server, "://");
	char *safe = renew_file_safe(host ? host + 3 : server);

	*out = NULL;
	if (safe != NULL)
		*out = str_printf("%s/ca-%s.pem", state_dir, safe);
	free(safe);
	return *out ? IMSS_OK : IMSS_ERR_NOMEM;
}

static imss_err
pin_path(struct renew *r, char **out)
{
	return pin_path_of(r->state_dir, r->o->server, out);
}

static imss_err
write_pem_certs(imss_ctx *ctx, const char *path, STACK_OF(X509) * certs)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int i, ok = mem != NULL;
	imss_err err = IMSS_ERR_NOMEM;

	for (i = 0; ok && i < sk_X509_num(certs); i++)
		ok = PEM_write_bio_X509(mem, sk_X509_value(certs, i));
	if (ok) {
		len = BIO_get_mem_data(mem, &data);
		err = imss_write_file_atomic(ctx, path, data, (size_t)len, 0644, 1);
	}
	BIO_free(mem);
	return err;
}

/* basicConstraints CA:TRUE, and extensions that could be read. */
static int
is_ca(X509 *x)
{
	return (X509_get_extension_flags(x) & (EXFLAG_CA | EXFLAG_INVALID)) == EXFLAG_CA;
}

/* A file of CA certificates (--ca, or the pin), PEM or DER: every
 * certificate in it must be a CA's. */
static imss_err
load_cas(imss_ctx *ctx, const char *path, STACK_OF(X509) * *out)
{
	imss_err err = imss_certs_load(ctx, path, out);
	int i;

	for (i = 0; err == IMSS_OK && i < sk_X509_num(*out); i++) {
		X509 *x = sk_X509_value(*out, i);
		char *subject = NULL;

		if (is_ca(x))
			continue;
		subject = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
		err = ctx_fail(ctx, IMSS_ERR_FORMAT,
		               _("'%s' is not a CA certificate (it has no basicConstraints CA:TRUE): it is the certificate of %s."),
		               path, subject ? subject : "?");
		OPENSSL_free(subject);
	}
	if (err != IMSS_OK) {
		sk_X509_pop_free(*out, X509_free);
		*out = NULL;
	}
	return err;
}

imss_err
imss_renew_trusted_cas(imss_ctx *ctx, const char *server, const char *ca_file,
                       const char *state_dir, STACK_OF(X509) * *out)
{
	char *dir = NULL, *pin_file = NULL;
	imss_err err = IMSS_OK;

	*out = NULL;
	if (ca_file != NULL)
		return load_cas(ctx, ca_file, out);
	if (server == NULL)
		return IMSS_OK;
	err = state_dir_path(ctx, state_dir, &dir);
	if (err == IMSS_OK)
		err = pin_path_of(dir, server, &pin_file);
	if (err == IMSS_OK && access(pin_file, F_OK) == 0)
		err = load_cas(ctx, pin_file, out);
	free(pin_file);
	free(dir);
	return err;
}

static int
same_certs(STACK_OF(X509) * a, STACK_OF(X509) * b)
{
	int i, n = sk_X509_num(a);

	if (a == NULL || b == NULL || n != sk_X509_num(b))
		return 0;
	for (i = 0; i < n; i++)
		if (X509_cmp(sk_X509_value(a, i), sk_X509_value(b, i)) != 0)
			return 0;
	return 1;
}

/* SHA-256 of the first certificate, for messages (malloc'd). */
static char *
first_sha256(STACK_OF(X509) * certs)
{
	imss_cert_info info;
	char *hex;

	if (sk_X509_num(certs) < 1 || imss_cert_describe(sk_X509_value(certs, 0), &info) != IMSS_OK)
		return NULL;
	hex = info.fingerprint;
	info.fingerprint = NULL;
	imss_cert_info_clear(&info);
	return hex;
}

/*
 * Pin cas for later runs without --ca, after a handshake with them
 * succeeded.  replaced: there was another pin (old: what it held, NULL
 * when it could not be read); the run says so, naming both.
 */
static imss_err
pin_ca(struct renew *r, STACK_OF(X509) * cas, const char *pinned, int replaced, STACK_OF(X509) * old)
{
	imss_cert_info info;
	imss_err err = write_pem_certs(r->ctx, pinned, cas);
	char *old_sha = replaced ? first_sha256(old) : NULL;
	const char *was = old_sha ? old_sha : _("unreadable");

	if (err == IMSS_OK && imss_cert_describe(sk_X509_value(cas, 0), &info) == IMSS_OK) {
		const char *f[] = { "ca_subject",
			            info.subject,
			            "ca_sha256",
			            info.fingerprint,
			            "pinned",
			            pinned,
			            replaced ? N_("replaced_sha256") : NULL,
			            was,
			            NULL }; /* N_: the field's name is translated in text output */

		if (replaced)
			renew_emit(r, "ca", 1, f,
			           _("The CA pinned for %s is replaced by the CA given: it was SHA-256 %s; it is now %s (SHA-256 %s), in %s."),
			           r->o->server, was, info.subject, info.fingerprint, pinned);
		else
			renew_emit(r, "ca", 1, f,
			           _("The CA of %s (%s, SHA-256 %s) is pinned in %s for later runs."),
			           r->o->server, info.subject, info.fingerprint, pinned);
		imss_cert_info_clear(&info);
	}
	free(old_sha);
	return err;
}

static imss_err
client_new(struct renew *r, STACK_OF(X509) * trusted, int trusted_only)
{
	struct http_options ho = { trusted, trusted_only, 15, 120, 8u << 20, 3, 0 };

	return http_client_new(r->ctx, r->o->server, &ho, &r->http);
}

/* One exchange, never retried, whose answer does not matter: it proves a
 * TLS handshake with the trust set up succeeded. */
static imss_err
handshake(struct renew *r)
{
	struct http_response resp;
	imss_err err = http_request(r->http, "GET", "/idse/v1/ca", NULL, NULL, 0, 0, &resp);

	http_response_clear(&resp);
	return err;
}

/* --ca: TLS trusts it alone; it is pinned once a handshake succeeded
 * (replacing another pin, and saying so). */
static imss_err
connect_given(struct renew *r, STACK_OF(X509) * given, const char *pin_file, int have_pin,
              STACK_OF(X509) * pinned)
{
	imss_err err = client_new(r, given, 1);

	if (err == IMSS_OK && !same_certs(given, pinned)) {
		err = handshake(r);
		if (err == IMSS_OK)
			err = pin_ca(r, given, pin_file, have_pin, pinned);
	}
	return err;
}

/* First use, without --ca: the CA the service publishes over TLS checked
 * against the system store, pinned when it is a CA. */
static imss_err
connect_first_use(struct renew *r, const char *pin_file)
{
	X509 *ca = NULL;
	imss_err err = client_new(r, NULL, 0);

	if (err == IMSS_OK)
		err = idse_get_ca(r->ctx, r->http, &ca);
	if (err == IMSS_ERR_TLS) {
		ctx_append_detail(r->ctx, _(" The first time, give the service's CA certificate."));
		ctx_set_next(r->ctx, IMSS_NEXT_GIVE_CA);
	}
	if (err == IMSS_OK && !is_ca(ca))
		err = ctx_fail_next(r->ctx, IMSS_ERR_REFUSED_CERT, IMSS_NEXT_GIVE_CA,
		                    _("The CA %s publishes is not a CA certificate (no basicConstraints CA:TRUE); nothing was pinned. Give the service's CA certificate."),
		                    r->o->server);
	if (err == IMSS_OK &&
	    ((r->issuer = sk_X509_new_null()) == NULL || !sk_X509_push(r->issuer, ca)))
		err = IMSS_ERR_NOMEM;
	if (err == IMSS_OK)
		ca = NULL;
	if (err == IMSS_OK)
		err = pin_ca(r, r->issuer, pin_file, 0, NULL);
	X509_free(ca);
	return err;
}

/*
 * Trust: with --ca, TLS trusts that CA alone and issued certificates must
 * chain to it; it is pinned (ca-HOST_PORT~HASH.pem in the state directory)
 * after a handshake with it succeeded, replacing another pin only so.
 * Without --ca: the system store plus the pinned CA, to which issued
 * certificates must chain; without a pin (first use), the CA the service
 * publishes over TLS checked against the system store, pinned from then
 * on.  --ca and the pin are PEM or DER, and CA certificates only.
 */
imss_err
renew_connect(struct renew *r)
{
	STACK_OF(X509) *given = NULL, *pinned = NULL;
	char *pin_file = NULL;
	int have_pin = 0;
	imss_err err;

	err = pin_path(r, &pin_file);
	if (err == IMSS_OK && r->o->ca_file != NULL &&
	    (err = load_cas(r->ctx, r->o->ca_file, &given)) != IMSS_OK) {
		ctx_append_detail(r->ctx,
		                  _(" Give the service's CA certificate; nothing was pinned."));
		ctx_set_next(r->ctx, IMSS_NEXT_GIVE_CA);
	}
	if (err == IMSS_OK && (have_pin = access(pin_file, F_OK) == 0)) {
		imss_err bad = load_cas(r->ctx, pin_file, &pinned);

		if (bad != IMSS_OK && given == NULL) { /* replaced only by --ca */
			ctx_append_detail(r->ctx,
			                  _(" Give the service's CA certificate: it replaces the pin."));
			ctx_set_next(r->ctx, IMSS_NEXT_GIVE_CA);
			err = bad;
		} else if (bad != IMSS_OK) {
			ctx_clear_detail(r->ctx);
		}
	}
	if (err != IMSS_OK)
		goto out;
	if (given != NULL)
		err = connect_given(r, given, pin_file, have_pin, pinned);
	else if (pinned != NULL)
		err = client_new(r, pinned, 0);
	else
		err = connect_first_use(r, pin_file);
	if (err == IMSS_OK && r->issuer == NULL) { /* issued certificates chain to it */
		STACK_OF(X509) **trusted = given ? &given : &pinned;

		r->issuer = *trusted;
		*trusted = NULL;
	}
out:
	sk_X509_pop_free(given, X509_free);
	sk_X509_pop_free(pinned, X509_free);
	free(pin_file);
	return err;
}

/*
 * A standard protocol (SCEP, CMP): --ca is required and trusted alone, for
 * TLS (https://) and as what the certificate chains to; nothing is
 * pinned; http:// is allowed, the messages carrying their own protection.
 */
imss_err
renew_connect_enroll(struct renew *r)
{
	struct http_options ho = { NULL, 1, 15, 120, 8u << 20, 0, 1 };
	imss_err err;

	if (r->o->ca_file == NULL)
		return ctx_fail_next(r->ctx, IMSS_ERR_INVALID_ARG, IMSS_NEXT_GIVE_CA,
		                     _("Renewing with %s needs the CA's certificate: the certificate must chain to it."),
		                     imss_protocol_name(r->o->protocol));
	if (r->o->protocol == IMSS_PROTOCOL_SCEP) {
		/* The CA encrypts its answer to the current certificate: a key
		 * that cannot decrypt is refused before any key is made. */
		struct scep_signer signer = { NULL, NULL };

		if (!renew_is_first(r)) {
			signer.cert = imss_credential_get_certificate(r->o->current);
			signer.key = imss_credential_get_key(r->o->current);
			err = scep_check_signer(r->ctx, &signer);
			if (err != IMSS_OK)
				return err;
		}
	}
	err = load_cas(r->ctx, r->o->ca_file, &r->issuer);
	ho.trusted = r->issuer;
	if (err == IMSS_OK)
		err = http_client_new(r->ctx, r->o->server, &ho, &r->http);
	return err;
}

int
renew_is_first(const struct renew *r)
{
	return r->o->current == NULL && r->o->subject != NULL;
}

const X509_NAME *
renew_wanted_subject(const struct renew *r)
{
	X509 *cert = r->o->current ? imss_credential_get_certificate(r->o->current) : NULL;

	return cert != NULL ? X509_get_subject_name(cert) : r->subject;
}

/* "/CN=name/O=firm/C=MX" (as openssl req -subj) into r->subject. */
imss_err
renew_parse_subject(struct renew *r)
{
	char *text = strdup(r->o->subject), *entry, *next, *eq;
	imss_err err = IMSS_OK;

	r->subject = X509_NAME_new();
	if (text == NULL || r->subject == NULL) {
		free(text);
		return IMSS_ERR_NOMEM;
	}
	for (entry = text[0] == '/' ? text + 1 : text; err == IMSS_OK && entry != NULL; entry = next) {
		if ((next = strchr(entry, '/')) != NULL)
			*next++ = '\0';
		eq = strchr(entry, '=');
		if (eq == NULL || eq == entry || eq[1] == '\0' ||
		    (*eq = '\0',
		     !X509_NAME_add_entry_by_txt(r->subject, entry, MBSTRING_UTF8,
		                                 (const unsigned char *)eq + 1, -1, -1, 0)))
			err = IMSS_ERR_INVALID_ARG;
	}
	free(text);
	if (err == IMSS_OK && X509_NAME_entry_count(r->subject) > 0 && str_is_text(r->o->subject))
		return IMSS_OK;
	return ctx_fail(r->ctx, IMSS_ERR_INVALID_ARG,
	                _("The subject '%s' is not of the form /CN=name/O=firm/C=MX (known attribute names, non-empty values). Nothing was done."),
	                r->o->subject);
}

void
renew_token_take(struct renew *r)
{
	if (!r->token_held)
		imss_token_acquire(r->o->token);
	r->token_held = 1;
}

void
renew_token_leave(struct renew *r)
{
	if (r->token_held)
		imss_token_release(r->o->token);
	r->token_held = 0;
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
	err = ctx_fail_next(r->ctx, IMSS_ERR_INTERRUPTED, IMSS_NEXT_CONTINUE,
	                    _("Interrupted after step %d (%s). Kept: %s."), step,
	                    journal_state_words(r->j.state), kept);
	free(kept);
	return err;
}

void
renew_free(struct renew *r)
{
	if (r->http != NULL && r->o->protocol == IMSS_PROTOCOL_IDSE) {
		/* Leave the service; the error detail of the run is kept. */
		char saved[IMSS_DETAIL_MAX];

		memcpy(saved, ctx_detail_buf(r->ctx), sizeof(saved));
		idse_logout(r->ctx, r->http);
		memcpy(ctx_detail_buf(r->ctx), saved, sizeof(saved));
	}
	http_client_free(r->http);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	if (r->employer_lock_fd >= 0)
		close(r->employer_lock_fd);
	sk_X509_pop_free(r->issuer, X509_free);
	idse_company_clear(&r->company);
	journal_clear(&r->j);
	imss_key_free(r->key);
	X509_NAME_free(r->subject);
	X509_free(r->cert);
	free(r->state_dir);
	free(r->out_dir);
}

imss_err
renew_setup(struct renew *r, imss_ctx *ctx, const imss_renew_options *o, const imss_renew_ui *ui,
            imss_renew_result *result)
{
	imss_err err;

	memset(r, 0, sizeof(*r));
	r->ctx = ctx;
	r->o = o;
	r->ui = ui;
	r->result = result;
	r->lock_fd = -1;
	r->employer_lock_fd = -1;
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
	if (err == IMSS_OK && result != NULL) /* abandon writes nothing there */
		err = check_dir(ctx, r->out_dir, out_dir_rule);
	if (err == IMSS_OK) {
		char *abs = NULL;

		err = absolute_dir(ctx, r->state_dir, &abs);
		free(r->state_dir);
		r->state_dir = abs;
	}
	return err;
}

void
imss_renew_result_clear(imss_renew_result *res)
{
	if (res == NULL)
		return;
	STR_FREE_EACH(res->serial, res->subject, res->key_uri, res->cert_uri, res->cert_path,
	              res->letter_path);
	memset(res, 0, sizeof(*res));
}
