/*
 * imss-renew-service: HTTPS with libmicrohttpd (see http.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "http.h"

#define CONNECTION_TIMEOUT 30u
#define CONNECTION_LIMIT 64u
#define TLS_PRIORITIES "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1"

struct http_server {
	struct MHD_Daemon *daemon;
	struct api *api;
};

/* One request being received. */
struct conn_state {
	unsigned char *body;
	size_t len;
	size_t cap;
	int too_large;
	int answered;     /* a response is queued already */
};

static void conn_state_free(struct conn_state *cs)
{
	if (cs) {
		/* A login body holds a password. */
		if (cs->body)
			OPENSSL_cleanse(cs->body, cs->cap);
		free(cs->body);
		free(cs);
	}
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	conn_state_free(*con_cls);
	*con_cls = NULL;
}

static void body_append(struct conn_state *cs, const char *data, size_t n)
{
	unsigned char *p;
	size_t cap;

	if (cs->too_large)
		return;
	if (n > API_BODY_MAX - cs->len) {
		cs->too_large = 1;
		free(cs->body);
		cs->body = NULL;
		cs->len = cs->cap = 0;
		return;
	}
	if (cs->len + n + 1 > cs->cap) {
		cap = cs->cap ? cs->cap : 4096;
		while (cap < cs->len + n + 1)
			cap *= 2;
		p = realloc(cs->body, cap);
		if (!p) {
			cs->too_large = 1;  /* refused as too large for this service */
			return;
		}
		cs->body = p;
		cs->cap = cap;
	}
	memcpy(cs->body + cs->len, data, n);
	cs->len += n;
	cs->body[cs->len] = '\0';
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, struct api_resp *rs)
{
	struct MHD_Response *r;
	enum MHD_Result ret = MHD_NO;
	size_t i;

	r = MHD_create_response_from_buffer_with_free_callback(rs->body_len, rs->body, free);
	if (!r)
		return MHD_NO;
	rs->body = NULL;   /* the response owns it now */
	if (rs->content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	for (i = 0; i < rs->n_headers; i++)
		MHD_add_response_header(r, rs->headers[i].name, rs->headers[i].value);
	ret = MHD_queue_response(conn, rs->status, r);
	MHD_destroy_response(r);
	return ret;
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result dispatch(struct http_server *s, struct MHD_Connection *conn,
                                const char *url, const char *method, struct conn_state *cs)
{
	struct api_req rq = { 0 };
	struct api_resp rs;
	enum MHD_Result ret;

	rq.method = method;
	rq.path = url;
	rq.content_type = header(conn, MHD_HTTP_HEADER_CONTENT_TYPE);
	rq.accept = header(conn, MHD_HTTP_HEADER_ACCEPT);
	rq.authorization = header(conn, MHD_HTTP_HEADER_AUTHORIZATION);
	rq.body = cs->body;
	rq.body_len = cs->len;
	rq.body_too_large = cs->too_large;
	cs->answered = 1;
	api_handle(s->api, &rq, &rs);
	ret = send_resp(conn, &rs);
	api_resp_clear(&rs);
	return ret;
}

/* A declared length over the limit is refused before the body is read. */
static int declared_too_large(struct MHD_Connection *conn)
{
	const char *cl = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;
	unsigned long long n;

	if (!cl)
		return 0;
	n = strtoull(cl, &end, 10);
	return *end != '\0' || n > API_BODY_MAX;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	struct http_server *s = cls;
	struct conn_state *cs = *con_cls;

	(void)version;
	if (!cs) {
		cs = calloc(1, sizeof(*cs));
		if (!cs)
			return MHD_NO;
		*con_cls = cs;
		if (!declared_too_large(conn))
			return MHD_YES;
		cs->too_large = 1;
		return dispatch(s, conn, url, method, cs);
	}
	if (*upload_data_size > 0) {
		if (!cs->answered)
			body_append(cs, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (cs->answered)
		return MHD_YES;
	return dispatch(s, conn, url, method, cs);
}

int http_start(struct api *api, int listen_fd, const char *key_pem, const char *cert_pem,
               struct http_server **out, char *err, size_t errsize)
{
	struct http_server *s = calloc(1, sizeof(*s));
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_TLS |
	                 MHD_USE_ERROR_LOG;

	if (!s) {
		close(listen_fd);
		snprintf(err, errsize, "out of memory");
		return -1;
	}
	s->api = api;
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
	                             MHD_OPTION_LISTEN_SOCKET, listen_fd,
	                             MHD_OPTION_HTTPS_MEM_KEY, key_pem,
	                             MHD_OPTION_HTTPS_MEM_CERT, cert_pem,
	                             MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
	                             MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	                             MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT,
	                             MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
	                             MHD_OPTION_END);
	if (!s->daemon) {
		close(listen_fd);
		free(s);
		snprintf(err, errsize, "cannot start the HTTPS server (libmicrohttpd)");
		return -1;
	}
	*out = s;
	return 0;
}

void http_stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	free(s);
}
