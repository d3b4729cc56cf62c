/*
 * SCEP client (RFC 8894): GetCACaps, GetCACert, PKCSReq / RenewalReq and
 * CertPoll, on OpenSSL's CMS API (SignedData around an EnvelopedData,
 * the SCEP attributes as signed attributes).  The request is signed by
 * the caller's credential (a file key or a token key through the
 * provider: any EVP_PKEY); the CA encrypts its answer to that credential's
 * certificate, so the same key decrypts it (RSA only).
 *
 * Trust: the CA certificates a server publishes are believed only when
 * they chain to the CA the caller trusts (--ca); a CertRep is believed
 * only when its signature verifies and its signer chains to that CA, its
 * transactionID is ours and its recipientNonce is our senderNonce.
 */
#ifndef IMSS_SCEP_H
#define IMSS_SCEP_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "http.h"
#include "imss-renew/imss-renew.h"

/* GetCACaps, as bits. */
enum {
	SCEP_CAP_RENEWAL = 1u << 0,
	SCEP_CAP_AES = 1u << 1,
	SCEP_CAP_SHA256 = 1u << 2,
	SCEP_CAP_POST = 1u << 3,
	SCEP_CAP_DES3 = 1u << 4,
	SCEP_CAP_STANDARD = 1u << 5, /* SCEPStandard: AES, SHA-256, POST */
};

/* messageType (RFC 8894 3.2.1.2). */
enum scep_message_type {
	SCEP_CERT_REP = 3,
	SCEP_RENEWAL_REQ = 17,
	SCEP_PKCS_REQ = 19,
	SCEP_CERT_POLL = 20,
};

/* pkiStatus. */
enum scep_status {
	SCEP_SUCCESS = 0,
	SCEP_FAILURE = 2,
	SCEP_PENDING = 3,
};

/* transactionID: the hex SHA-256 of the request's public key (64 chars). */
#define SCEP_TRANSACTION_ID_MAX 65
#define SCEP_NONCE_LEN 16

struct scep_client;

/* The signer of a request: the current credential (renewal) or the new
 * key with a self-signed certificate (first enrollment).  Not owned. */
struct scep_signer {
	X509 *cert;
	EVP_PKEY *key;
};

/* What a CertRep said, once believed. */
struct scep_reply {
	enum scep_status status;
	int fail_info;           /* FAILURE: 0-4, -1 when absent */
	unsigned char *envelope; /* SUCCESS: the pkcsPKIEnvelope (DER) */
	size_t envelope_len;
};

/* What a CertRep must answer. */
struct scep_expect {
	const char *transaction_id;
	const unsigned char *sender_nonce; /* SCEP_NONCE_LEN bytes */
};

/* An HTTP client for url: http[s]://host[:port]/path (http is allowed:
 * SCEP protects its messages; TLS trusts ca alone). */
imss_err scep_http_new(imss_ctx *ctx, const char *url, STACK_OF(X509) * ca, struct http_client **out);

/* The client over http (the caller's, which must outlive it).  ca: the CA
 * the caller trusts, never NULL.  Asks the server's capabilities and CA
 * certificates and checks them against ca. */
imss_err scep_client_new(imss_ctx *ctx, struct http_client *http, STACK_OF(X509) * ca,
                         struct scep_client **out);
void scep_client_free(struct scep_client *c);
unsigned scep_client_caps(const struct scep_client *c);

/* The signer can decrypt the CA's answer (an RSA key), said before
 * anything is sent. */
imss_err scep_check_signer(imss_ctx *ctx, const struct scep_signer *signer);

/* The transactionID of a request: hex SHA-256 of its SubjectPublicKeyInfo. */
imss_err scep_transaction_id(imss_ctx *ctx, X509_REQ *req, char out[SCEP_TRANSACTION_ID_MAX]);

/*
 * Send the request (RenewalReq when renewal is asked and the CA advertises
 * Renewal, else PKCSReq; a challengePassword must already be in req for a
 * PKCSReq that needs one) and, while the CA answers PENDING, poll it
 * (CertPoll) until deadline (0: no polling: IMSS_ERR_PENDING at once).
 * On success *issued is the certificate for req's key (the rest of what
 * the CA sent, e.g. its chain, in *extra when extra is not NULL).
 */
imss_err scep_enroll(struct scep_client *c, const struct scep_signer *signer, X509_REQ *req,
                     int renewal, const char *transaction_id, time_t deadline, X509 **issued,
                     STACK_OF(X509) * *extra);

/* Only poll (resume of a PENDING request with the recorded transactionID). */
imss_err scep_poll(struct scep_client *c, const struct scep_signer *signer, X509_REQ *req,
                   const char *transaction_id, time_t deadline, X509 **issued,
                   STACK_OF(X509) * *extra);

/*
 * The CertRep parser (also the fuzz target): parse der, check its shape
 * and attributes against expect, verify its signature (the signer one of
 * published, the server's GetCACert certificates, chaining to trusted).  Nothing is returned unless
 * all of it holds.  reply is cleared with scep_reply_clear().
 */
imss_err scep_parse_cert_rep(imss_ctx *ctx, const unsigned char *der, size_t len,
                             const struct scep_expect *expect, X509_STORE *trusted,
                             STACK_OF(X509) * published, struct scep_reply *reply);
void scep_reply_clear(struct scep_reply *reply);

/* The certificate for req's key out of a SUCCESS envelope, decrypted with
 * the signer's key. */
imss_err scep_open_envelope(imss_ctx *ctx, const struct scep_reply *reply,
                            const struct scep_signer *signer, X509_REQ *req, X509 **issued,
                            STACK_OF(X509) * *extra);

/* failInfo in words. */
const char *scep_fail_info_text(int fail_info);

#endif
