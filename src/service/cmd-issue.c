/*
 * imss-renew-service issue: an initial certificate for an employer, so
 * that demos and tests start where the seed does (a certificate, maybe
 * expired, to renew).  Either a new key and certificate in a PKCS#12 file,
 * or a key generated inside a PKCS#11 token (through libimss-renew) with
 * its certificate stored beside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pkcs12.h>

#include <imss-renew/imss-renew.h>

#include "ca.h"
#include "certdb.h"
#include "cli.h"
#include "db.h"
#include "employers.h"
#include "util.h"

#define COMMAND "issue"
#define DAY 86400L
#define SECRET_MAX 256

struct issue_args {
	const char *dir;
	const char *rp;
	const char *pfx;
	const char *pfx_password_source;
	const char *token;
	const char *module;
	const char *pin_source;
	const char *label;
	const char *key_type;
	unsigned days;
	int expired;
};

static void
usage(void)
{
	printf("Usage: %s %s --dir DIR --registro-patronal RP\n"
	       "         (--pfx FILE [--pfx-password-source SRC]\n"
	       "          | --token URI --module PATH [--pin-source SRC] [--label LABEL])\n"
	       "         [--key-type TYPE] [--days N] [--expired]\n"
	       "Issue a certificate for the employer with a new key: into a PKCS#12\n"
	       "file (key, certificate and CA certificate), or generated inside a\n"
	       "PKCS#11 token, where the certificate is stored beside the key.\n"
	       "\nOptions:\n"
	       "  --registro-patronal RP      the employer (see 'employer add')\n"
	       "  --pfx FILE                  write the PKCS#12 file (mode 0600)\n"
	       "  --pfx-password-source SRC   its password: tty (default), file:PATH,\n"
	       "                              fd:N or env:NAME\n"
	       "  --token URI                 the token, as a PKCS#11 URI\n"
	       "  --module PATH               the PKCS#11 module of the token\n"
	       "  --pin-source SRC            the token's user PIN (default tty)\n"
	       "  --label LABEL               label of the key and certificate on the token\n"
	       "                              (default 'IMSS RP')\n"
	       "  --key-type TYPE             rsa:2048 (default), rsa:3072, rsa:4096,\n"
	       "                              ec:prime256v1 or ec:secp384r1\n"
	       "  --days N                    validity in days (default 182)\n"
	       "  --expired                   make it already expired: valid for N days up\n"
	       "                              to yesterday\n"
	       "  -h, --help                  print this help and exit\n"
	       "\nPrints the serial, subject and validity of the certificate.\n",
	       SVC_NAME, COMMAND);
}

static int
check_args(const void *args)
{
	const struct issue_args *a = args;
	imss_keyspec spec;

	if (!a->dir || !a->rp)
		return cli_usage_error(COMMAND, "--dir and --registro-patronal are required");
	if (!a->pfx == !a->token)
		return cli_usage_error(COMMAND, "give either --pfx FILE or --token URI");
	if (a->token && !a->module)
		return cli_usage_error(COMMAND, "--token needs --module PATH");
	if (a->pfx && (a->module || a->pin_source || a->label))
		return cli_usage_error(COMMAND, "--module, --pin-source and --label go with --token");
	if (a->token && a->pfx_password_source)
		return cli_usage_error(COMMAND, "--pfx-password-source goes with --pfx");
	if (imss_keyspec_parse(a->key_type, &spec) != IMSS_OK)
		return cli_usage_error(COMMAND, "unknown --key-type '%s'", a->key_type);
	return CLI_OK;
}

static const struct cli_option options[] = {
	CLI_TEXT("dir", struct issue_args, dir),
	CLI_TEXT("registro-patronal", struct issue_args, rp),
	CLI_TEXT("pfx", struct issue_args, pfx),
	CLI_TEXT("pfx-password-source", struct issue_args, pfx_password_source),
	CLI_TEXT("token", struct issue_args, token),
	CLI_TEXT("module", struct issue_args, module),
	CLI_TEXT("pin-source", struct issue_args, pin_source),
	CLI_TEXT("label", struct issue_args, label),
	CLI_TEXT("key-type", struct issue_args, key_type),
	CLI_UINT("days", struct issue_args, days, 1, 3650),
	CLI_FLAG("expired", struct issue_args, expired),
	CLI_END,
};

static void
print_cert(X509 *x)
{
	char serial[64], nb_text[SVC_TIME_LEN], na_text[SVC_TIME_LEN];
	char *subject = ca_subject_text(X509_get_subject_name(x));
	time_t nb = 0, na = 0;

	if (ca_serial_text(x, serial, sizeof(serial)) != 0)
		snprintf(serial, sizeof(serial), "?");
	ca_cert_times(x, &nb, &na);
	svc_time_text(nb, nb_text);
	svc_time_text(na, na_text);
	printf("serial %s\nsubject %s\nnot_before %s\nnot_after %s\n", serial,
	       subject ? subject : "?", nb_text, na_text);
	free(subject);
}

/* The PKCS#12 of key, x and the CA certificate, written to path. */
static int
write_pfx(const char *path, const char *password, EVP_PKEY *key, X509 *x, const struct ca *ca,
          const char *name)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	PKCS12 *p12 = NULL;
	unsigned char *der = NULL;
	int len, rc = -1;

	if (!chain || !sk_X509_push(chain, ca->cert))
		goto out;
	p12 = PKCS12_create_ex(password, name, key, x, chain, 0, 0, 0, 0, 0, NULL, NULL);
	if (!p12 || (len = i2d_PKCS12(p12, &der)) <= 0)
		goto out;
	if (svc_write_file(path, der, (size_t)len, 0600) == 0)
		rc = 0;
out:
	OPENSSL_free(der);
	PKCS12_free(p12);
	sk_X509_free(chain);
	return rc;
}

static void
validity(const struct issue_args *a, time_t *nb, time_t *na)
{
	time_t now = time(NULL);

	if (a->expired) {
		*na = now - DAY;
		*nb = *na - (time_t)a->days * DAY;
	} else {
		*nb = now;
		*na = now + (time_t)a->days * DAY;
	}
}

/* In a transaction: the certificate for pub, then out(), then commit. */
typedef int (*deliver_fn)(void *ctx, X509 *x);

static int
issue_and_deliver(sqlite3 *db, const struct ca *ca, const struct employer *e,
                  const struct issue_args *a, EVP_PKEY *pub, deliver_fn deliver, void *ctx)
{
	X509 *x = NULL;
	time_t nb, na;
	int rc = CLI_FAILURE;

	validity(a, &nb, &na);
	if (db_begin(db) != 0) {
		cli_error("cannot start a transaction: %s", sqlite3_errmsg(db));
		return CLI_FAILURE;
	}
	if (certdb_issue(db, ca, e, e->email, pub, nb, na, NULL, &x) != 0)
		cli_error("cannot issue the certificate");
	else if (deliver(ctx, x) == 0 && db_commit(db) == 0)
		rc = CLI_OK;
	if (rc != CLI_OK)
		db_rollback(db);
	else
		print_cert(x);
	X509_free(x);
	return rc;
}

struct pfx_ctx {
	const struct issue_args *a;
	const struct ca *ca;
	EVP_PKEY *key;
	const char *password;
	const char *name;
};

static int
deliver_pfx(void *p, X509 *x)
{
	struct pfx_ctx *c = p;

	if (write_pfx(c->a->pfx, c->password, c->key, x, c->ca, c->name) == 0)
		return 0;
	cli_error("cannot write %s", c->a->pfx);
	return -1;
}

static int
issue_pfx(sqlite3 *db, const struct ca *ca, const struct employer *e, const struct issue_args *a,
          const char *password)
{
	char name[64];
	EVP_PKEY *key = ca_keygen(a->key_type);
	struct pfx_ctx c = { a, ca, key, password, name };
	int rc;

	if (!key) {
		cli_error("cannot generate a %s key", a->key_type);
		return CLI_FAILURE;
	}
	snprintf(name, sizeof(name), "IMSS %s", e->registro_patronal);
	rc = issue_and_deliver(db, ca, e, a, key, deliver_pfx, &c);
	if (rc == CLI_OK)
		printf("pfx %s\n", a->pfx);
	EVP_PKEY_free(key);
	return rc;
}

struct token_ctx {
	imss_ctx *ctx;
	imss_token *tok;
	imss_key *key;
	const char *label;
	char *uri;
};

static int
deliver_token(void *p, X509 *x)
{
	struct token_ctx *c = p;
	unsigned char *der = NULL;
	size_t len;
	imss_err err = IMSS_ERR_CRYPTO;

	if (ca_cert_der(x, &der, &len) == 0)
		err = imss_token_store_certificate(c->tok, c->key, der, len, c->label, &c->uri);
	OPENSSL_free(der);
	if (err == IMSS_OK)
		return 0;
	cli_error("cannot store the certificate on the token: %s%s%s", imss_strerror(err),
	          *imss_ctx_detail(c->ctx) ? ": " : "", imss_ctx_detail(c->ctx));
	return -1;
}

/* Open the token, log in and generate the key. */
static imss_err
token_key(const struct issue_args *a, struct token_ctx *c)
{
	imss_pin_source *src = NULL;
	imss_keyspec spec;
	imss_err err;

	err = imss_pin_source_parse(a->pin_source ? a->pin_source : "tty", &src);
	if (err == IMSS_OK)
		err = imss_ctx_new(a->module, &c->ctx);
	if (err == IMSS_OK)
		err = imss_token_open(c->ctx, a->token, 1, &c->tok);
	if (err == IMSS_OK)
		err = imss_token_login(c->tok, src, 0);
	if (err == IMSS_OK)
		err = imss_keyspec_parse(a->key_type, &spec);
	/* As the renewal leaves one: the certificate stored next carries the
	 * public key. */
	spec.public_in_session = 1;
	if (err == IMSS_OK)
		err = imss_token_generate_keypair(c->tok, &spec, c->label, &c->key, NULL);
	if (src)
		imss_pin_source_free(src);
	return err;
}

static int
issue_token(sqlite3 *db, const struct ca *ca, const struct employer *e, const struct issue_args *a)
{
	struct token_ctx c = { 0 };
	char label[64];
	imss_err err;
	int rc = CLI_FAILURE;

	snprintf(label, sizeof(label), "IMSS %s", e->registro_patronal);
	c.label = a->label ? a->label : label;
	err = token_key(a, &c);
	if (err != IMSS_OK) {
		cli_error("token: %s%s%s", imss_strerror(err),
		          c.ctx && *imss_ctx_detail(c.ctx) ? ": " : "",
		          c.ctx ? imss_ctx_detail(c.ctx) : "");
		goto out;
	}
	rc = issue_and_deliver(db, ca, e, a, imss_key_get_public(c.key), deliver_token, &c);
	if (rc == CLI_OK)
		printf("key %s\ncertificate %s\n", imss_key_get_uri(c.key), c.uri ? c.uri : "");
out:
	free(c.uri);
	if (c.key)
		imss_key_free(c.key);
	if (c.tok)
		imss_token_close(c.tok);
	if (c.ctx)
		imss_ctx_free(c.ctx);
	return rc;
}

int
cmd_issue(int argc, char **argv)
{
	struct issue_args a = { .key_type = "rsa:2048", .days = 182 };
	struct employer e = { 0 };
	struct ca ca = { 0 };
	char password[SECRET_MAX] = "";
	sqlite3 *db = NULL;
	int done = 0, rc, found;

	rc = cli_parse(COMMAND, options, usage, check_args, argc, argv, &a, &done);
	if (rc != CLI_OK || done)
		return rc;
	if (a.pfx)
		rc = cli_secret(COMMAND, a.pfx_password_source,
		                "Password of the .pfx file: ", password, sizeof(password));
	if (rc == CLI_OK && a.pfx && !*password) {
		cli_error("the .pfx password must not be empty");
		rc = CLI_FAILURE;
	}
	if (rc == CLI_OK)
		rc = cli_open(a.dir, &db, &ca);
	if (rc != CLI_OK)
		goto out;
	found = employer_find_rp(db, a.rp, &e);
	if (found != 0) {
		cli_error(found == 1 ? "no employer with registro patronal %s"
		                     : "cannot read the employer %s",
		          a.rp);
		rc = CLI_FAILURE;
		goto out;
	}
	rc = a.pfx ? issue_pfx(db, &ca, &e, &a, password) : issue_token(db, &ca, &e, &a);
out:
	OPENSSL_cleanse(password, sizeof(password));
	employer_clear(&e);
	ca_clear(&ca);
	db_close(db);
	return rc;
}
