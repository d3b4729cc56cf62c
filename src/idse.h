/*
 * The renewal service's protocol (docs/protocol.md), one function per
 * message.  Each returns IMSS_OK, or IMSS_ERR_SERVICE with the service's
 * stable error code and message in the context detail, or a transport or
 * protocol error.
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
	char sha256[65];         /* hex, checked against the bytes */
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
};

imss_err idse_get_ca(imss_ctx *ctx, struct http_client *c, X509 **out);
imss_err idse_login(imss_ctx *ctx, struct http_client *c, const imss_credential *cred,
                    const char *user, imss_pin_source *password, struct idse_session *out);
imss_err idse_get_company(imss_ctx *ctx, struct http_client *c, struct idse_company *out);
imss_err idse_set_email(imss_ctx *ctx, struct http_client *c, const char *email,
                        struct idse_company *out);
imss_err idse_get_letter(imss_ctx *ctx, struct http_client *c, struct idse_letter *out);
imss_err idse_sign_letter(imss_ctx *ctx, struct http_client *c,
                          const unsigned char *cms, size_t len);
imss_err idse_submit(imss_ctx *ctx, struct http_client *c, const unsigned char *cms,
                     size_t len, struct idse_result *out);
imss_err idse_poll(imss_ctx *ctx, struct http_client *c, const char *request_id,
                   struct idse_result *out);
imss_err idse_get_certificate(imss_ctx *ctx, struct http_client *c, const char *serial,
                              struct idse_result *out);
imss_err idse_logout(imss_ctx *ctx, struct http_client *c);

void idse_company_clear(struct idse_company *co);
void idse_letter_clear(struct idse_letter *l);
void idse_result_clear(struct idse_result *r);

#endif
