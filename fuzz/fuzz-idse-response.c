/*
 * fuzz-idse-response: the protocol client's response parsers (src/protocol/idse.h),
 * fed what a hostile service could send.
 *
 * The first byte picks the parser (low 3 bits) and the HTTP status (the
 * next 3 bits: 0 the parser's own success status, else one of 200, 201,
 * 202, 204, 400, 403, 500); the rest is the body.  Besides the
 * sanitizers, it checks what the parsers promise: whatever they accept
 * holds no control character, identifiers stay within their length, and
 * idse_safe_text makes any bytes printable and short.
 *
 *   0 error   1 ca   2 challenge   3 session   4 company   5 letter
 *   6 result (submit, poll, certificate)   7 idse_safe_text alone
 *
 * Seeds: fuzz/corpus/idse-response/ (answers of the reference service).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "idse.h"

static imss_ctx *ctx;

/* No C0 or DEL byte (C1 and the rest are checked by the parsers' own
 * rules; this is what a terminal must never get). */
static void
assert_printable(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

static long
pick_status(uint8_t selector, long natural)
{
	static const long statuses[] = { 0, 200, 201, 202, 204, 400, 403, 500 };
	long s = statuses[(selector >> 3) & 7];

	return s != 0 ? s : natural;
}

static void
fuzz_company(long status, const char *body, size_t len)
{
	struct idse_company co = { 0 };

	if (idse_parse_company(ctx, pick_status(status, 200), body, len, &co) == IMSS_OK) {
		assert_printable(co.registro_patronal);
		assert_printable(co.razon_social);
		assert_printable(co.rfc);
		assert_printable(co.address);
		assert_printable(co.email);
	}
	idse_company_clear(&co);
}

static void
fuzz_session(long status, const char *body, size_t len)
{
	struct idse_session s;
	char token[IDSE_TOKEN_MAX + 1];

	if (idse_parse_session(ctx, pick_status(status, 201), body, len, &s, token, sizeof(token)) ==
	    IMSS_OK) {
		assert_printable(token);
		assert_printable(s.registro_patronal);
	}
}

static void
fuzz_result(long status, const char *body, size_t len)
{
	struct idse_result res = { 0 };

	if (idse_parse_result(ctx, pick_status(status, 201), body, len, 5, &res) == IMSS_OK) {
		if (strlen(res.request_id) > 64 || (res.cert == NULL && res.request_id[0] == '\0'))
			abort();
		assert_printable(res.request_id);
	}
	idse_result_clear(&res);
}

static void
fuzz_safe_text(const char *body, size_t len)
{
	char out[64];

	idse_safe_text(body, len, out, sizeof(out));
	if (strlen(out) >= sizeof(out))
		abort();
	assert_printable(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	struct idse_letter letter;
	char challenge[80];
	X509 *ca = NULL;

	if (ctx == NULL && imss_ctx_new(NULL, &ctx) != IMSS_OK)
		abort();
	if (size < 1)
		return 0;
	switch (data[0] & 7) {
	case 0:
		if (idse_parse_error(ctx, pick_status(data[0], 400), body, len) == IMSS_OK)
			abort();
		assert_printable(imss_ctx_detail(ctx));
		break;
	case 1:
		idse_parse_ca(ctx, pick_status(data[0], 200), body, len, &ca);
		X509_free(ca);
		break;
	case 2:
		if (idse_parse_challenge(ctx, pick_status(data[0], 201), body, len, challenge,
		                         sizeof(challenge)) == IMSS_OK &&
		    strlen(challenge) != 64)
			abort();
		break;
	case 3:
		fuzz_session(data[0], body, len);
		break;
	case 4:
		fuzz_company(data[0], body, len);
		break;
	case 5:
		if (idse_parse_letter(ctx, pick_status(data[0], 200), body, len, &letter) == IMSS_OK)
			idse_letter_clear(&letter);
		break;
	case 6:
		fuzz_result(data[0], body, len);
		break;
	default:
		fuzz_safe_text(body, len);
		break;
	}
	return 0;
}
