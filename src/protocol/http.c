/*
 * libcurl, configured so that nothing is trusted that was not meant to be:
 * https only, peer and host verified, no redirects followed, sizes capped.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "http.h"
#include "imss-renew/base.h"

struct http_client {
	imss_ctx *ctx;
	CURL *curl;
	CURLSH *tls_sessions; /* shared with the clients of the same trust */
	int resumed;          /* the last connection made resumed a TLS session */
	char *base;
	char *bearer;
	struct http_options opts; /* opts.trusted is the client's own copy */
};

struct sink {
	struct http_response *resp;
	size_t max;
	int too_large;
};

static CURLcode curl_init_result = CURLE_FAILED_INIT;

/*
 * TLS sessions resumed across the clients of one process (the employers of
 * a fleet run): one libcurl share of SSL sessions per trust, that is per
 * set of CAs trusted and whether they alone are (libcurl compares its own
 * TLS settings before resuming, not what trust_for_handshake adds, so a
 * client that trusts other CAs must never see these sessions).  Only the
 * sessions are shared, never a connection: no socket outlives its client.
 * The shares live as long as the process.
 */
enum { TLS_SHARES_MAX = 8 };

struct tls_share {
	unsigned char trust[EVP_MAX_MD_SIZE];
	CURLSH *sh;
};

static struct tls_share tls_shares[TLS_SHARES_MAX];
static int tls_share_count;
static pthread_mutex_t tls_shares_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t share_data_locks[CURL_LOCK_DATA_LAST];

static void
share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
	(void)h;
	(void)access;
	(void)arg;
	pthread_mutex_lock(&share_data_locks[data]);
}

static void
share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	(void)h;
	(void)arg;
	pthread_mutex_unlock(&share_data_locks[data]);
}

static void
curl_init_once(void)
{
	int i;

	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&share_data_locks[i], NULL);
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The SHA-256 of what a client trusts: whether only its CAs, and each CA's
 * DER.  0 when it cannot be computed. */
static int
trust_digest(const struct http_options *opts, unsigned char *md)
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned char only = opts->trusted_only ? 1 : 0;
	int ok = h != NULL && EVP_DigestInit_ex(h, EVP_sha256(), NULL) &&
	         EVP_DigestUpdate(h, &only, 1);
	int i;

	for (i = 0; ok && i < sk_X509_num(opts->trusted); i++) {
		unsigned char *der = NULL;
		int len = i2d_X509(sk_X509_value(opts->trusted, i), &der);

		ok = len > 0 && EVP_DigestUpdate(h, der, (size_t)len);
		OPENSSL_free(der);
	}
	ok = ok && EVP_DigestFinal_ex(h, md, NULL);
	EVP_MD_CTX_free(h);
	return ok;
}

static CURLSH *
tls_share_new(void)
{
	CURLSH *sh = curl_share_init();

	if (sh != NULL &&
	    (curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
	     curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
	     curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)) {
		curl_share_cleanup(sh);
		sh = NULL;
	}
	return sh;
}

/* The share of the clients that trust what opts trusts; NULL (each
 * connection a full handshake) when there is none to be had. */
static CURLSH *
tls_share_for(const struct http_options *opts)
{
	unsigned char md[EVP_MAX_MD_SIZE] = { 0 };
	CURLSH *sh = NULL;
	int i;

	if (!trust_digest(opts, md))
		return NULL;
	pthread_mutex_lock(&tls_shares_lock);
	for (i = 0; i < tls_share_count && sh == NULL; i++)
		if (memcmp(tls_shares[i].trust, md, sizeof(md)) == 0)
			sh = tls_shares[i].sh;
	if (sh == NULL && tls_share_count < TLS_SHARES_MAX && (sh = tls_share_new()) != NULL) {
		memcpy(tls_shares[tls_share_count].trust, md, sizeof(md));
		tls_shares[tls_share_count++].sh = sh;
	}
	pthread_mutex_unlock(&tls_shares_lock);
	return sh;
}

/* curl_global_init once in the process, whichever thread asks first (it is
 * not thread-safe: the renewals of fleet renew --jobs share it). */
static imss_err
curl_global(imss_ctx *ctx)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, curl_init_once);
	if (curl_init_result != CURLE_OK)
		return ctx_fail(ctx, IMSS_ERR_NOMEM, "curl_global_init");
	return IMSS_OK;
}

/* https://host..., or http://host... where the messages protect
 * themselves (SCEP, CMP). */
static int
url_scheme_allowed(const char *url, int allow_http)
{
	if (strncasecmp(url, "https://", 8) == 0)
		return url[8] != '\0';
	return allow_http && strncasecmp(url, "http://", 7) == 0 && url[7] != '\0';
}

imss_err
http_client_new(imss_ctx *ctx, const char *base_url, const struct http_options *opts,
                struct http_client **out)
{
	struct http_client *c;
	imss_err err;

	*out = NULL;
	if (!url_scheme_allowed(base_url, opts->allow_http))
		return ctx_fail(ctx, IMSS_ERR_INVALID_ARG,
		                opts->allow_http
		                        ? _("The server URL must start with http:// or https:// ('%s').")
		                        : _("The service URL must start with https:// ('%s')."),
		                base_url);
	err = curl_global(ctx);
	if (err != IMSS_OK)
		return err;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return IMSS_ERR_NOMEM;
	c->ctx = ctx;
	c->opts = *opts;
	/* Its own references: the caller's stack may be freed at once. */
	c->opts.trusted = NULL;
	if (opts->trusted != NULL && (c->opts.trusted = X509_chain_up_ref(opts->trusted)) == NULL) {
		free(c);
		return IMSS_ERR_NOMEM;
	}
	{
		/* IMSS_RENEW_HTTP_TIMEOUT: the seconds one exchange may take, for
		 * slow links (and the tests of a stalled service). */
		const char *t = getenv("IMSS_RENEW_HTTP_TIMEOUT");
		char *end = NULL;
		long v = t ? strtol(t, &end, 10) : 0;

		if (t != NULL && *t != '\0' && *end == '\0' && v > 0 && v <= 3600) {
			c->opts.total_timeout = v;
			if (c->opts.connect_timeout > v)
				c->opts.connect_timeout = v;
		}
	}
	c->base = strdup(base_url);
	c->curl = curl_easy_init();
	if (c->base == NULL || c->curl == NULL) {
		http_client_free(c);
		return IMSS_ERR_NOMEM;
	}
	/* Kept by curl_easy_reset: set once. */
	if ((c->tls_sessions = tls_share_for(opts)) != NULL)
		curl_easy_setopt(c->curl, CURLOPT_SHARE, c->tls_sessions);
	/* No trailing slash: paths start with one. */
	while (strlen(c->base) > 8 && c->base[strlen(c->base) - 1] == '/')
		c->base[strlen(c->base) - 1] = '\0';
	*out = c;
	return IMSS_OK;
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	if (c->bearer != NULL)
		imss_wipe(c->bearer, strlen(c->bearer));
	free(c->bearer);
	free(c->base);
	sk_X509_pop_free(c->opts.trusted, X509_free);
	free(c);
}

imss_err
http_client_set_bearer(struct http_client *c, const char *token)
{
	if (c->bearer != NULL)
		imss_wipe(c->bearer, strlen(c->bearer));
	free(c->bearer);
	c->bearer = NULL;
	if (token != NULL && (c->bearer = strdup(token)) == NULL)
		return IMSS_ERR_NOMEM;
	return IMSS_OK;
}

void
http_response_clear(struct http_response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;
	unsigned char *grown;

	if (s->resp->len + len > s->max) {
		s->too_large = 1;
		return 0;
	}
	grown = realloc(s->resp->body, s->resp->len + len + 1);
	if (grown == NULL)
		return 0;
	memcpy(grown + s->resp->len, data, len);
	s->resp->body = grown;
	s->resp->len += len;
	grown[s->resp->len] = '\0';
	return len;
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct http_response *r = arg;
	size_t len = size * n;

	if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0)
		r->retry_after = strtol(data + 12, NULL, 10);
	return len;
}

/* CURLOPT_PREREQFUNCTION, once connected (libcurl's TLS handle is only
 * reachable during the transfer): whether the connection's TLS session
 * was resumed. */
static int
note_connection(void *arg, char *peer_ip, char *local_ip, int peer_port, int local_port)
{
	struct http_client *c = arg;
	struct curl_tlssessioninfo *tls = NULL;

	(void)peer_ip;
	(void)local_ip;
	(void)peer_port;
	(void)local_port;
	c->resumed = curl_easy_getinfo(c->curl, CURLINFO_TLS_SSL_PTR, &tls) == CURLE_OK &&
	             tls != NULL && tls->backend == CURLSSLBACKEND_OPENSSL &&
	             tls->internals != NULL && SSL_session_reused((SSL *)tls->internals);
	return CURL_PREREQFUNC_OK;
}

/* After a transfer that opened a connection: its resumption in the debug
 * log. */
static void
note_resumption(struct http_client *c)
{
	long connects = 0;

	if (curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK &&
	    connects > 0 && c->resumed)
		ctx_log(c->ctx, IMSS_LOG_DEBUG, _("http: TLS session with %s resumed"), c->base);
}

int
http_client_tls_resumed(const struct http_client *c)
{
	return c->resumed;
}

/*
 * libcurl's OpenSSL context, set up before each handshake (libcurl has
 * loaded the system store by then): with --ca a store of those CAs alone
 * replaces it; with a pinned CA, the pin joins the system store.  The
 * certificates are the client's own, read once (PEM or DER) when it was
 * made: nothing is read from a file here.
 */
static CURLcode
trust_for_handshake(CURL *h, void *sslctx, void *arg)
{
	const struct http_client *c = arg;
	X509_STORE *store;
	int i;

	(void)h;
	if (c->opts.trusted_only) {
		if ((store = X509_STORE_new()) == NULL)
			return CURLE_OUT_OF_MEMORY;
		/* As libcurl's own store: the CA given may be an intermediate one. */
		X509_STORE_set_flags(store, X509_V_FLAG_TRUSTED_FIRST | X509_V_FLAG_PARTIAL_CHAIN);
		SSL_CTX_set_cert_store((SSL_CTX *)sslctx, store);
	}
	store = SSL_CTX_get_cert_store((SSL_CTX *)sslctx);
	for (i = 0; i < sk_X509_num(c->opts.trusted); i++)
		X509_STORE_add_cert(store,
		                    sk_X509_value(c->opts.trusted, i)); /* a duplicate is no error */
	ERR_clear_error();
	return CURLE_OK;
}

static void
setup(struct http_client *c, const char *url, struct sink *sink, struct curl_slist *hdrs)
{
	CURL *h = c->curl;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, c->opts.allow_http ? "http,https" : "https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (c->opts.trusted != NULL) {
		curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, trust_for_handshake);
		curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, (void *)c);
	}
	if (c->opts.trusted_only) {
		/* The system store would be parsed for each connection (some
		 * 150 certificates), only to be replaced by trust_for_handshake. */
		curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->opts.connect_timeout);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->opts.total_timeout);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->opts.max_response);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, note_connection);
	curl_easy_setopt(h, CURLOPT_PREREQDATA, (void *)c);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "imss-renew/" IMSS_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, sink->resp);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
}

static imss_err
transport_error(struct http_client *c, CURLcode rc, const char *errbuf, int too_large)
{
	const char *what = errbuf[0] ? errbuf : curl_easy_strerror(rc);

	if (too_large || rc == CURLE_FILESIZE_EXCEEDED)
		return ctx_fail(c->ctx, IMSS_ERR_PROTOCOL,
		                _("The service sent more than %zu bytes; the answer was refused."),
		                c->opts.max_response);
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CONNECT_ERROR:
		return ctx_fail_next(c->ctx, IMSS_ERR_TLS, IMSS_NEXT_GIVE_CA,
		                     _("TLS with %s failed: %s. The service's certificate is not the one trusted (the CA given, or the CA pinned on first use); nothing was sent."),
		                     c->base, what);
	case CURLE_UNSUPPORTED_PROTOCOL:
		return ctx_fail(c->ctx, IMSS_ERR_TLS, _("Refused a non-HTTPS address from %s."),
		                c->base);
	default:
		return ctx_fail(c->ctx, IMSS_ERR_NETWORK,
		                _("Cannot reach %s: %s. Check the address and your network, then run the command again: it continues where it stopped."),
		                c->base, what);
	}
}

static int
retryable(CURLcode rc, long status)
{
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_RECV_ERROR ||
	    rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_COULDNT_RESOLVE_HOST)
		return 1;
	return rc == CURLE_OK && (status == 502 || status == 503 || status == 504);
}

static imss_err
request_once(struct http_client *c, const char *method, const char *url, struct curl_slist *hdrs,
             const void *body, size_t len, struct http_response *resp, CURLcode *rc_out)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct sink sink = { resp, c->opts.max_response, 0 };
	CURLcode rc;

	http_response_clear(resp);
	setup(c, url, &sink, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	rc = curl_easy_perform(c->curl);
	*rc_out = rc;
	if (rc == CURLE_OK) {
		char *ct = NULL;

		note_resumption(c);

		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
		curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct);
		if (ct != NULL)
			snprintf(resp->content_type, sizeof(resp->content_type), "%s", ct);
		if (resp->status >= 300 && resp->status < 400) {
			/* Never followed: said as such rather than as a bad answer. */
			char *to = NULL;

			curl_easy_getinfo(c->curl, CURLINFO_REDIRECT_URL, &to);
			return ctx_fail(c->ctx, IMSS_ERR_PROTOCOL,
			                _("The service at %s redirected the request (HTTP %ld) to %s; redirects are refused."),
			                c->base, resp->status, to ? to : "?");
		}
		return IMSS_OK;
	}
	return transport_error(c, rc, errbuf, sink.too_large);
}

static struct curl_slist *
headers_for(struct http_client *c, const char *content_type)
{
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
	char line[1024];

	if (h && content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", content_type);
		h = curl_slist_append(h, line);
	}
	if (h && c->bearer) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", c->bearer);
		h = curl_slist_append(h, line);
		imss_wipe(line, sizeof(line));
	}
	return h;
}

imss_err
http_request(struct http_client *c, const char *method, const char *path, const char *content_type,
             const void *body, size_t len, int idempotent, struct http_response *resp)
{
	struct curl_slist *hdrs = NULL;
	char *url = NULL;
	CURLcode rc = CURLE_OK;
	imss_err err = IMSS_ERR_NOMEM;
	int attempt;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	url = malloc(strlen(c->base) + strlen(path) + 1);
	hdrs = headers_for(c, content_type);
	if (url == NULL || hdrs == NULL)
		goto out;
	strcpy(url, c->base);
	strcat(url, path);
	for (attempt = 0;; attempt++) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		err = request_once(c, method, url, hdrs, body, len, resp, &rc);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ctx_log(c->ctx, IMSS_LOG_DEBUG, _("http: %s %s: %ld in %.3f ms"), method, path,
		        resp->status,
		        (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		                (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
		if (!idempotent || attempt >= c->opts.retries || !retryable(rc, resp->status))
			break;
		ctx_log(c->ctx, IMSS_LOG_INFO,
		        _("the service did not answer; trying again in %d s"), 1 << attempt);
		sleep(1u << attempt);
	}
out:
	/* The session token is a secret: wipe the header copies too. */
	for (struct curl_slist *h = hdrs; h != NULL; h = h->next)
		imss_wipe(h->data, strlen(h->data));
	curl_slist_free_all(hdrs);
	free(url);
	return err;
}
