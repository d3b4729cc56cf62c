/*
 * Unit test of the protocol's parsers (idse.h, idse_parse_*): every
 * answer shape the reference service sends (the seeds of
 * fuzz/corpus/idse-response/, docs/protocol.md) is taken with the values
 * it holds, and what a faulty or hostile service could send instead (bad
 * request ids, control characters, invalid UTF-8, wrong digests, error
 * answers) is refused with nothing kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idse.h"
#include "unit.h"

static imss_ctx *ctx;

/* A seed of the corpus: its first byte picks the fuzz target, the rest
 * is the body. */
struct body {
	char *text;
	size_t len;
};

static struct body
seed(const char *name)
{
	char path[512];
	struct body b = { NULL, 0 };
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", IDSE_CORPUS, name);
	f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 1 || fseek(f, 1, SEEK_SET) != 0) {
		perror(path);
		exit(2);
	}
	b.len = (size_t)n - 1;
	b.text = malloc(b.len + 1);
	if (!b.text || fread(b.text, 1, b.len, f) != b.len) {
		perror(path);
		exit(2);
	}
	b.text[b.len] = '\0';
	fclose(f);
	return b;
}

#define TEXT(s) (s), strlen(s)

static void
test_ca(void)
{
	struct body b = seed("ca");
	X509 *ca = NULL;

	CHECK_INT(idse_parse_ca(ctx, 200, b.text, b.len, &ca), IMSS_OK);
	CHECK(ca != NULL);
	X509_free(ca);
	ca = NULL;
	CHECK_INT(idse_parse_ca(ctx, 200, TEXT("{\"certificate\":\"!!!notbase64!!!\"}"), &ca),
	          IMSS_ERR_PROTOCOL);
	CHECK(ca == NULL);
	CHECK_INT(idse_parse_ca(ctx, 200, TEXT("{\"certificate\":\"QUJDRA==\"}"), &ca),
	          IMSS_ERR_PROTOCOL);
	CHECK(ca == NULL);
	free(b.text);
}

static void
test_challenge(void)
{
	struct body b = seed("challenge");
	char challenge[65];

	CHECK_INT(idse_parse_challenge(ctx, 201, b.text, b.len, challenge, sizeof(challenge)),
	          IMSS_OK);
	CHECK_STR(challenge, "24cb79abb2b81a72bc4e410f77dcc3d9fe378e6ac81f30d4a4b0ac5be21ef839");
	/* Upper case, short, missing. */
	CHECK_INT(idse_parse_challenge(ctx, 201,
	                               TEXT("{\"challenge\":\"24CB79ABB2B81A72BC4E410F77DCC3D9"
	                                    "FE378E6AC81F30D4A4B0AC5BE21EF839\"}"),
	                               challenge, sizeof(challenge)),
	          IMSS_ERR_PROTOCOL);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "challenge");
	CHECK_INT(idse_parse_challenge(ctx, 201, TEXT("{\"challenge\":\"24cb\"}"), challenge,
	                               sizeof(challenge)),
	          IMSS_ERR_PROTOCOL);
	CHECK_INT(idse_parse_challenge(ctx, 201, TEXT("{}"), challenge, sizeof(challenge)),
	          IMSS_ERR_PROTOCOL);
	CHECK_INT(idse_parse_challenge(ctx, 201, TEXT("not json"), challenge, sizeof(challenge)),
	          IMSS_ERR_PROTOCOL);
	free(b.text);
}

/* A session answer (201) given as text. */
static imss_err
session_of(const char *json, struct idse_session *s)
{
	char token[IDSE_TOKEN_MAX + 1];

	return idse_parse_session(ctx, 201, json, strlen(json), s, token, sizeof(token));
}

static void
test_session(void)
{
	struct body b = seed("session");
	struct idse_session s;
	char token[IDSE_TOKEN_MAX + 1];

	CHECK_INT(idse_parse_session(ctx, 201, b.text, b.len, &s, token, sizeof(token)), IMSS_OK);
	CHECK_STR(token, "0f1b9cd4208db6b8dae38dba63dff500afcaabee7b2569227ad5d4cbdd4808d7");
	CHECK_STR(s.registro_patronal, "Y1234567108");
	CHECK_INT(s.renewal_required, 0);
	/* The employer as the service names it; the engine compares it
	 * with the one asked for.  A name with a control character or a
	 * path in it is refused. */
	CHECK_INT(idse_parse_session(ctx, 201,
	                             TEXT("{\"token\":\"0f1b9cd4208db6b8dae38dba63dff500\","
	                                  "\"registro_patronal\":\"Y12\\n34\"}"),
	                             &s, token, sizeof(token)),
	          IMSS_ERR_PROTOCOL);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "registro_patronal");
	CHECK_INT(idse_parse_session(ctx, 201,
	                             TEXT("{\"token\":\"0f1b9cd4208db6b8dae38dba63dff500\","
	                                  "\"registro_patronal\":\"../Y1234567108\"}"),
	                             &s, token, sizeof(token)),
	          IMSS_ERR_PROTOCOL);
	/* A token too short, or with a character a Bearer token cannot hold. */
	CHECK_INT(idse_parse_session(ctx, 201,
	                             TEXT("{\"token\":\"0f1b\",\"registro_patronal\":\"Y1\"}"), &s,
	                             token, sizeof(token)),
	          IMSS_ERR_PROTOCOL);
	CHECK_INT(idse_parse_session(ctx, 201,
	                             TEXT("{\"token\":\"0f1b9cd4208db6b8 dae38dba63dff500\","
	                                  "\"registro_patronal\":\"Y1\"}"),
	                             &s, token, sizeof(token)),
	          IMSS_ERR_PROTOCOL);
	/* A renewed certificate: the request it signed, hex only. */
	CHECK_STR(s.renewal_request, "");
	CHECK_INT(session_of("{\"token\":\"0f1b9cd4208db6b8dae38dba63dff500\",\"registro_patronal\":"
	                     "\"Y1\",\"renewed\":true,\"renewal_request\":\"26a1cf14f9ccfb04\"}",
	                     &s),
	          IMSS_OK);
	CHECK_STR(s.renewal_request, "26a1cf14f9ccfb04");
	CHECK_INT(session_of("{\"token\":\"0f1b9cd4208db6b8dae38dba63dff500\",\"registro_patronal\":"
	                     "\"Y1\",\"renewal_request\":\"../x\"}",
	                     &s),
	          IMSS_ERR_PROTOCOL);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "renewal_request");
	/* The wrong status: the body read as an error description. */
	CHECK_INT(idse_parse_session(ctx, 200, b.text, b.len, &s, token, sizeof(token)),
	          IMSS_ERR_PROTOCOL);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "without a valid error description");
	free(b.text);
}

static void
test_company(void)
{
	const char *const names[] = { "company", "company-patch" };
	const char *const emails[] = { "rh@ejemplo.mx", "nuevo@ejemplo.mx" };
	struct idse_company co = { 0 };
	size_t i;

	for (i = 0; i < 2; i++) {
		struct body b = seed(names[i]);

		CHECK_INT(idse_parse_company(ctx, 200, b.text, b.len, &co), IMSS_OK);
		CHECK_STR(co.registro_patronal, "Y1234567108");
		CHECK_STR(co.razon_social, "EJEMPLO SA DE CV");
		CHECK_STR(co.rfc, "EJE010101AB1");
		CHECK_STR(co.address, "Av. Reforma 1, CDMX");
		CHECK_STR(co.email, emails[i]);
		idse_company_clear(&co);
		free(b.text);
	}
	/* Control characters (escape, bell) and invalid UTF-8 in text. */
	CHECK_INT(idse_parse_company(ctx, 200,
	                             TEXT("{\"registro_patronal\":\"Y1234567108\",\"razon_social\":"
	                                  "\"\\u001b[31mEJEMPLO\",\"rfc\":\"EJE010101AB1\","
	                                  "\"address\":\"\",\"email\":\"rh@ejemplo.mx\"}"),
	                             &co),
	          IMSS_ERR_PROTOCOL);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "razon_social");
	CHECK_CONTAINS(imss_ctx_detail(ctx), "control characters");
	CHECK(co.razon_social == NULL && co.registro_patronal == NULL);
	CHECK_INT(idse_parse_company(ctx, 200,
	                             TEXT("{\"registro_patronal\":\"Y1234567108\",\"razon_social\":"
	                                  "\"EJEMPLO\",\"rfc\":\"EJE010101AB1\",\"address\":"
	                                  "\"Av.\\u0007\",\"email\":\"rh@ejemplo.mx\"}"),
	                             &co),
	          IMSS_ERR_PROTOCOL);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "address");
	CHECK_INT(idse_parse_company(ctx, 200,
	                             TEXT("{\"registro_patronal\":\"Y1234567108\",\"razon_social\":"
	                                  "\"EJEMPLO \xc3\x28\",\"rfc\":\"EJE010101AB1\","
	                                  "\"address\":\"\",\"email\":\"rh@ejemplo.mx\"}"),
	                             &co),
	          IMSS_ERR_PROTOCOL);
	CHECK_INT(idse_parse_company(ctx, 200, TEXT("{\"registro_patronal\":\"Y1234567108\"}"), &co),
	          IMSS_ERR_PROTOCOL);
	idse_company_clear(&co);
}

static void
test_letter(void)
{
	struct body b = seed("letter");
	struct idse_letter l = { 0 };
	char *bad;

	CHECK_INT(idse_parse_letter(ctx, 200, b.text, b.len, &l), IMSS_OK);
	CHECK_INT(l.id, 1);
	CHECK_INT(l.len, 2063);
	CHECK(l.pdf != NULL && memcmp(l.pdf, "%PDF", 4) == 0);
	CHECK_STR(l.sha256, "e7c1839840637724cffccf47c32863b4bcee82983aeb7c52d5503e5b4295f158");
	idse_letter_clear(&l);
	/* A digest that does not match the bytes. */
	bad = strdup(b.text);
	memcpy(strstr(bad, "e7c18398"), "00000000", 8);
	CHECK_INT(idse_parse_letter(ctx, 200, bad, strlen(bad), &l), IMSS_ERR_PROTOCOL);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "SHA-256");
	CHECK(l.pdf == NULL);
	free(bad);
	free(b.text);
}

static void
test_results(void)
{
	struct body pending = seed("renewal-202"), issued = seed("poll-201"),
	            by_serial = seed("certificate-200");
	struct idse_result r = { 0 };

	CHECK_INT(idse_parse_result(ctx, 202, pending.text, pending.len, 7, &r), IMSS_OK);
	CHECK_STR(r.request_id, "71cb4e646151c602eeb8bfe1036a0475");
	CHECK_INT(r.retry_after, 7);
	CHECK(r.cert == NULL);
	/* No Retry-After, or an outlandish one: 5 seconds. */
	CHECK_INT(idse_parse_result(ctx, 202, pending.text, pending.len, -1, &r), IMSS_OK);
	CHECK_INT(r.retry_after, 5);
	CHECK_INT(idse_parse_result(ctx, 202, pending.text, pending.len, 99999, &r), IMSS_OK);
	CHECK_INT(r.retry_after, 5);
	CHECK_INT(idse_parse_result(ctx, 201, issued.text, issued.len, -1, &r), IMSS_OK);
	CHECK_STR(r.request_id, "71cb4e646151c602eeb8bfe1036a0475");
	CHECK(r.cert != NULL);
	CHECK_INT(idse_parse_result(ctx, 200, by_serial.text, by_serial.len, -1, &r), IMSS_OK);
	CHECK(r.cert != NULL);
	idse_result_clear(&r);

	/* Bad request ids: not hex, a path, too long, empty, a control
	 * character.  Nothing is kept. */
	{
		static const char *const bodies[] = {
			"{\"request_id\":\"zz\",\"status\":\"pending\"}",
			"{\"request_id\":\"../../etc\",\"status\":\"pending\"}",
			"{\"request_id\":\"0123456789abcdef0123456789abcdef0123456789abcdef"
			"0123456789abcdef0\",\"status\":\"pending\"}",
			"{\"request_id\":\"\",\"status\":\"pending\"}",
			"{\"request_id\":\"71cb\\n\",\"status\":\"pending\"}",
			"{\"request_id\":42,\"status\":\"pending\"}",
			"{\"status\":\"pending\"}",
		};
		size_t i;

		for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
			CHECK_INT(idse_parse_result(ctx, 202, TEXT(bodies[i]), 5, &r),
			          IMSS_ERR_PROTOCOL);
			CHECK_STR(r.request_id, "");
		}
	}
	/* 201 without its certificate. */
	CHECK_INT(idse_parse_result(ctx, 201, pending.text, pending.len, -1, &r), IMSS_ERR_PROTOCOL);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "certificate");
	CHECK(r.cert == NULL);
	free(pending.text);
	free(issued.text);
	free(by_serial.text);
}

static void
test_errors(void)
{
	struct body e404 = seed("error-404"), e409 = seed("error-409");
	struct idse_result r = { 0 };

	CHECK_INT(idse_parse_error(ctx, 404, e404.text, e404.len), IMSS_ERR_SERVICE);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "404 REQUEST_NOT_FOUND");
	CHECK_CONTAINS(imss_ctx_detail(ctx), "No such renewal request.");
	CHECK_INT(idse_parse_error(ctx, 409, e409.text, e409.len), IMSS_ERR_SERVICE);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "LETTER_ALREADY_SIGNED");
	/* An error status to a message: its description. */
	CHECK_INT(idse_parse_result(ctx, 404, e404.text, e404.len, -1, &r), IMSS_ERR_SERVICE);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "REQUEST_NOT_FOUND");
	/* No description: a protocol error, a server error below 500 not. */
	CHECK_INT(idse_parse_error(ctx, 400, TEXT("<html>")), IMSS_ERR_PROTOCOL);
	CHECK_INT(idse_parse_error(ctx, 502, TEXT("<html>")), IMSS_ERR_SERVICE);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "HTTP 502");
	/* A code outside its charset is no description. */
	CHECK_INT(idse_parse_error(ctx, 400,
	                           TEXT("{\"error\":{\"code\":\"bad code\",\"message_en\":\"x\"}}")),
	          IMSS_ERR_PROTOCOL);
	/* The message is kept escaped: no terminal escape reaches the detail. */
	CHECK_INT(idse_parse_error(ctx, 400,
	                           TEXT("{\"error\":{\"code\":\"X\",\"message_en\":"
	                                "\"\\u001b[2Jgone\"}}")),
	          IMSS_ERR_SERVICE);
	CHECK(strchr(imss_ctx_detail(ctx), 0x1b) == NULL);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "\\x1b[2Jgone");
	free(e404.text);
	free(e409.text);
}

static void
test_safe_text(void)
{
	struct body b = seed("safe-text");
	char out[64], small[8];
	size_t i;

	idse_safe_text(b.text, b.len, out, sizeof(out));
	for (i = 0; out[i]; i++)
		CHECK((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
	CHECK_CONTAINS(out, "\\x1b");
	idse_safe_text(TEXT("año"), out, sizeof(out));
	CHECK_STR(out, "año");
	idse_safe_text(TEXT("a long message that does not fit"), small, sizeof(small));
	CHECK(strlen(small) < sizeof(small));
	CHECK_CONTAINS(small, "...");
	free(b.text);
}

static void
run_tests(void)
{
	test_ca();
	test_challenge();
	test_session();
	test_company();
	test_letter();
	test_results();
	test_errors();
	test_safe_text();
}

int
main(void)
{
	return unit_run_with_ctx("unit-idse", &ctx, run_tests);
}
