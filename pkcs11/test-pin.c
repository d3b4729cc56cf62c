/*
 * Unit test of the secret sources' systemd credentials (cred:NAME) and of
 * imss_secret_source_expand(), through the public API only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <imss-renew/imss-renew.h>

#include "unit.h"

/* What source spec gives, read once; err returned, the secret in buf. */
static imss_err
read_spec(const char *spec, char *buf, size_t size)
{
	imss_pin_source *src = NULL;
	imss_err err = imss_pin_source_parse(spec, &src);

	if (err == IMSS_OK)
		err = imss_pin_source_read(src, "unused: ", buf, size);
	imss_pin_source_free(src);
	return err;
}

static void
test_cred_names(void)
{
	static const char *const bad[] = { "cred:", "cred:a/b", "cred:..", "cred:.", "cred:/pin" };
	imss_pin_source *src = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(imss_pin_source_parse(bad[i], &src), IMSS_ERR_INVALID_ARG);
		CHECK(src == NULL);
	}
	CHECK_INT(imss_pin_source_parse("cred:pin..old", &src), IMSS_OK);
	imss_pin_source_free(src);
}

static void
test_cred_read(const char *dir)
{
	char path[4096], buf[64];
	imss_pin_source *src = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/pin", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	fputs("123456\r\nsecond line\n", f);
	fclose(f);

	unsetenv("CREDENTIALS_DIRECTORY");
	CHECK_INT(read_spec("cred:pin", buf, sizeof(buf)), IMSS_ERR_PIN_SOURCE);
	CHECK_INT(imss_pin_source_parse("cred:pin", &src), IMSS_OK);
	CHECK_CONTAINS(imss_pin_source_describe(src), "CREDENTIALS_DIRECTORY is not set");
	imss_pin_source_free(src);

	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	CHECK_INT(read_spec("cred:pin", buf, sizeof(buf)), IMSS_OK);
	CHECK_STR(buf, "123456");
	CHECK_INT(read_spec("cred:missing", buf, sizeof(buf)), IMSS_ERR_PIN_SOURCE);
	CHECK_INT(imss_pin_source_parse("cred:missing", &src), IMSS_OK);
	CHECK_CONTAINS(imss_pin_source_describe(src), "No such file");
	CHECK_CONTAINS(imss_pin_source_describe(src), "/missing");
	imss_pin_source_free(src);
	CHECK_INT(imss_pin_source_parse("cred:pin", &src), IMSS_OK);
	CHECK_STR(imss_pin_source_describe(src), "cred:pin");
	imss_pin_source_free(src);
	unlink(path);
}

/* spec expanded for Y1234567108 and user despacho1; NULL when refused. */
static char *
expand(const char *spec, const char *rp, const char *user, imss_err want)
{
	char *out = NULL;

	CHECK_INT(imss_secret_source_expand(spec, rp, user, &out), want);
	return out;
}

static void
test_expand(void)
{
	static const char rp[] = "Y1234567108", user[] = "despacho1";
	char *s;

	s = expand("file:/etc/imss/{registro_patronal}.pass", rp, user, IMSS_OK);
	CHECK_STR(s, "file:/etc/imss/Y1234567108.pass");
	free(s);
	s = expand("file:{user}-{registro_patronal}-{user}", rp, user, IMSS_OK);
	CHECK_STR(s, "file:despacho1-Y1234567108-despacho1");
	free(s);
	s = expand("cred:idse-{registro_patronal}", rp, user, IMSS_OK);
	CHECK_STR(s, "cred:idse-Y1234567108");
	free(s);
	s = expand("env:PASS_{user}", rp, user, IMSS_OK); /* only file: and cred: */
	CHECK_STR(s, "env:PASS_{user}");
	free(s);
	s = expand("tty", rp, user, IMSS_OK);
	CHECK_STR(s, "tty");
	free(s);
	CHECK(expand("file:/x/{rfc}", rp, user, IMSS_ERR_INVALID_ARG) == NULL);
	CHECK(expand("file:/x/{user", rp, user, IMSS_ERR_INVALID_ARG) == NULL);
	CHECK(expand("file:/x/{user}", rp, "../etc", IMSS_ERR_INVALID_ARG) == NULL);
	CHECK(expand("file:/x/{user}", rp, "..", IMSS_ERR_INVALID_ARG) == NULL);
	CHECK(expand("file:/x/{user}", rp, "", IMSS_ERR_INVALID_ARG) == NULL);
	CHECK(expand("file:/x/{registro_patronal}", NULL, user, IMSS_ERR_INVALID_ARG) == NULL);
}

int
main(void)
{
	char dir[] = "/tmp/imss-unit-pin.XXXXXX";

	test_cred_names();
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_cred_read(dir);
	rmdir(dir);
	test_expand();
	return unit_done("unit-pin");
}
