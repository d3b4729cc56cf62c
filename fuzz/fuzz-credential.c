/*
 * Legacy credential files (src/credential/credential.c, imss_credential_from_files):
 * a PKCS#12 .pfx, or a certificate .cer with its encrypted PKCS#8 .key,
 * as users hand them over.  The first byte picks the form; for .cer +
 * .key the next two bytes (big-endian) are the length of the .cer, the
 * rest is the .key.  The password is the seeds' (data/make.py).
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "common.h"

#define PASSWORD "Secreto123"

static imss_ctx *ctx;
static imss_pin_source *password;
static char pfx_path[128], cer_path[128], key_path[128];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fuzz_tmpdir();

	ctx = fuzz_ctx();
	fuzz_check(setenv("IMSS_FUZZ_PASSWORD", PASSWORD, 1) == 0 &&
	                   imss_pin_source_parse("env:IMSS_FUZZ_PASSWORD", &password) == IMSS_OK,
	           "password source");
	snprintf(pfx_path, sizeof(pfx_path), "%s/credential.pfx", dir);
	snprintf(cer_path, sizeof(cer_path), "%s/credential.cer", dir);
	snprintf(key_path, sizeof(key_path), "%s/credential.key", dir);
	return 0;
}

static void
write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	fuzz_check(f != NULL && fwrite(data, 1, size, f) == size && fclose(f) == 0, path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	imss_credential *cred = NULL;
	size_t cer_len;
	imss_err err;

	if (size < 1)
		return 0;
	if (data[0] % 2 == 0) {
		write_file(pfx_path, data + 1, size - 1);
		err = imss_credential_from_files(ctx, pfx_path, NULL, password, &cred);
	} else {
		if (size < 3)
			return 0;
		cer_len = (size_t)data[1] << 8 | data[2];
		if (cer_len > size - 3)
			cer_len = size - 3;
		write_file(cer_path, data + 3, cer_len);
		write_file(key_path, data + 3 + cer_len, size - 3 - cer_len);
		err = imss_credential_from_files(ctx, cer_path, key_path, password, &cred);
	}
	if (err == IMSS_OK)
		fuzz_check(cred != NULL && imss_credential_get_certificate(cred) != NULL,
		           "a credential without its certificate");
	imss_credential_free(cred);
	ERR_clear_error();
	return 0;
}
