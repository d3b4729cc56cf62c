/*
 * The SCEP client (src/protocol/scep.c) driven alone against a real
 * server, for the tests of tests/protocol/: renew the current credential
 * (a .cer + .key, or a token key) for a new key's request, and write the
 * certificate issued.
 *
 *   scep-probe URL CA.pem REQUEST.der OUT.der --files CERT KEY PASSWORD-SOURCE
 *   scep-probe URL CA.pem REQUEST.der OUT.der --token MODULE TOKEN-URI KEY-URI PIN-SOURCE
 *
 * Exit 0 issued, 1 refused (the library's message on stderr), 2 usage.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "imss-renew/imss-renew.h"
#include "scep.h"

static X509_REQ *
read_request(const char *path)
{
	FILE *f = fopen(path, "rb");
	X509_REQ *req = f ? d2i_X509_REQ_fp(f, NULL) : NULL;

	if (f)
		fclose(f);
	return req;
}

static imss_err
open_current(imss_ctx *ctx, char **argv, int argc, imss_token **tok, imss_credential **cred)
{
	imss_pin_source *src = NULL;
	imss_err err;

	if (argc == 9 && strcmp(argv[5], "--files") == 0) {
		err = imss_pin_source_parse(argv[8], &src);
		if (err == IMSS_OK)
			err = imss_credential_from_files(ctx, argv[6], argv[7], src, cred);
	} else {
		err = imss_pin_source_parse(argv[9], &src);
		if (err == IMSS_OK)
			err = imss_token_open(ctx, argv[7], 1, tok);
		if (err == IMSS_OK)
			err = imss_token_login(*tok, src, 0);
		if (err == IMSS_OK)
			err = imss_credential_from_token(*tok, argv[8], cred);
	}
	imss_pin_source_free(src);
	return err;
}

int
main(int argc, char **argv)
{
	STACK_OF(X509) *ca = NULL;
	struct scep_client *c = NULL;
	struct http_client *http = NULL;
	imss_credential *cred = NULL;
	char txid[SCEP_TRANSACTION_ID_MAX];
	imss_token *tok = NULL;
	X509 *issued = NULL;
	X509_REQ *req = NULL;
	imss_ctx *ctx = NULL;
	imss_err err;
	FILE *f;

	if (!(argc == 9 && strcmp(argv[5], "--files") == 0) &&
	    !(argc == 10 && strcmp(argv[5], "--token") == 0)) {
		fprintf(stderr, "usage: see the comment at the top of scep-probe.c\n");
		return 2;
	}
	err = imss_ctx_new(argc == 10 ? argv[6] : NULL, &ctx);
	if (err == IMSS_OK)
		err = imss_certs_load(ctx, argv[2], &ca);
	if (err == IMSS_OK && (req = read_request(argv[3])) == NULL)
		err = IMSS_ERR_FORMAT;
	if (err == IMSS_OK)
		err = open_current(ctx, argv, argc, &tok, &cred);
	if (err == IMSS_OK) {
		struct scep_signer signer = { imss_credential_get_certificate(cred),
			                      imss_credential_get_key(cred) };

		err = scep_check_signer(ctx, &signer);
		if (err == IMSS_OK)
			err = scep_http_new(ctx, argv[1], ca, &http);
		if (err == IMSS_OK)
			err = scep_client_new(ctx, http, ca, &c);
		if (err == IMSS_OK)
			err = scep_transaction_id(ctx, req, txid);
		if (err == IMSS_OK)
			err = scep_enroll(c, &signer, req, 1, txid, time(NULL) + 30, &issued, NULL);
	}
	if (err == IMSS_OK) {
		f = fopen(argv[4], "wb");
		if (f == NULL || i2d_X509_fp(f, issued) != 1)
			err = IMSS_ERR_IO;
		if (f)
			fclose(f);
	}
	if (err != IMSS_OK)
		fprintf(stderr, "scep-probe: %s: %s\n", imss_strerror(err),
		        ctx ? imss_ctx_detail(ctx) : "");
	X509_free(issued);
	X509_REQ_free(req);
	scep_client_free(c);
	http_client_free(http);
	imss_credential_free(cred);
	imss_token_close(tok);
	sk_X509_pop_free(ca, X509_free);
	imss_ctx_free(ctx);
	return err == IMSS_OK ? 0 : 1;
}
