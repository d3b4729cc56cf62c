/*
 * Standard enrollment protocols (SCEP, CMP): what the engine gives a
 * connector and what it gets back.  One connector per protocol
 * (src/protocol/scep.c, cmp.c), beside the IDSE client; the engine keeps
 * the journal, checks the certificate in full and stores it: a connector
 * only talks to the CA.
 */
#ifndef IMSS_ENROLL_H
#define IMSS_ENROLL_H

#include <openssl/x509.h>

#include "http.h"

struct enroll_request {
	const char *server;       /* the CA's URL, http:// or https:// */
	struct http_client *http; /* the transfer to server (TLS trusts ca alone) */
	OSSL_LIB_CTX *libctx;     /* where the token keys live (imss_ctx_libctx) */
	X509 *current_cert;       /* the certificate being renewed */
	EVP_PKEY *current_key;    /* its key: a file key, or a token key (provider) */
	EVP_PKEY *new_key;        /* the new token key (provider) */
	X509_REQ *request;        /* PKCS#10 built and signed through the token */
	STACK_OF(X509) * ca;      /* --ca: what the certificate chains to, and
	                             * (CMP) the trust anchors of the server's protection */
	long timeout;             /* seconds the whole enrollment may take, polling
	                             * included */
	const char *transaction;  /* hex transaction ID, journalled before the
	                             * first message: the same on a resumed run */
	int resumed;              /* 1: a message of this transaction may have
	                             * reached the CA already (ask, do not resend
	                             * when the protocol can) */
	/* The engine's full check of the certificate received, called before
	 * the connector confirms it to the CA (CMP certConf): IMSS_OK to
	 * accept; any error (its message in the context) rejects it, and the
	 * connector returns that error. */
	imss_err (*check)(void *user, X509 *cert);
	void *check_user;
};

struct enroll_result {
	X509 *cert;  /* issued, not yet checked (the engine checks) */
	int pending; /* 1: not issued within timeout; ask again later */
};

/* One enrollment: *out filled on success (a certificate, or pending). */
typedef imss_err (*enroll_fn)(imss_ctx *ctx, const struct enroll_request *req,
                              struct enroll_result *out);

/* The connector of a standard protocol; NULL for IDSE (idse.c). */
enroll_fn enroll_connector(imss_protocol p);

void enroll_result_clear(struct enroll_result *res);

/* cmp.c: key update (KUR), RFC 4210 / RFC 9483. */
imss_err enroll_cmp(imss_ctx *ctx, const struct enroll_request *req, struct enroll_result *out);

/* scep.c: RenewalReq (or PKCSReq), CertPoll while PENDING, RFC 8894. */
imss_err enroll_scep(imss_ctx *ctx, const struct enroll_request *req, struct enroll_result *out);

#endif
