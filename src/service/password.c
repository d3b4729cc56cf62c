/*
 * imss-renew-service: password hashes (see password.h).
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "password.h"

int
pw_hash(const char *password, const unsigned char *salt, size_t saltlen, unsigned iterations,
        unsigned char out[PW_HASH_LEN])
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "PBKDF2", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[5];
	int rc = -1;

	if (!ctx)
		goto out;
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)password,
	                                              strlen(password));
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
	params[2] = OSSL_PARAM_construct_uint(OSSL_KDF_PARAM_ITER, &iterations);
	params[3] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[4] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, PW_HASH_LEN, params) == 1)
		rc = 0;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

int
pw_verify(const char *password, const unsigned char *salt, size_t saltlen, unsigned iterations,
          const unsigned char *hash, size_t hashlen)
{
	unsigned char got[PW_HASH_LEN];
	int rc;

	if (hashlen != PW_HASH_LEN || pw_hash(password, salt, saltlen, iterations, got) != 0)
		return -1;
	rc = CRYPTO_memcmp(got, hash, PW_HASH_LEN) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return rc;
}
