/*
 * Private helpers shared by the credential operations (src/credential/).
 */
#ifndef IMSS_CREDENTIAL_H
#define IMSS_CREDENTIAL_H

#include <openssl/bio.h>

#include "token-internal.h"

/* certinfo.c: a whole file in a memory BIO that rewinds on reset (for
 * parsing the same bytes in several formats). */
imss_err file_to_bio(imss_ctx *ctx, const char *path, BIO **out);

/* request.c: imss_request_make with a challengePassword attribute (NULL:
 * none); the engine's SCEP enrollment. */
imss_err request_make_with_challenge(imss_key *key, const X509_NAME *subject, const char *challenge,
                                     X509_REQ **out);

/* cms.c: imss_cms_sign, detached, with the signed attribute that binds a
 * renewal request by its SHA-256 (IMSS_OID_RENEWAL_REQUEST_SHA256): one
 * signature of the current key for the terms letter and the request. */
imss_err cms_sign_binding(imss_ctx *ctx, const imss_credential *cred, const unsigned char *data,
                          size_t len, const unsigned char request_sha256[32], unsigned char **der,
                          size_t *derlen);

#endif
