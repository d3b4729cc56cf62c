/*
 * CHECK(cond, fmt, ...) for the token tests: a failed check is counted in
 * failures and said on stderr ("FAIL file:line: message"); a passed one is
 * said on stdout ("ok: message") when check_verbose is set.
 */
#ifndef TESTS_TOKEN_CHECK_H
#define TESTS_TOKEN_CHECK_H

#include <stdio.h>

static int failures;
static int check_verbose;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			failures++;                                          \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
		} else if (check_verbose) {                                  \
			printf("ok: ");                                      \
			printf(__VA_ARGS__);                                 \
			putchar('\n');                                       \
		}                                                            \
	} while (0)

#endif
