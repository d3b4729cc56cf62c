/*
 * The service's check of a renewal's PKCS#10 request
 * (src/service/csr.c, csr_check) on any DER, for the employer of data/.
 */
#include <openssl/err.h>

#include "common.h"
#include "csr.h"

static const struct subject employer = {
	.razon_social = FUZZ_RAZON,
	.registro_patronal = FUZZ_RP,
	.rfc = FUZZ_RFC,
	.email = FUZZ_EMAIL,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	EVP_PKEY *pub = NULL;
	unsigned char spki[32];

	if (csr_check(data, size, &employer, &pub, spki) == API_OK)
		fuzz_check(pub != NULL, "csr_check: no key");
	EVP_PKEY_free(pub);
	ERR_clear_error();
	return 0;
}
