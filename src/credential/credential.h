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

#endif
