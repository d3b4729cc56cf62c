/*
 * imss-renew-service: password hashes.  PBKDF2-HMAC-SHA256 (OpenSSL's
 * EVP_KDF), a random 16-byte salt per user, the iteration count stored
 * with the hash; compared in constant time.
 */
#ifndef SVC_PASSWORD_H
#define SVC_PASSWORD_H

#include <stddef.h>

#define PW_SALT_LEN 16
#define PW_HASH_LEN 32
#define PW_DEFAULT_ITERATIONS 600000u
#define PW_MIN_ITERATIONS 1000u

/* Derive the hash of password.  0 or -1. */
int pw_hash(const char *password, const unsigned char *salt, size_t saltlen, unsigned iterations,
            unsigned char out[PW_HASH_LEN]);

/* 1 when password matches hash, 0 when not, -1 on failure. */
int pw_verify(const char *password, const unsigned char *salt, size_t saltlen, unsigned iterations,
              const unsigned char *hash, size_t hashlen);

#endif /* SVC_PASSWORD_H */
