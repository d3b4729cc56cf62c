/*
 * The context's error detail and log callback (the base of every layer,
 * declared in include/imss-renew/base.h).  The context itself is made and
 * freed with its modules by the token layer (pkcs11/module.c).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "imss-renew/base.h"

void
ctx_clear_detail(imss_ctx *ctx)
{
	ctx->detail[0] = '\0';
	ctx->next = IMSS_NEXT_NONE;
}

void
ctx_set_next(imss_ctx *ctx, imss_next next)
{
	ctx->next = next;
}

static void __attribute__((format(printf, 2, 0)))
ctx_vappend(imss_ctx *ctx, const char *fmt, va_list ap)
{
	size_t used = strlen(ctx->detail);

	if (used < sizeof(ctx->detail) - 1)
		vsnprintf(ctx->detail + used, sizeof(ctx->detail) - used, fmt, ap);
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
	ctx->next = next;
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
	return ctx->detail;
}

imss_next
imss_ctx_get_next(const imss_ctx *ctx)
{
	return ctx->next;
}
