/*
 * Unit test of the state files' names (renew_file_safe, context.c): one
 * name per employer, serial, token and server (review 4's leftover: "A/B"
 * and "A_B" were one name, so two employers could share a journal and two
 * servers a pinned CA); a name that needs no change keeps the name older
 * versions gave it.  The pin through imss_renew_trusted_cas: a CA pinned
 * for 127.0.0.1:4443 is not trusted for 127.0.0.1_4443.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "renew.h"
#include "unit.h"

static imss_ctx *ctx;
static char dir[] = "/tmp/imss-unit-names.XXXXXX";

static void
check_distinct(const char *a, const char *b)
{
	char *sa = renew_file_safe(a), *sb = renew_file_safe(b);

	CHECK(sa != NULL && sb != NULL && strcmp(sa, sb) != 0);
	CHECK(sa != NULL && strspn(sa, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                               "0123456789._-~") == strlen(sa));
	free(sa);
	free(sb);
}

static void
test_names(void)
{
	char *s;

	s = renew_file_safe("Y1234567108"); /* unchanged: found as before */
	CHECK_STR(s, "Y1234567108");
	free(s);
	s = renew_file_safe("A_B.c-d");
	CHECK_STR(s, "A_B.c-d");
	free(s);
	s = renew_file_safe("A/B");
	CHECK_STR(s, "A_B~998d3ed8983acf39");
	free(s);
	check_distinct("A/B", "A_B");
	check_distinct("A/B", "A:B");
	check_distinct("127.0.0.1:4443", "127.0.0.1_4443");
	check_distinct("../x", "___x");
	s = renew_file_legacy("A/B"); /* where an older version left it */
	CHECK_STR(s, "A_B");
	free(s);
	CHECK(renew_file_legacy("A_B") == NULL);
}

/* The pin of server at its name in dir: a copy of the CA in ca_pem. */
static void
pin_for(const char *host_port, const char *ca_pem)
{
	char *safe = renew_file_safe(host_port), cmd[1024];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s/ca-%s.pem'", ca_pem, dir, safe);
	CHECK_INT(system(cmd), 0);
	free(safe);
}

static int
trusted_count(const char *server)
{
	STACK_OF(X509) *cas = NULL;
	int n = -1;

	if (imss_renew_trusted_cas(ctx, server, NULL, dir, &cas) == IMSS_OK)
		n = cas ? sk_X509_num(cas) : 0;
	sk_X509_pop_free(cas, X509_free);
	return n;
}

static void
test_pins(void)
{
	char cmd[1024], ca[512];

	snprintf(ca, sizeof(ca), "%s/the-ca.pem", dir);
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	         "-keyout '%s/the-ca.key' -out '%s' -subj /CN=unit-ca -days 2 "
	         "-addext basicConstraints=critical,CA:TRUE 2>/dev/null",
	         dir, ca);
	CHECK_INT(system(cmd), 0);
	pin_for("127.0.0.1:4443", ca);
	CHECK_INT(trusted_count("https://127.0.0.1:4443"), 1);
	CHECK_INT(trusted_count("https://127.0.0.1_4443"), 0); /* was the same file */
	CHECK_INT(trusted_count("https://127.0.0.1/4443"), 0);
}

static void
tests(void)
{
	test_names();
	test_pins();
}

int
main(void)
{
	return unit_run_in_dir("unit-state-names", &ctx, dir, tests);
}
