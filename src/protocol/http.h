/*
 * The HTTPS client of the renewal, on libcurl: TLS always verified (the
 * pinned service CA or the system store), no redirects, connect and total
 * timeouts, a cap on response sizes, retries with backoff only for
 * requests that are safe to repeat, proxies from the environment.
 */
#ifndef IMSS_HTTP_H
#define IMSS_HTTP_H

#include <stddef.h>

#include <openssl/x509.h>

#include "imss-renew/imss-renew.h"

struct http_client;

struct http_response {
	long status;
	unsigned char *body; /* NUL-terminated for convenience */
	size_t len;
	char content_type[128];
	long retry_after; /* seconds, -1 when absent */
};

struct http_options {
	STACK_OF(X509) * trusted; /* CAs trusted for TLS (copied); NULL: the system store */
	int trusted_only;         /* 1: only those (--ca); 0: the system store too (a pin) */
	long connect_timeout;     /* seconds */
	long total_timeout;       /* seconds */
	size_t max_response;      /* bytes */
	int retries;              /* extra tries for idempotent requests */
	int allow_http;           /* 1: http:// too (SCEP, CMP: protected messages);
	                           * never for IDSE */
};

/* base_url must be https://host[:port][/prefix] (or http:// with
 * allow_http).  Everything opts points
 * to is copied: the caller may free it at once. */
imss_err http_client_new(imss_ctx *ctx, const char *base_url, const struct http_options *opts,
                         struct http_client **out);
void http_client_free(struct http_client *c);

/* Bearer token for the following requests (copied; NULL clears). */
imss_err http_client_set_bearer(struct http_client *c, const char *token);

/*
 * One request.  idempotent allows retries on connection failures and on
 * 502/503/504.  A response of any status but a redirect (3xx: an error
 * here, never followed) is success here; the caller judges the status.
 * resp is cleared with http_response_clear().
 */
imss_err http_request(struct http_client *c, const char *method, const char *path,
                      const char *content_type, const void *body, size_t len, int idempotent,
                      struct http_response *resp);
void http_response_clear(struct http_response *resp);

/* 1 when the last connection c made resumed a TLS session of an earlier
 * client of this process that trusted the same CAs (http.c). */
int http_client_tls_resumed(const struct http_client *c);

#endif
