/*
 * The check of a certificate sent by the service (src/engine/certcheck.c,
 * renew_check_certificate) on any DER, against a fixed renewal: the
 * employer, the CA and the new key of data/.  The clock is fixed
 * (FUZZ_NOW) so that the seeds stay valid and runs are reproducible.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "common.h"
#include "renew.h"

/* A renewal (not a first enrollment): options with nothing set. */
static imss_renew_options options;
static struct renew r;
static EVP_PKEY *new_key;

/* Every time() of the process, OpenSSL's included, reads FUZZ_NOW. */
time_t
time(time_t *out)
{
	if (out != NULL)
		*out = (time_t)FUZZ_NOW;
	return (time_t)FUZZ_NOW;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	X509 *employer = fuzz_cert("employer.pem");

	r.ctx = fuzz_ctx();
	r.o = &options;
	r.issuer = sk_X509_new_null();
	fuzz_check(r.issuer != NULL && sk_X509_push(r.issuer, fuzz_cert("ca.pem")) > 0, "issuer");
	r.company.razon_social = strdup(FUZZ_RAZON);
	r.company.registro_patronal = strdup(FUZZ_RP);
	r.company.rfc = strdup(FUZZ_RFC);
	r.company.email = strdup(FUZZ_EMAIL);
	r.company.address = strdup("");
	new_key = X509_get_pubkey(employer);
	fuzz_check(new_key != NULL, "employer key");
	X509_free(employer);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	X509 *cert = d2i_X509(NULL, &p, (long)size);
	imss_cert_info info;

	if (cert == NULL) {
		ERR_clear_error();
		return 0;
	}
	if (imss_cert_describe(cert, &info) == IMSS_OK)
		imss_cert_info_clear(&info);
	(void)renew_check_certificate(&r, cert, new_key, 1);
	(void)renew_check_certificate(&r, cert, new_key, 0);
	X509_free(cert);
	/* A queue left full costs a leak check on every run. */
	ERR_clear_error();
	return 0;
}
