/*
 * imss-renew-service serve: the renewal protocol over HTTPS on a loopback
 * address.  Requests whose issuance was delayed and fell due while the
 * service was down are issued at start; the others when polled.  SIGTERM
 * and SIGINT stop it cleanly.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "api.h"
#include "cli.h"
#include "db.h"
#include "http.h"
#include "requests.h"
#include "util.h"

#define COMMAND "serve"
#define PEM_MAX (64 * 1024)

struct serve_args {
	const char *dir;
	const char *listen;
	struct api_config cfg;
};

static void
usage(void)
{
	printf("Usage: %s %s --dir DIR --listen 127.0.0.1:PORT [--issue-delay SECONDS]\n"
	       "         [--validity-days N] [--session-idle SECONDS] [--challenge-ttl SECONDS]\n"
	       "         [--expired-login-days N] [--per-ip-connections N] [--request-deadline SECONDS]\n"
	       "Serve the renewal protocol (docs/protocol.md) over HTTPS.  Prints\n"
	       "'listening on https://127.0.0.1:PORT' when ready; PORT 0 picks a free\n"
	       "port.  Stops on SIGTERM or SIGINT.  One line per request on stderr.\n"
	       "\nOptions:\n"
	       "  --dir DIR                the service's directory (see init)\n"
	       "  --listen ADDR:PORT       an IPv4 address (127.0.0.1; localhost is\n"
	       "                           127.0.0.1) and port\n"
	       "  --issue-delay SECONDS    issue certificates that long after the request\n"
	       "                           (202 and polling); default 0: at once (201)\n"
	       "  --validity-days N        validity of issued certificates (default 182)\n"
	       "  --session-idle SECONDS   sessions end after that long unused (default 900)\n"
	       "  --challenge-ttl SECONDS  lifetime of a login challenge (default 120)\n"
	       "  --expired-login-days N   a certificate expired more than N days ago\n"
	       "                           cannot log in (default 365; 0: none expired)\n"
	       "  --per-ip-connections N   connections at once from one address (default 8,\n"
	       "                           at most %u)\n"
	       "  --request-deadline SECONDS  a request's headers and body must arrive\n"
	       "                           within that time of its start (default 60)\n"
	       "  -h, --help               print this help and exit\n",
	       SVC_NAME, COMMAND, HTTP_CONNECTION_LIMIT);
}

static const struct cli_option options[] = {
	CLI_TEXT("dir", struct serve_args, dir),
	CLI_TEXT("listen", struct serve_args, listen),
	CLI_UINT("issue-delay", struct serve_args, cfg.issue_delay, 0, 86400 * 30),
	CLI_UINT("validity-days", struct serve_args, cfg.validity_days, 1, 3650),
	CLI_UINT("session-idle", struct serve_args, cfg.session_idle, 1, 86400),
	CLI_UINT("challenge-ttl", struct serve_args, cfg.challenge_ttl, 1, 3600),
	CLI_UINT("expired-login-days", struct serve_args, cfg.expired_login_days, 0, 3650),
	CLI_UINT("per-ip-connections", struct serve_args, cfg.per_ip_connections, 1,
	         HTTP_CONNECTION_LIMIT),
	CLI_UINT("request-deadline", struct serve_args, cfg.request_deadline, 1, 3600),
	CLI_END,
};

static int
check_args(const void *args)
{
	const struct serve_args *a = args;

	if (!a->dir || !a->listen)
		return cli_usage_error(COMMAND, "--dir and --listen are required");
	return CLI_OK;
}

/* "ADDR:PORT" into sin.  0 or -1. */
static int
parse_listen(const char *text, struct sockaddr_in *sin)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	unsigned port;

	if (!colon || (size_t)(colon - text) >= sizeof(host) || colon == text ||
	    cli_uint(colon + 1, 0, 65535, &port) != 0)
		return -1;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((unsigned short)port);
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

/* A listening socket; *port gets the port bound. */
static int
open_listener(const struct sockaddr_in *sin, unsigned *port)
{
	struct sockaddr_in bound;
	socklen_t len = sizeof(bound);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (const struct sockaddr *)sin, sizeof(*sin)) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &len) != 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	*port = ntohs(bound.sin_port);
	return fd;
}

/* Requests that fell due while the service was down. */
static int
issue_due(struct api *api)
{
	unsigned n = 0, total = 0;
	int rc;

	do {
		rc = db_begin(api->db);
		if (rc == 0)
			rc = requests_issue_due(api->db, &api->ca, time(NULL),
			                        api->cfg.validity_days, &n);
		if (rc == 0)
			rc = db_commit(api->db);
		if (rc != 0) {
			db_rollback(api->db);
			cli_error("cannot issue the requests that are due: %s",
			          sqlite3_errmsg(api->db));
			return -1;
		}
		total += n;
	} while (n > 0 && total < 100000);
	if (total)
		fprintf(stderr, "%s: issued %u delayed request%s due while stopped\n", SVC_NAME,
		        total, total == 1 ? "" : "s");
	return 0;
}

static int
read_pem(const char *dir, const char *name, char **out)
{
	char path[PATH_MAX];
	unsigned char *data;
	size_t len;

	if (svc_path(path, sizeof(path), dir, name) != 0 ||
	    svc_read_file(path, PEM_MAX, &data, &len) != 0) {
		cli_error("cannot read %s/%s: %s", dir, name, strerror(errno));
		return -1;
	}
	*out = (char *)data;
	return 0;
}

static void
free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* Serve until SIGTERM or SIGINT. */
static int
run(struct api *api, const struct serve_args *a, const struct sockaddr_in *sin)
{
	struct http_server *server = NULL;
	char *key = NULL, *cert = NULL, err[256];
	char addr[INET_ADDRSTRLEN];
	unsigned port = 0;
	sigset_t set;
	int fd, sig = 0, rc = CLI_FAILURE;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* the server's threads inherit it */
	signal(SIGPIPE, SIG_IGN);
	if (read_pem(a->dir, SVC_TLS_KEY, &key) != 0 || read_pem(a->dir, SVC_TLS_CERT, &cert) != 0)
		goto out;
	fd = open_listener(sin, &port);
	if (fd < 0) {
		cli_error("cannot listen on %s: %s", a->listen, strerror(errno));
		goto out;
	}
	if (http_start(api, fd, key, cert, &server, err, sizeof(err)) != 0) {
		cli_error("%s", err);
		goto out;
	}
	inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
	printf("listening on https://%s:%u\n", addr, port);
	fflush(stdout);
	while (sigwait(&set, &sig) != 0)
		;
	fprintf(stderr, "%s: stopping (signal %d)\n", SVC_NAME, sig);
	http_stop(server);
	rc = CLI_OK;
out:
	free_secret(key);
	free(cert);
	return rc;
}

int
cmd_serve(int argc, char **argv)
{
	struct serve_args a = { .cfg = { .issue_delay = 0,
		                         .validity_days = 182,
		                         .session_idle = 900,
		                         .challenge_ttl = 120,
		                         .expired_login_days = 365,
		                         .per_ip_connections = 8,
		                         .request_deadline = 60 } };
	struct api api = { 0 };
	struct sockaddr_in sin;
	int done = 0, rc;

	rc = cli_parse(COMMAND, options, usage, check_args, argc, argv, &a, &done);
	if (rc != CLI_OK || done)
		return rc;
	if (parse_listen(a.listen, &sin) != 0)
		return cli_usage_error(COMMAND,
		                       "--listen must be IPV4ADDRESS:PORT, e.g. 127.0.0.1:8443");
	api.cfg = a.cfg;
	rc = cli_open(a.dir, &api.db, &api.ca);
	if (rc != CLI_OK)
		return rc;
	rc = issue_due(&api) == 0 ? run(&api, &a, &sin) : CLI_FAILURE;
	ca_clear(&api.ca);
	db_close(api.db);
	return rc;
}
