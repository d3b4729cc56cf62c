/*
 * The library context's PKCS#11 modules, loaded through p11-kit (the
 * detail of the last error and the log are the base's: src/base/context.c).
 *
 * Modules are loaded on first use.  p11-kit's managed modules survive being
 * initialised more than once in a process (by us and by another library),
 * and p11_kit_module_initialize() treats CKR_CRYPTOKI_ALREADY_INITIALIZED
 * as success.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "token-internal.h"

imss_err
ctx_fail_rv(imss_ctx *ctx, const char *function, CK_RV rv)
{
	ctx_set_detail(ctx, "%s: %s (%s)", function, ckr_message(rv), ckr_name(rv));
	ctx_set_next(ctx, ckr_next(rv));
	return ckr_to_err(rv);
}

imss_err
imss_ctx_new(const char *module_path, imss_ctx **out)
{
	imss_ctx *ctx;

	*out = NULL;
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return IMSS_ERR_NOMEM;
	if (module_path != NULL) {
		ctx->module_path = strdup(module_path);
		if (ctx->module_path == NULL) {
			free(ctx);
			return IMSS_ERR_NOMEM;
		}
	}
	*out = ctx;
	return IMSS_OK;
}

static imss_err
ctx_add_module(imss_ctx *ctx, CK_FUNCTION_LIST *funcs, const char *path, int from_registry)
{
	struct imss_module *grown, *m;
	char *name;

	grown = realloc(ctx->modules, (ctx->n_modules + 1) * sizeof(*grown));
	if (grown == NULL)
		return IMSS_ERR_NOMEM;
	ctx->modules = grown;
	m = &ctx->modules[ctx->n_modules];
	memset(m, 0, sizeof(*m));
	name = from_registry ? p11_kit_module_get_name(funcs) : NULL;
	if (name == NULL)
		name = strdup(path != NULL ? path : _("unnamed module"));
	if (name == NULL)
		return IMSS_ERR_NOMEM;
	m->funcs = funcs;
	m->name = name;
	m->from_registry = from_registry;
	if (path != NULL && (m->path = strdup(path)) == NULL) {
		free(name);
		return IMSS_ERR_NOMEM;
	}
	ctx->n_modules++;
	return IMSS_OK;
}

/* Load one module by path, unless it is loaded already. */
static imss_err
ctx_load_path(imss_ctx *ctx, const char *path, struct imss_module **loaded)
{
	CK_FUNCTION_LIST *funcs;
	CK_RV rv;
	imss_err err;
	size_t i;

	for (i = 0; i < ctx->n_modules; i++) {
		if (ctx->modules[i].path != NULL && strcmp(ctx->modules[i].path, path) == 0) {
			*loaded = &ctx->modules[i];
			return IMSS_OK;
		}
	}
	funcs = p11_kit_module_load(path, 0);
	if (funcs == NULL)
		return ctx_fail_next(ctx, IMSS_ERR_MODULE_LOAD, IMSS_NEXT_CHECK_MODULE,
		                     _("cannot load '%s': %s. Check the module's path, given or in the token's URI (module-path=)."),
		                     path, p11_kit_message() ? p11_kit_message() : strerror(errno));
	rv = p11_kit_module_initialize(funcs);
	if (rv != CKR_OK) {
		p11_kit_module_release(funcs);
		ctx_fail_rv(ctx, "C_Initialize", rv);
		ctx_append_detail(ctx, _(" (module %s)"), path);
		return IMSS_ERR_MODULE_INIT;
	}
	err = ctx_add_module(ctx, funcs, path, 0);
	if (err != IMSS_OK) {
		p11_kit_module_finalize(funcs);
		p11_kit_module_release(funcs);
		return err;
	}
	*loaded = &ctx->modules[ctx->n_modules - 1];
	return IMSS_OK;
}

imss_err
ctx_load_modules(imss_ctx *ctx)
{
	struct imss_module *m;
	CK_FUNCTION_LIST **registry;
	imss_err err;
	size_t i;

	if (ctx->loaded)
		return IMSS_OK;
	if (ctx->module_path != NULL) {
		err = ctx_load_path(ctx, ctx->module_path, &m);
		if (err != IMSS_OK)
			return err;
		ctx->loaded = 1;
		return IMSS_OK;
	}
	registry = p11_kit_modules_load_and_initialize(0);
	ctx->registry = registry;
	if (registry == NULL)
		return ctx_fail_next(ctx, IMSS_ERR_MODULE_LOAD, IMSS_NEXT_CHECK_MODULE,
		                     _("cannot load the PKCS#11 modules of the p11-kit registry: %s. Name a module to use."),
		                     p11_kit_message() ? p11_kit_message() : "?");
	for (i = 0; registry[i] != NULL; i++) {
		err = ctx_add_module(ctx, registry[i], NULL, 1);
		if (err != IMSS_OK)
			return err;
	}
	ctx->loaded = 1;
	return IMSS_OK;
}

imss_err
ctx_module_for_uri(imss_ctx *ctx, P11KitUri *uri, struct imss_module **only)
{
	const char *path = p11_kit_uri_get_module_path(uri);

	*only = NULL;
	if (path == NULL)
		return ctx_load_modules(ctx);
	return ctx_load_path(ctx, path, only);
}

const char *
ctx_module_name(imss_ctx *ctx, CK_FUNCTION_LIST *f)
{
	size_t i;

	for (i = 0; i < ctx->n_modules; i++)
		if (ctx->modules[i].funcs == f)
			return ctx->modules[i].name;
	return "?";
}

void
imss_ctx_unload_modules(imss_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->n_modules; i++) {
		struct imss_module *m = &ctx->modules[i];

		if (!m->from_registry) {
			p11_kit_module_finalize(m->funcs);
			p11_kit_module_release(m->funcs);
		}
		free(m->name);
		free(m->path);
	}
	if (ctx->registry != NULL)
		p11_kit_modules_finalize_and_release(ctx->registry);
	free(ctx->modules);
	ctx->modules = NULL;
	ctx->n_modules = 0;
	ctx->registry = NULL;
	ctx->loaded = 0;
}

void
imss_ctx_free(imss_ctx *ctx)
{
	if (ctx == NULL)
		return;
	imss_ctx_unload_modules(ctx);
	ctx_libctx_free(ctx);
	free(ctx->module_path);
	free(ctx);
}
