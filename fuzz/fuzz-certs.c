/*
 * Certificate files (src/credential/certinfo.c): imss_certs_load on any bytes (DER,
 * PEM, PKCS#7, as --ca files and .cer credentials are read), then
 * imss_cert_describe on each certificate found.
 */
#include <openssl/err.h>

#include "common.h"

static imss_ctx *ctx;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	ctx = fuzz_ctx();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *certs = NULL;
	imss_cert_info info;
	int i;

	if (imss_certs_load(ctx, fuzz_memfile(data, size), &certs) != IMSS_OK) {
		ERR_clear_error();
		return 0;
	}
	fuzz_check(sk_X509_num(certs) > 0, "imss_certs_load succeeded with no certificate");
	for (i = 0; i < sk_X509_num(certs); i++)
		if (imss_cert_describe(sk_X509_value(certs, i), &info) == IMSS_OK)
			imss_cert_info_clear(&info);
	sk_X509_pop_free(certs, X509_free);
	ERR_clear_error();
	return 0;
}
