/*
 * imss-renew-service: HTTPS with GNU libmicrohttpd (GnuTLS).  One internal
 * polling thread serves every connection, so the API and its database
 * connection are used by one thread at a time.  Bodies over API_BODY_MAX
 * are refused (413) without being kept.  At most HTTP_CONNECTION_LIMIT
 * connections, api->cfg.per_ip_connections from one address; a request
 * must arrive whole within api->cfg.request_deadline seconds of its start.
 */
#ifndef SVC_HTTP_H
#define SVC_HTTP_H

#include <stddef.h>

#include "api.h"

#define HTTP_CONNECTION_LIMIT 64u

struct http_server;

/*
 * Serve api on listen_fd (bound and listening; the server owns it from
 * then on, also on failure) with the PEM key and certificate.  0, or -1
 * with a message in err.
 */
int http_start(struct api *api, int listen_fd, const char *key_pem, const char *cert_pem,
               struct http_server **out, char *err, size_t errsize);

/* Stop serving: requests in progress finish first. */
void http_stop(struct http_server *s);

#endif /* SVC_HTTP_H */
