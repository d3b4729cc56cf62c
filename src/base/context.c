/*
 * The context's error detail and log callback (the base of every layer,
 * declared in include/imss-renew/base.h).  The context itself is made and
 * freed with its modules by the token layer (pkcs11/module.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "imss-renew/base.h"

/* The error detail of a thread that keeps its own (imss_ctx_thread_detail):
 * a worker of fleet renew --jobs sharing the context and the token. */
struct ctx_report {
	char detail[IMSS_DETAIL_MAX];
	imss_next next;
};

static _Thread_local struct ctx_report *thread_report;

void
imss_ctx_thread_detail(int own)
{
	if (own && thread_report == NULL)
		thread_report = calloc(1, sizeof(*thread_report));
	else if (!own) {
		free(thread_report);
		thread_report = NULL;
	}
}

char *
ctx_detail_buf(const imss_ctx *ctx)
{
	return thread_report ? thread_report->detail : (char *)ctx->detail;
}

static imss_next *
ctx_next_slot(const imss_ctx *ctx)
{
	return thread_report ? &thread_report->next : (imss_next *)&ctx->next;
}

void
ctx_clear_detail(imss_ctx *ctx)
{
	ctx_detail_buf(ctx)[0] = '\0';
	*ctx_next_slot(ctx) = IMSS_NEXT_NONE;
}

void
ctx_set_next(imss_ctx *ctx, imss_next next)
{
	*ctx_next_slot(ctx) = next;
}

static void __attribute__((format(printf, 2, 0)))
ctx_vappend(imss_ctx *ctx, const char *fmt, va_list ap)
{
	char *detail = ctx_detail_buf(ctx);
	size_t used = strlen(detail);

	if (used < IMSS_DETAIL_MAX - 1)
		vsnprintf(detail + used, IMSS_DETAIL_MAX - used, fmt, ap);
}

void
ctx_set_detail(imss_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	ctx_clear_detail(ctx);
	va_start(ap, fmt);
	ctx_vappend(ctx, fmt, ap);
	va_end(ap);
}

void
ctx_append_detail(imss_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctx_vappend(ctx, fmt, ap);
	va_end(ap);
}

imss_err
ctx_fail(imss_ctx *ctx, imss_err err, const char *fmt, ...)
{
	va_list ap;

	ctx_clear_detail(ctx);
	va_start(ap, fmt);
	ctx_vappend(ctx, fmt, ap);
	va_end(ap);
	return err;
}

imss_err
ctx_fail_next(imss_ctx *ctx, imss_err err, imss_next next, const char *fmt, ...)
{
	va_list ap;

	ctx_clear_detail(ctx);
	va_start(ap, fmt);
	ctx_vappend(ctx, fmt, ap);
	va_end(ap);
	ctx_set_next(ctx, next);
	return err;
}

imss_err
ctx_fail_openssl(imss_ctx *ctx, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	ctx_set_detail(ctx, "%s%s%s", what, buf[0] ? ": " : "", buf);
	return IMSS_ERR_CRYPTO;
}

void
ctx_log(imss_ctx *ctx, imss_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (ctx->log_fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->log_fn(ctx->log_user, level, msg);
}

void
imss_ctx_set_log(imss_ctx *ctx, imss_log_fn fn, void *user)
{
	ctx->log_fn = fn;
	ctx->log_user = user;
}

const char *
imss_ctx_detail(const imss_ctx *ctx)
{
	return ctx_detail_buf(ctx);
}

imss_next
imss_ctx_get_next(const imss_ctx *ctx)
{
	return *ctx_next_slot(ctx);
}
