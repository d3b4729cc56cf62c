/*
 * imss-renew import: store a certificate on the token next to its private
 * key (same CKA_ID).  The input is DER, PEM or a PKCS#7 certs-only bundle;
 * in a bundle, the certificate whose key is on the token is the one stored
 * and the others may complete its chain to --ca.  Every refusal leaves the
 * token as it was.  The certificate's URI is the first line of output.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "tool.h"

#define COMMAND "import"

struct import_args {
	const char *token;
	const char *cert;
	const char *label; /* NULL: the key's label */
	const char *ca;
	const char *pin_source;
	int force;
};

static const struct tool_option options[] = {
	TOOL_OPTION_TOKEN(struct import_args, token),
	{ "cert", TOOL_ARG_MANDATORY, offsetof(struct import_args, cert), N_("FILE"),
	  N_("the certificate: DER (.cer), PEM or PKCS#7 (.p7b)") },
	{ "label", TOOL_ARG_REQUIRED, offsetof(struct import_args, label), N_("LABEL"),
	  N_("the label of the certificate object (default: the\nkey's label)") },
	{ "ca", TOOL_ARG_REQUIRED, offsetof(struct import_args, ca), N_("FILE"),
	  N_("CA certificate(s) the certificate must chain to;\nother certificates of a bundle may be intermediates") },
	{ "force", TOOL_ARG_NONE, offsetof(struct import_args, force), NULL,
	  N_("store an expired or not yet valid certificate too") },
	TOOL_OPTION_PIN_SOURCE(struct import_args, pin_source),
	TOOL_OPTION_END,
};

/* What was stored, for the output. */
struct import_result {
	char *uri;
	char *key_uri;
	imss_cert_info info;
};

static void
synopsis(void)
{
	printf(_("Usage: %s [GLOBAL OPTIONS] %s --token URI --cert FILE [--label LABEL]\n"
	         "         [--ca FILE] [--force] [--pin-source SRC]\n"
	         "Store a certificate on the token, next to the private key with the same\n"
	         "public key (same ID; the key's label unless --label).  FILE is DER, PEM\n"
	         "or a PKCS#7 bundle; from a bundle, the certificate whose key is on the\n"
	         "token is stored.  Refused, with the token unchanged, when no key on the\n"
	         "token matches, when the chain to --ca does not verify, or when the\n"
	         "certificate is expired or not valid yet (unless --force).  Importing the\n"
	         "same certificate again stores nothing new.  The first line of output is\n"
	         "the certificate's PKCS#11 URI.\n"),
	       TOOL_NAME, COMMAND);
}

static void
examples(void)
{
	printf(_("\nExamples:\n"
	         "  %s %s --token 'pkcs11:token=My%%20Token' --cert nuevo.cer\n"
	         "  %s %s --token 'pkcs11:token=My%%20Token' --cert nuevo.p7b \\\n"
	         "        --ca imss-ca.pem --pin-source env:TOKEN_PIN\n"
	         "  uri=$(%s %s --token 'pkcs11:serial=1234' --cert nuevo.pem \\\n"
	         "        --label imss-2025 --pin-source fd:3 3<pin.txt | sed -n 1p)\n"),
	       TOOL_NAME, COMMAND, TOOL_NAME, COMMAND, TOOL_NAME, COMMAND);
}

static int
check_args(struct tool *t, void *args)
{
	const struct import_args *a = args;
	if (a->label && !*a->label)
		return tool_usage_error(t, COMMAND, "%s", _("--label must not be empty"));
	if (a->ca && !*a->ca)
		return tool_usage_error(t, COMMAND, "%s", _("--ca FILE must not be empty"));
	return TOOL_EXIT_OK;
}

/*
 * The certificate of the bundle whose private key is on the token (the
 * first one when none is: the library then refuses it with its reason).
 */
static imss_err
pick_leaf(imss_token *tok, STACK_OF(X509) * certs, X509 **leaf, char **key_uri)
{
	imss_key *key = NULL;
	imss_err err = IMSS_OK;
	int i;

	*leaf = sk_X509_value(certs, 0);
	*key_uri = NULL;
	for (i = 0; i < sk_X509_num(certs); i++) {
		err = imss_token_find_key_for(tok, X509_get0_pubkey(sk_X509_value(certs, i)), &key);
		if (err == IMSS_ERR_NO_OBJECT)
			continue;
		if (err != IMSS_OK)
			return err;
		*leaf = sk_X509_value(certs, i);
		*key_uri = strdup(imss_key_get_uri(key));
		imss_key_free(key);
		return *key_uri ? IMSS_OK : IMSS_ERR_NOMEM;
	}
	return IMSS_OK;
}

/*
 * Intermediates from the bundle that lead from leaf to a --ca certificate.
 * The library trusts every certificate it is given as a CA, so a bundle's
 * certificate is handed over only once this chain to --ca is verified
 * (with the library's own time rule: not checked with --force).
 */
static int
add_verified_intermediates(X509 *leaf, STACK_OF(X509) * bundle, STACK_OF(X509) * trusted, int force)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	STACK_OF(X509) * chain;
	int ok = 0, i;

	if (!store || !vctx)
		goto out;
	for (i = 0; i < sk_X509_num(trusted); i++)
		if (!X509_STORE_add_cert(store, sk_X509_value(trusted, i)))
			goto out;
	if (!X509_STORE_CTX_init(vctx, store, leaf, bundle))
		goto out;
	if (force)
		X509_STORE_CTX_set_flags(vctx, X509_V_FLAG_NO_CHECK_TIME);
	ok = 1;
	if (X509_verify_cert(vctx) != 1)
		goto out; /* the library says why, with --ca alone */
	chain = X509_STORE_CTX_get0_chain(vctx);
	/* each one not there yet (X509_cmp), with a reference of its own */
	for (i = 1; ok && i < sk_X509_num(chain); i++)
		ok = X509_add_cert(trusted, sk_X509_value(chain, i),
		                   X509_ADD_FLAG_UP_REF | X509_ADD_FLAG_NO_DUP);
out:
	ERR_clear_error();
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	return ok;
}

static void
result_clear(struct import_result *r)
{
	free(r->uri);
	free(r->key_uri);
	imss_cert_info_clear(&r->info);
}

/* Log in, pick the certificate, verify its chain, store it. */
static imss_err
import(struct tool *t, const struct import_args *a, STACK_OF(X509) * certs, STACK_OF(X509) * ca,
       imss_pin_source *src, struct import_result *r)
{
	imss_token *tok = NULL;
	X509 *leaf = NULL;
	imss_err err;

	err = tool_open_login(t, a->token, 1, src, &tok);
	if (err == IMSS_OK)
		err = pick_leaf(tok, certs, &leaf, &r->key_uri);
	if (err == IMSS_OK && ca && sk_X509_num(certs) > 1 &&
	    !add_verified_intermediates(leaf, certs, ca, a->force))
		err = IMSS_ERR_NOMEM;
	if (err == IMSS_OK)
		err = imss_token_import_certificate(tok, leaf, ca, a->label,
		                                    a->force ? IMSS_IMPORT_FORCE : 0, &r->uri);
	if (err == IMSS_OK)
		err = imss_cert_describe(leaf, &r->info);
	if (tok)
		imss_token_close(tok);
	return err;
}

static void
print_text(const struct import_result *r)
{
	char until[TOOL_TIME_SIZE];

	tool_time_text(r->info.not_after, until, sizeof(until));
	puts(r->uri ? r->uri : "");
	tool_field(_("private key"), r->key_uri);
	tool_field(_("subject"), r->info.subject);
	tool_field(_("serial"), r->info.serial);
	tool_field(_("valid until"), until);
}

/* The JSON answer, or the error when it cannot be made: an exit status. */
static int
print_json(struct tool *t, const struct import_result *r)
{
	json_object *root = json_object_new_object();
	char until[TOOL_TIME_SIZE];
	int failed;

	tool_time_text(r->info.not_after, until, sizeof(until));
	failed = !root || tool_json_str(root, "uri", r->uri) ||
	         tool_json_str(root, "key_uri", r->key_uri) ||
	         tool_json_str(root, "subject", r->info.subject) ||
	         tool_json_str(root, "serial", r->info.serial) ||
	         tool_json_str(root, "fingerprint_sha256", r->info.fingerprint) ||
	         tool_json_str(root, "not_after", until);
	return tool_json_answer(t, root, failed, IMSS_OK);
}

/* Certificates from a file; NULL path leaves *out NULL. */
static imss_err
load_certs(struct tool *t, const char *path, STACK_OF(X509) * *out)
{
	imss_ctx *ctx;
	imss_err err;

	*out = NULL;
	if (!path)
		return IMSS_OK;
	err = tool_ctx(t, &ctx);
	if (err == IMSS_OK)
		err = imss_certs_load(ctx, path, out);
	return err;
}

static int
run(struct tool *t, void *args)
{
	struct import_args *a = args;
	struct import_result r = { 0 };
	STACK_OF(X509) *certs = NULL, *ca = NULL;
	imss_pin_source *src = NULL;
	imss_err err;
	int rc;

	rc = tool_pin_source(t, COMMAND, "--pin-source", a->pin_source, &src);
	if (rc != TOOL_EXIT_OK)
		goto out;
	/* The files first: a bad one should not cost a PIN prompt. */
	err = load_certs(t, a->cert, &certs);
	if (err == IMSS_OK)
		err = load_certs(t, a->ca, &ca);
	if (err == IMSS_OK)
		err = import(t, a, certs, ca, src, &r);
	if (err != IMSS_OK) {
		rc = tool_fail(t, err, 0);
		goto out;
	}
	if (t->json)
		rc = print_json(t, &r);
	else
		print_text(&r);
out:
	result_clear(&r);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(ca, X509_free);
	if (src)
		imss_pin_source_free(src);
	return rc;
}

TOOL_COMMAND_CHECKED(cmd_import, struct import_args,
                     N_("store a certificate on the token next to its key"), check_args);
