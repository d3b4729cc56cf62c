/*
 * The unit tests' assertions (tests/unit/CMakeLists.txt): no framework.
 * A failed check prints where and what, and counts; unit_done() is the
 * program's exit status (1 when any check failed).  Included after
 * imss-renew.h, it also has unit_run_with_ctx(), a main() with a context.
 */
#ifndef IMSS_UNIT_H
#define IMSS_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failures;
static int unit_checks;

#define UNIT_FAIL(...) \
	do { \
		unit_failures++; \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
	} while (0)

/* cond holds. */
#define CHECK(cond) \
	do { \
		unit_checks++; \
		if (!(cond)) \
			UNIT_FAIL("check failed: %s", #cond); \
	} while (0)

/* Two integers (enums, error codes) are equal. */
#define CHECK_INT(got, want) \
	do { \
		long long unit_got_ = (long long)(got), unit_want_ = (long long)(want); \
		unit_checks++; \
		if (unit_got_ != unit_want_) \
			UNIT_FAIL("%s is %lld, expected %lld", #got, unit_got_, unit_want_); \
	} while (0)

/* Two strings are equal (NULL equals only NULL). */
#define CHECK_STR(got, want) \
	do { \
		const char *unit_got_ = (got), *unit_want_ = (want); \
		unit_checks++; \
		if (!(unit_got_ == unit_want_ || \
		      (unit_got_ && unit_want_ && strcmp(unit_got_, unit_want_) == 0))) \
			UNIT_FAIL("%s is \"%s\", expected \"%s\"", #got, \
			          unit_got_ ? unit_got_ : "(null)", \
			          unit_want_ ? unit_want_ : "(null)"); \
	} while (0)

/* haystack contains needle. */
#define CHECK_CONTAINS(haystack, needle) \
	do { \
		const char *unit_h_ = (haystack), *unit_n_ = (needle); \
		unit_checks++; \
		if (!unit_h_ || !strstr(unit_h_, unit_n_)) \
			UNIT_FAIL("%s does not contain \"%s\": \"%s\"", #haystack, unit_n_, \
			          unit_h_ ? unit_h_ : "(null)"); \
	} while (0)

static inline int
unit_done(const char *name)
{
	if (unit_failures) {
		fprintf(stderr, "%s: %d of %d checks failed\n", name, unit_failures, unit_checks);
		return 1;
	}
	printf("%s: %d checks passed\n", name, unit_checks);
	return 0;
}

#ifdef IMSS_RENEW_H
/*
 * A unit test's main() for code that wants a library context: makes *ctx,
 * runs tests, frees *ctx and returns unit_done(name); 2 without a context.
 */
static inline int
unit_run_with_ctx(const char *name, imss_ctx **ctx, void (*tests)(void))
{
	if (imss_ctx_new(NULL, ctx) != IMSS_OK) {
		fprintf(stderr, "%s: no context\n", name);
		return 2;
	}
	tests();
	imss_ctx_free(*ctx);
	*ctx = NULL;
	return unit_done(name);
}

/*
 * unit_run_with_ctx in a temporary directory: dir (a mkdtemp template,
 * made into the directory's name) made first and removed after.
 */
static inline int
unit_run_in_dir(const char *name, imss_ctx **ctx, char *dir, void (*tests)(void))
{
	char cmd[512];
	int rc;

	if (!mkdtemp(dir)) {
		perror(dir);
		return 2;
	}
	rc = unit_run_with_ctx(name, ctx, tests);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return rc;
}
#endif

#endif
