/*
 * The renewal service's protocol (docs/protocol.md), one function per
 * message.  Each returns IMSS_OK, or IMSS_ERR_SERVICE with the service's
 * stable error code and message in the context detail, or a transport or
 * protocol error.
 *
 * Nothing from the service is believed unchecked: the idse_parse_*
 * functions (pure, no HTTP: the fuzz targets call them) check every answer
 * before any of it is kept.  Identifiers (request id, serial, session
 * token, digests) are checked for charset and length, company fields are
 * valid UTF-8 without control characters and of sane length, else the
 * answer is refused as IMSS_ERR_PROTOCOL naming the field; the service's
 * free-text error message is kept, escaped and capped.
 */
#ifndef IMSS_IDSE_H
#define IMSS_IDSE_H

#include <openssl/x509.h>

#include "http.h"
#include "imss-renew/imss-renew.h"

struct idse_company {
	char *registro_patronal;
	char *razon_social;
	char *rfc;
	char *address;
	char *email;
};

struct idse_letter {
	long id;
	unsigned char *pdf;
	size_t len;
	char sha256[65]; /* hex, checked against the bytes */
	int signed_already;
};

/* Issued: cert set.  Pending: request_id and retry_after set. */
struct idse_result {
	char request_id[80];
	long retry_after;
	X509 *cert;
};

struct idse_session {
	int renewal_required;
	char registro_patronal[64];
	/* "renewed": the renewal request the certificate signed already
	 * (pending or issued), else "" */
	char renewal_request[80];
};

/* A token of the service's session (Bearer): at most this long. */
#define IDSE_TOKEN_MAX 256

/*
 * The parsers: STATUS and BODY (LEN bytes, not necessarily NUL-terminated)
 * of an answer.  A status that is not the message's success is parsed as
 * an error description (idse_parse_error).  out is filled only on success.
 */
/* Any status: the error's code and message (escaped) in the detail;
 * IMSS_ERR_SERVICE, or IMSS_ERR_PROTOCOL when the body describes none. */
imss_err idse_parse_error(imss_ctx *ctx, long status, const char *body, size_t len);
imss_err idse_parse_ca(imss_ctx *ctx, long status, const char *body, size_t len, X509 **out);
/* challenge: 64 lower-case hex and a NUL (size >= 65). */
imss_err idse_parse_challenge(imss_ctx *ctx, long status, const char *body, size_t len,
                              char *challenge, size_t size);
/* token: the session's Bearer token (size > IDSE_TOKEN_MAX); wipe it. */
imss_err idse_parse_session(imss_ctx *ctx, long status, const char *body, size_t len,
                            struct idse_session *out, char *token, size_t size);
imss_err idse_parse_company(imss_ctx *ctx, long status, const char *body, size_t len,
                            struct idse_company *out);
imss_err idse_parse_letter(imss_ctx *ctx, long status, const char *body, size_t len,
                           struct idse_letter *out);
/* 201 (issued, with request_id), 202 (pending), 200 (a certificate by
 * serial); retry_after: the header's seconds, -1 when absent. */
imss_err idse_parse_result(imss_ctx *ctx, long status, const char *body, size_t len,
                           long retry_after, struct idse_result *out);

/* text (len bytes) as it may be printed: control characters and invalid
 * UTF-8 as \xNN, cut to fit size with "..." (size >= 8). */
void idse_safe_text(const char *text, size_t len, char *out, size_t size);

imss_err idse_get_ca(imss_ctx *ctx, struct http_client *c, X509 **out);
imss_err idse_login(imss_ctx *ctx, struct http_client *c, const imss_credential *cred,
                    const char *user, imss_pin_source *password, struct idse_session *out);
imss_err idse_get_company(imss_ctx *ctx, struct http_client *c, struct idse_company *out);
imss_err idse_set_email(imss_ctx *ctx, struct http_client *c, const char *email,
                        struct idse_company *out);
imss_err idse_get_letter(imss_ctx *ctx, struct http_client *c, struct idse_letter *out);
/* bound_request: the SHA-256 (hex) of the renewal request the service
 * found bound by the signature (docs/protocol.md), "" when none. */
imss_err idse_sign_letter(imss_ctx *ctx, struct http_client *c, const unsigned char *cms,
                          size_t len, char bound_request[65]);
/* request: the attached CMS wrapping the PKCS#10, or the PKCS#10 itself
 * when the session's letter signature binds it. */
imss_err idse_submit(imss_ctx *ctx, struct http_client *c, const unsigned char *request, size_t len,
                     struct idse_result *out);
imss_err idse_poll(imss_ctx *ctx, struct http_client *c, const char *request_id,
                   struct idse_result *out);
imss_err idse_get_certificate(imss_ctx *ctx, struct http_client *c, const char *serial,
                              struct idse_result *out);
imss_err idse_logout(imss_ctx *ctx, struct http_client *c);

void idse_company_clear(struct idse_company *co);
void idse_letter_clear(struct idse_letter *l);
void idse_result_clear(struct idse_result *r);

#endif
