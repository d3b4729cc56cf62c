/*
 * CMP key update (RFC 4210, lightweight profile RFC 9483) with OpenSSL's
 * OSSL_CMP client: a KUR protected by the current credential (its
 * certificate and key, a file key or a token key through the provider),
 * proof of possession signed by the new token key, the certificate checked
 * by the engine before certConf accepts it, every answer's protection
 * verified against --ca.
 *
 * The transfer is the project's libcurl client (http.c), not OpenSSL's
 * HTTP: the same TLS trust (--ca alone), timeouts, response cap and
 * proxies from the environment as the IDSE client, and one place where a
 * POST is never retried.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "enroll.h"
#include "imss-renew/base.h"

#define CMP_CONTENT_TYPE "application/pkixcmp"

/* What the callbacks learn, for the error the exchange ends with. */
struct cmp_run {
	imss_ctx *ctx;
	const struct enroll_request *req;
	imss_err transfer_err; /* the HTTP exchange failed (detail set) */
	imss_err check_err;    /* the engine refused the certificate (detail set) */
};

static int
ends_with_slash(const char *url)
{
	size_t n = strlen(url);

	return n > 0 && url[n - 1] == '/';
}

/* One request and its answer over the project's HTTP client. */
static OSSL_CMP_MSG *
transfer(OSSL_CMP_CTX *cmp, const OSSL_CMP_MSG *msg)
{
	struct cmp_run *run = OSSL_CMP_CTX_get_transfer_cb_arg(cmp);
	struct http_response resp = { 0 };
	unsigned char *der = NULL;
	const unsigned char *p;
	OSSL_CMP_MSG *answer = NULL;
	int len = i2d_OSSL_CMP_MSG(msg, &der);
	imss_err err;

	if (len <= 0)
		return NULL;
	/* Not idempotent: a lost answer is asked for by the next run.  The
	 * client drops the URL's trailing slash, which CMP paths may need. */
	err = http_request(run->req->http, "POST", ends_with_slash(run->req->server) ? "/" : "",
	                   CMP_CONTENT_TYPE, der, (size_t)len, 0, &resp);
	OPENSSL_free(der);
	if (err == IMSS_OK && (resp.status != 200 || strncmp(resp.content_type, CMP_CONTENT_TYPE,
	                                                     strlen(CMP_CONTENT_TYPE)) != 0))
		err = ctx_fail(run->ctx, IMSS_ERR_SERVICE,
		               _("The CMP server %s answered HTTP %ld (%s), not a CMP message."),
		               run->req->server, resp.status,
		               resp.content_type[0] ? resp.content_type : "no content type");
	if (err == IMSS_OK) {
		p = resp.body;
		answer = d2i_OSSL_CMP_MSG(NULL, &p, (long)resp.len);
		if (answer == NULL || p != resp.body + resp.len)
			err = ctx_fail(run->ctx, IMSS_ERR_PROTOCOL,
			               _("The CMP server %s sent an answer that is not one CMP message."),
			               run->req->server);
	}
	if (err != IMSS_OK) {
		OSSL_CMP_MSG_free(answer);
		answer = NULL;
		run->transfer_err = err;
	}
	http_response_clear(&resp);
	return answer;
}

/* certConf: the engine's full check decides too whether the certificate
 * is accepted (a refusal is sent to the CA as incorrectData), also when
 * OpenSSL refused it already (its reason is then the engine's). */
static int
confirm(OSSL_CMP_CTX *cmp, X509 *cert, int fail_info, const char **text)
{
	struct cmp_run *run = OSSL_CMP_CTX_get_certConf_cb_arg(cmp);

	run->check_err = run->req->check ? run->req->check(run->req->check_user, cert) : IMSS_OK;
	if (run->check_err == IMSS_OK)
		return fail_info;
	*text = "certificate refused by the client's checks";
	return fail_info | (1 << OSSL_CMP_PKIFAILUREINFO_incorrectData);
}

/* OpenSSL's CMP progress lines would go to standard output. */
static int
quiet_log(const char *func, const char *file, int line, OSSL_CMP_severity level, const char *msg)
{
	(void)func;
	(void)file;
	(void)line;
	(void)level;
	(void)msg;
	return 1;
}

/* The trust anchors of the server's protection: --ca. */
static X509_STORE *
trust_store(STACK_OF(X509) * ca)
{
	X509_STORE *store = X509_STORE_new();
	int i;

	for (i = 0; store != NULL && i < sk_X509_num(ca); i++)
		if (!X509_STORE_add_cert(store, sk_X509_value(ca, i))) {
			X509_STORE_free(store);
			store = NULL;
		}
	return store;
}

static int
set_transaction(OSSL_CMP_CTX *cmp, const char *hex)
{
	long len = 0;
	unsigned char *bytes = OPENSSL_hexstr2buf(hex, &len);
	ASN1_OCTET_STRING *id = ASN1_OCTET_STRING_new();
	int ok = bytes != NULL && id != NULL && ASN1_OCTET_STRING_set(id, bytes, (int)len) &&
	         OSSL_CMP_CTX_set1_transactionID(cmp, id);

	OPENSSL_free(bytes);
	ASN1_OCTET_STRING_free(id);
	return ok;
}

/* The client: who protects, what is asked, whom to trust. */
static imss_err
cmp_setup(imss_ctx *ctx, const struct enroll_request *req, struct cmp_run *run, OSSL_CMP_CTX **out)
{
	OSSL_CMP_CTX *cmp = OSSL_CMP_CTX_new(req->libctx, NULL);
	X509_STORE *store = trust_store(req->ca);
	int ok = cmp != NULL && store != NULL && EVP_PKEY_up_ref(req->new_key);

	if (ok && !OSSL_CMP_CTX_set0_newPkey(cmp, 1, req->new_key)) {
		EVP_PKEY_free(req->new_key);
		ok = 0;
	}
	ok = ok && OSSL_CMP_CTX_set0_trustedStore(cmp, store);
	if (ok)
		store = NULL;
	ok = ok && OSSL_CMP_CTX_set_log_cb(cmp, quiet_log) &&
	     OSSL_CMP_CTX_set1_cert(cmp, req->current_cert) &&
	     OSSL_CMP_CTX_set1_pkey(cmp, req->current_key) &&
	     OSSL_CMP_CTX_set1_oldCert(cmp, req->current_cert) &&
	     OSSL_CMP_CTX_set1_p10CSR(cmp, req->request) &&
	     OSSL_CMP_CTX_set_transfer_cb(cmp, transfer) &&
	     OSSL_CMP_CTX_set_transfer_cb_arg(cmp, run) &&
	     OSSL_CMP_CTX_set_certConf_cb(cmp, confirm) &&
	     OSSL_CMP_CTX_set_certConf_cb_arg(cmp, run) &&
	     OSSL_CMP_CTX_set_option(cmp, OSSL_CMP_OPT_TOTAL_TIMEOUT, (int)req->timeout) &&
	     OSSL_CMP_CTX_set_option(cmp, OSSL_CMP_OPT_IMPLICIT_CONFIRM, 0) &&
	     (req->transaction == NULL || set_transaction(cmp, req->transaction));
	X509_STORE_free(store);
	if (!ok) {
		OSSL_CMP_CTX_free(cmp);
		return ctx_fail_openssl(ctx, _("setting up the CMP client"));
	}
	*out = cmp;
	return IMSS_OK;
}

/* Why the key update failed, in the words the server or OpenSSL gave. */
static imss_err
cmp_failure(imss_ctx *ctx, const struct enroll_request *req, OSSL_CMP_CTX *cmp)
{
	char status[512], reason[256] = "";
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	if (OSSL_CMP_CTX_get_status(cmp) == OSSL_CMP_PKISTATUS_rejection &&
	    OSSL_CMP_CTX_snprint_PKIStatus(cmp, status, sizeof(status)) != NULL)
		return ctx_fail(ctx, IMSS_ERR_SERVICE,
		                _("The CMP server %s refused the key update: %s. Nothing was stored."),
		                req->server, status);
	return ctx_fail(ctx, IMSS_ERR_PROTOCOL,
	                _("The key update with the CMP server %s failed: %s. Nothing was stored; check the server's address and the CA given (the one its answers must be signed under)."),
	                req->server, reason[0] ? reason : "?");
}

imss_err
enroll_cmp(imss_ctx *ctx, const struct enroll_request *req, struct enroll_result *out)
{
	struct cmp_run run = { ctx, req, IMSS_OK, IMSS_OK };
	OSSL_CMP_CTX *cmp = NULL;
	X509 *cert;
	imss_err err;

	memset(out, 0, sizeof(*out));
	ERR_clear_error();
	err = cmp_setup(ctx, req, &run, &cmp);
	if (err != IMSS_OK)
		return err;
	cert = OSSL_CMP_exec_KUR_ses(cmp);
	if (cert != NULL && X509_up_ref(cert))
		out->cert = cert;
	else if (run.check_err != IMSS_OK || run.transfer_err != IMSS_OK)
		/* the detail is the check's or the transfer's own */
		err = run.check_err != IMSS_OK ? run.check_err : run.transfer_err;
	else if (OSSL_CMP_CTX_get_status(cmp) == OSSL_CMP_PKISTATUS_waiting)
		out->pending = 1;
	else
		err = cmp_failure(ctx, req, cmp);
	ERR_clear_error();
	OSSL_CMP_CTX_free(cmp);
	return err;
}
