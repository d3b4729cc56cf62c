/*
 * The service's check of CMS SignedData (src/service/cmsv.c, cms_check),
 * as its three callers use it: the login challenge (attached, signer
 * certificate inside), the terms letter (detached, signer given) and the
 * renewal (attached, signer given).  The first byte picks the use, the
 * rest is the CMS (DER).
 */
#include <string.h>

#include "cmsv.h"
#include <openssl/err.h>

#include "common.h"

static X509 *signer;
static unsigned char *letter;
static size_t letter_len;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	signer = fuzz_cert("employer.pem");
	letter = fuzz_read_data("letter.txt", &letter_len);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cms_signed out;
	enum api_code code;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		code = cms_check(data + 1, size - 1, NULL, NULL, 0, &out);
		break;
	case 1:
		code = cms_check(data + 1, size - 1, signer, letter, letter_len, &out);
		break;
	default:
		code = cms_check(data + 1, size - 1, signer, NULL, 0, &out);
		break;
	}
	if (code == API_OK) {
		fuzz_check(out.signer != NULL, "cms_check: no signer");
		fuzz_check(data[0] % 3 == 1 || out.content != NULL, "cms_check: no content");
	} else {
		fuzz_check(out.signer == NULL && out.content == NULL, "cms_check: failed but kept");
	}
	cms_signed_clear(&out);
	ERR_clear_error();
	return 0;
}
