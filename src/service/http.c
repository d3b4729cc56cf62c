/*
 * imss-renew-service: HTTPS with libmicrohttpd (see http.h).
 *
 * Connections are limited in number, per client address, in idle time
 * (CONNECTION_TIMEOUT, reset by any byte) and in total time: a watchdog
 * thread shuts down the socket of a connection whose request (from its
 * first byte, or from the end of the previous request on that connection)
 * is not complete by the deadline, so that a client trickling a byte at a
 * time cannot hold a connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "http.h"

#define CONNECTION_TIMEOUT 30u
#define WATCHDOG_PERIOD_MS 200
/*
 * Connections are served by a pool of threads: one client's TLS, its
 * request's reading and answer, and a login's password hash do not wait
 * for another's request; the database and the CA are used by one request
 * at a time (api->lock).
 */
#define HTTP_THREADS 4u
/*
 * TLS 1.3 and 1.2 only; in 1.2 only ECDHE key exchange with AEAD ciphers
 * (no CBC, so no SHA-1 or SHA-256 MACs), and no SHA-1 (nor SHA-224)
 * signatures in the handshake.
 */
#define TLS_PRIORITIES                                                             \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"                               \
	":-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD" \
	":-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA"                                         \
	":-SIGN-RSA-SHA1:-SIGN-ECDSA-SHA1:-SIGN-DSA-SHA1"                          \
	":-SIGN-RSA-SHA224:-SIGN-ECDSA-SHA224:-SIGN-DSA-SHA224"

/* A connection under the watchdog (MHD's socket context). */
struct conn_watch {
	struct conn_watch *prev, *next;
	int fd;
	long long deadline_ms; /* CLOCK_MONOTONIC */
	int cut;               /* shut down by the watchdog */
	char addr[INET_ADDRSTRLEN];
};

struct http_server {
	struct MHD_Daemon *daemon;
	struct api *api;
	pthread_mutex_t lock; /* guards the fields below */
	pthread_cond_t wake;
	struct conn_watch *watched;
	int stopping;
	pthread_t watchdog;
	int watchdog_started;
	gnutls_datum_t ticket_key; /* TLS 1.3 session tickets; none when empty */
	pthread_mutex_t api_lock;  /* api->lock while the threads serve */
};

static long long
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long
deadline_from_now(const struct http_server *s)
{
	return monotonic_ms() + (long long)s->api->cfg.request_deadline * 1000;
}

/*
 * Session tickets, as a production HTTPS server sends them: a client that
 * connects again (the next employer of a fleet run) resumes its TLS
 * session instead of a full handshake.  libmicrohttpd turns them off; its
 * session exists, before the handshake, when the connection starts.
 */
static void
enable_tickets(const struct http_server *s, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *tls =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);

	if (s->ticket_key.data != NULL && tls != NULL && tls->tls_session != NULL)
		gnutls_session_ticket_enable_server((gnutls_session_t)tls->tls_session,
		                                    &s->ticket_key);
}

/* MHD_OPTION_NOTIFY_CONNECTION: watch a connection from its start. */
static void
connection_event(void *cls, struct MHD_Connection *conn, void **socket_context,
                 enum MHD_ConnectionNotificationCode code)
{
	struct http_server *s = cls;
	struct conn_watch *w = *socket_context;
	const union MHD_ConnectionInfo *fd, *peer;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		enable_tickets(s, conn);
		fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		peer = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		w = calloc(1, sizeof(*w));
		if (!w || !fd) {
			free(w);
			return;
		}
		w->fd = fd->connect_fd;
		w->deadline_ms = deadline_from_now(s);
		if (!peer || !peer->client_addr || peer->client_addr->sa_family != AF_INET ||
		    !inet_ntop(AF_INET, &((const struct sockaddr_in *)peer->client_addr)->sin_addr,
		               w->addr, sizeof(w->addr)))
			snprintf(w->addr, sizeof(w->addr), "?");
		pthread_mutex_lock(&s->lock);
		w->next = s->watched;
		if (s->watched)
			s->watched->prev = w;
		s->watched = w;
		pthread_mutex_unlock(&s->lock);
		*socket_context = w;
		return;
	}
	if (!w)
		return;
	/* Before MHD closes the socket: the watchdog no longer sees it. */
	pthread_mutex_lock(&s->lock);
	if (w->prev)
		w->prev->next = w->next;
	else
		s->watched = w->next;
	if (w->next)
		w->next->prev = w->prev;
	pthread_mutex_unlock(&s->lock);
	free(w);
	*socket_context = NULL;
}

/* The next request on a kept-alive connection has a deadline of its own. */
static void
restart_deadline(struct http_server *s, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_watch *w = info ? info->socket_context : NULL;

	if (!w)
		return;
	pthread_mutex_lock(&s->lock);
	w->deadline_ms = deadline_from_now(s);
	pthread_mutex_unlock(&s->lock);
}

/* Shut down the connections past their deadline; MHD then closes them. */
static void
cut_late(struct http_server *s, long long now)
{
	struct conn_watch *w;

	for (w = s->watched; w; w = w->next) {
		if (w->cut || now < w->deadline_ms)
			continue;
		w->cut = 1;
		shutdown(w->fd, SHUT_RDWR);
		fprintf(stderr,
		        "imss-renew-service: connection from %s closed: request not"
		        " complete within %u s\n",
		        w->addr, s->api->cfg.request_deadline);
	}
}

static void *
watchdog(void *arg)
{
	struct http_server *s = arg;
	struct timespec until;
	long long next;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		cut_late(s, monotonic_ms());
		next = monotonic_ms() + WATCHDOG_PERIOD_MS;
		until.tv_sec = (time_t)(next / 1000);
		until.tv_nsec = (long)(next % 1000) * 1000000;
		pthread_cond_timedwait(&s->wake, &s->lock, &until);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* One request being received. */
struct conn_state {
	unsigned char *body;
	size_t len;
	size_t cap;
	int too_large;
	int answered; /* a response is queued already */
};

static void
conn_state_free(struct conn_state *cs)
{
	if (cs) {
		/* A login body holds a password. */
		if (cs->body)
			OPENSSL_cleanse(cs->body, cs->cap);
		free(cs->body);
		free(cs);
	}
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)toe;
	restart_deadline(cls, conn);
	conn_state_free(*con_cls);
	*con_cls = NULL;
}

static void
body_append(struct conn_state *cs, const char *data, size_t n)
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
			cs->too_large = 1; /* refused as too large for this service */
			return;
		}
		cs->body = p;
		cs->cap = cap;
	}
	memcpy(cs->body + cs->len, data, n);
	cs->len += n;
	cs->body[cs->len] = '\0';
}

static enum MHD_Result
send_resp(struct MHD_Connection *conn, struct api_resp *rs)
{
	struct MHD_Response *r;
	enum MHD_Result ret = MHD_NO;
	size_t i;

	r = MHD_create_response_from_buffer_with_free_callback(rs->body_len, rs->body, free);
	if (!r)
		return MHD_NO;
	rs->body = NULL; /* the response owns it now */
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

static const char *
header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result
dispatch(struct http_server *s, struct MHD_Connection *conn, const char *url, const char *method,
         struct conn_state *cs)
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
static int
declared_too_large(struct MHD_Connection *conn)
{
	const char *cl = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;
	unsigned long long n;

	if (!cl)
		return 0;
	n = strtoull(cl, &end, 10);
	return *end != '\0' || n > API_BODY_MAX;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
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

static int
sync_init(struct http_server *s)
{
	pthread_condattr_t attr;
	int rc = -1;

	if (pthread_condattr_init(&attr) != 0)
		return -1;
	if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&s->wake, &attr) == 0) {
		if (pthread_mutex_init(&s->lock, NULL) != 0)
			pthread_cond_destroy(&s->wake);
		else if (pthread_mutex_init(&s->api_lock, NULL) != 0) {
			pthread_mutex_destroy(&s->lock);
			pthread_cond_destroy(&s->wake);
		} else
			rc = 0;
	}
	pthread_condattr_destroy(&attr);
	return rc;
}

static struct MHD_Daemon *
daemon_start(struct http_server *s, int listen_fd, const char *key_pem, const char *cert_pem)
{
	unsigned flags =
	        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_TLS | MHD_USE_ERROR_LOG;

	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET,
	                        listen_fd, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS,
	                        MHD_OPTION_HTTPS_MEM_KEY, key_pem, MHD_OPTION_HTTPS_MEM_CERT,
	                        cert_pem, MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
	                        MHD_OPTION_NOTIFY_COMPLETED, completed, s,
	                        MHD_OPTION_NOTIFY_CONNECTION, connection_event, s,
	                        MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT,
	                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTION_LIMIT,
	                        MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->api->cfg.per_ip_connections,
	                        MHD_OPTION_END);
}

static void
ticket_key_free(struct http_server *s)
{
	if (s->ticket_key.data == NULL)
		return;
	gnutls_memset(s->ticket_key.data, 0, s->ticket_key.size);
	gnutls_free(s->ticket_key.data);
	s->ticket_key.data = NULL;
}

int
http_start(struct api *api, int listen_fd, const char *key_pem, const char *cert_pem,
           struct http_server **out, char *err, size_t errsize)
{
	struct http_server *s = calloc(1, sizeof(*s));

	if (!s || sync_init(s) != 0) {
		close(listen_fd);
		free(s);
		snprintf(err, errsize, "out of memory");
		return -1;
	}
	s->api = api;
	api->lock = &s->api_lock;
	if (gnutls_session_ticket_key_generate(&s->ticket_key) != GNUTLS_E_SUCCESS)
		s->ticket_key.data = NULL; /* full handshakes only */
	s->daemon = daemon_start(s, listen_fd, key_pem, cert_pem);
	if (!s->daemon) {
		close(listen_fd);
		snprintf(err, errsize, "cannot start the HTTPS server (libmicrohttpd)");
		goto fail;
	}
	if (pthread_create(&s->watchdog, NULL, watchdog, s) != 0) {
		snprintf(err, errsize, "cannot start the connection watchdog: %s", strerror(errno));
		MHD_stop_daemon(s->daemon);
		goto fail;
	}
	s->watchdog_started = 1;
	*out = s;
	return 0;
fail:
	api->lock = NULL;
	ticket_key_free(s);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->api_lock);
	pthread_cond_destroy(&s->wake);
	free(s);
	return -1;
}

void
http_stop(struct http_server *s)
{
	if (!s)
		return;
	if (s->watchdog_started) {
		pthread_mutex_lock(&s->lock);
		s->stopping = 1;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->watchdog, NULL);
	}
	MHD_stop_daemon(s->daemon);
	s->api->lock = NULL;
	ticket_key_free(s);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->api_lock);
	pthread_cond_destroy(&s->wake);
	free(s);
}
