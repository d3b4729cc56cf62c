/*
 * The library's base: the context's error detail and log, messages (_()),
 * string helpers.  Private: every layer of the library (pkcs11/, src/...)
 * may include it, it includes nothing of theirs, and it is not installed.
 * Implemented in src/base/.  See docs/design.md "Layers".
 */
#ifndef IMSS_BASE_H
#define IMSS_BASE_H

#include <stdarg.h>
#include <stddef.h>

#include <openssl/types.h>

#include "imss-renew/imss-renew.h"
#include "imss-renew/i18n.h"

#define IMSS_DETAIL_MAX 4096

struct imss_module;      /* the token layer's (pkcs11/token-internal.h) */

/*
 * The context.  The base owns the error detail and the log; the token
 * layer's fields are only named here (opaque types) and are created and
 * released by imss_ctx_new()/imss_ctx_free() in pkcs11/module.c.
 */
struct imss_ctx {
	char *module_path;       /* --module, or NULL for the registry */
	struct imss_module *modules;
	size_t n_modules;
	int loaded;              /* the default modules have been loaded */
	void *registry;          /* CK_FUNCTION_LIST **, from p11_kit_modules_load_and_initialize */
	OSSL_LIB_CTX *libctx;    /* token keys' library context (provider.c) */
	OSSL_PROVIDER *prov_default;
	OSSL_PROVIDER *prov_token;
	imss_log_fn log_fn;
	void *log_user;
	char detail[IMSS_DETAIL_MAX];
	imss_next next;          /* what to do next, with the detail */
};

/* src/base/context.c: the error detail and the log. */
/* The detail being written: the calling thread's own when it keeps one
 * (imss_ctx_thread_detail), else the context's (IMSS_DETAIL_MAX bytes). */
char *ctx_detail_buf(const imss_ctx *ctx);
void ctx_clear_detail(imss_ctx *ctx);
void ctx_set_detail(imss_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ctx_append_detail(imss_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
imss_err ctx_fail(imss_ctx *ctx, imss_err err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* ctx_fail, with what to do next (imss_ctx_get_next()); the message says
 * it in words, never naming the tool's options. */
imss_err ctx_fail_next(imss_ctx *ctx, imss_err err, imss_next next, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* What to do next, for a detail appended to (every new detail clears it). */
void ctx_set_next(imss_ctx *ctx, imss_next next);
imss_err ctx_fail_openssl(imss_ctx *ctx, const char *what);
void ctx_log(imss_ctx *ctx, imss_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* src/base/strutil.c: frees each of the count strings, the string fields of
 * a struct being cleared (the caller then zeroes the struct).  STR_FREE_EACH
 * takes them as arguments: STR_FREE_EACH(o->uri, o->label). */
void str_free_each(char *const strings[], size_t count);
#define STR_FREE_EACH(...)                                  \
	str_free_each((char *const[]){__VA_ARGS__},         \
	              sizeof((char *const[]){__VA_ARGS__}) / sizeof(char *))
/* Clear each of count items with clear(&items[i]), then free the array
 * (NULL: nothing). */
#define ARRAY_FREE_EACH(items, count, clear)                      \
	do {                                                      \
		if ((items) != NULL) {                            \
			for (size_t i_ = 0; i_ < (count); i_++)   \
				clear(&(items)[i_]);              \
			free(items);                              \
		}                                                 \
	} while (0)
/* A formatted string, malloc'd (NULL when out of memory). */
char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Lower-case hex of len bytes, malloc'd (NULL when out of memory). */
char *hex_encode(const unsigned char *p, size_t len);
/* The length of the UTF-8 sequence at p (its code point in *cp), or 0 when
 * it is not valid UTF-8 (overlong, surrogate, over U+10FFFF, cut short). */
size_t str_utf8_next(const unsigned char *p, size_t left, unsigned long *cp);
/* C0, DEL, C1, and the invisible characters that reorder or break what a
 * terminal shows (bidirectional overrides, line separators). */
int str_is_control(unsigned long cp);
/* 1 when s is valid UTF-8 without control characters: safe to print. */
int str_is_text(const char *s);
/* A copy of the len bytes at s safe to print: each NUL, control character
 * (str_is_control) or invalid UTF-8 byte is a '?' (malloc'd; NULL when out
 * of memory). */
char *str_text_dup(const char *s, size_t len);

#endif
