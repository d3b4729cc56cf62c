/*
 * The HTTPS client (src/protocol/http.c) alone, for tls-resume.sh: for each
 * CA file in turn, a new client of this one process that trusts that CA
 * alone (as --ca) makes one request to URL, and a line says how it went:
 *
 *   tls-probe URL CA.pem...
 *   CA.pem: full          a full TLS handshake
 *   CA.pem: resumed       the session of an earlier client resumed
 *   CA.pem: refused       the TLS connection refused (IMSS_ERR_TLS)
 *   CA.pem: error         anything else (the library's message on stderr)
 *
 * Exit 0 when every line was written, 2 usage.
 */
#include <stdio.h>

#include "http.h"
#include "imss-renew/imss-renew.h"

static const char *
probe(imss_ctx *ctx, const char *url, const char *ca_file)
{
	struct http_options opts = { NULL, 1, 5, 10, 1u << 20, 0, 0 };
	struct http_response resp = { 0 };
	struct http_client *c = NULL;
	imss_err err = imss_certs_load(ctx, ca_file, &opts.trusted);
	const char *how;

	if (err == IMSS_OK)
		err = http_client_new(ctx, url, &opts, &c);
	if (err == IMSS_OK)
		err = http_request(c, "GET", "/", NULL, NULL, 0, 0, &resp);
	if (err == IMSS_OK)
		how = http_client_tls_resumed(c) ? "resumed" : "full";
	else
		how = err == IMSS_ERR_TLS ? "refused" : "error";
	if (err != IMSS_OK && err != IMSS_ERR_TLS)
		fprintf(stderr, "tls-probe: %s: %s\n", imss_strerror(err), imss_ctx_detail(ctx));
	http_response_clear(&resp);
	http_client_free(c);
	sk_X509_pop_free(opts.trusted, X509_free);
	return how;
}

int
main(int argc, char **argv)
{
	imss_ctx *ctx = NULL;
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: tls-probe URL CA.pem...\n");
		return 2;
	}
	if (imss_ctx_new(NULL, &ctx) != IMSS_OK)
		return 1;
	for (i = 2; i < argc; i++)
		printf("%s: %s\n", argv[i], probe(ctx, argv[1], argv[i]));
	imss_ctx_free(ctx);
	return 0;
}
