/*
 * imss-renew-service: checking the PKCS#10 request of a renewal: its own
 * signature, the employer's subject, and a key that is strong enough.
 * Whether the key is new is the caller's business (it needs the
 * database).
 */
#ifndef SVC_CSR_H
#define SVC_CSR_H

#include <stddef.h>

#include <openssl/evp.h>

#include "ca.h"
#include "errors.h"

/*
 * Check der as a PKCS#10 request for subject s.  On API_OK, *pub is the
 * request's public key (EVP_PKEY_free) and spki the SHA-256 of its
 * SubjectPublicKeyInfo.
 */
enum api_code csr_check(const unsigned char *der, size_t len, const struct subject *s,
                        EVP_PKEY **pub, unsigned char spki[32]);

#endif /* SVC_CSR_H */
