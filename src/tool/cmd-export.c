/*
 * imss-renew export: copy a certificate from a token to a file, as a .cer
 * (DER, what the IMSS portal and SAT tools take) or PEM.  An existing file
 * is never replaced without --force.
 */
#include <stddef.h>
#include <stdio.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "tool.h"

#define COMMAND "export"
#define PEM_TYPE "CERTIFICATE"

struct export_args {
	const char *cert;
	const char *out;
	int pem;
	int force;
};

static const struct tool_option options[] = {
	{ "cert", TOOL_ARG_MANDATORY, offsetof(struct export_args, cert), N_("URI"),
	  N_("the certificate, as a PKCS#11 URI (see 'imss-renew\nobjects' or 'imss-renew status')") },
	{ "out", TOOL_ARG_MANDATORY, offsetof(struct export_args, out), N_("FILE"),
	  N_("the file to write") },
	{ "pem", TOOL_ARG_NONE, offsetof(struct export_args, pem), NULL, N_("PEM instead of DER") },
	{ "force", TOOL_ARG_NONE, offsetof(struct export_args, force), NULL,
	  N_("replace FILE if it exists") },
	TOOL_OPTION_END,
};

static void
synopsis(void)
{
	printf(_("Usage: %s [GLOBAL OPTIONS] %s --cert URI --out FILE [--pem] [--force]\n"
	         "Copy a certificate from a token to a file: DER (.cer) by default, or\n"
	         "PEM.  The file is written atomically; an existing file is left as it\n"
	         "is unless --force.  No login is needed.\n"),
	       TOOL_NAME, COMMAND);
}

static void
examples(void)
{
	printf(_("\nExamples:\n"
	         "  %s %s --cert 'pkcs11:token=My%%20Token;object=imss-2025;type=cert' \\\n"
	         "        --out empresa.cer\n"
	         "  %s %s --cert 'pkcs11:serial=1234;id=%%01;type=cert' --out empresa.pem \\\n"
	         "        --pem --force\n"),
	       TOOL_NAME, COMMAND, TOOL_NAME, COMMAND);
}

static int
print_json(struct tool *t, const struct export_args *a, X509 *cert)
{
	json_object *root = json_object_new_object();
	imss_cert_info info = { 0 };
	imss_err err = imss_cert_describe(cert, &info);
	int failed, rc;

	failed = err != IMSS_OK || !root || tool_json_str(root, "file", a->out) ||
	         tool_json_str(root, "format", a->pem ? "pem" : "der") ||
	         tool_json_str(root, "uri", a->cert) ||
	         tool_json_str(root, "subject", info.subject) ||
	         tool_json_str(root, "serial", info.serial) ||
	         tool_json_str(root, "fingerprint_sha256", info.fingerprint);
	rc = tool_json_answer(t, root, failed, err);
	imss_cert_info_clear(&info);
	return rc;
}

static int
run(struct tool *t, void *args)
{
	struct export_args *a = args;
	unsigned char *der = NULL;
	X509 *cert = NULL;
	imss_err err;
	int rc = TOOL_EXIT_OK, len;

	err = tool_token_certificate(t, a->cert, &cert);
	if (err != IMSS_OK) {
		rc = tool_fail(t, err, 0);
		goto out;
	}
	len = i2d_X509(cert, &der);
	if (len <= 0) {
		rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
		goto out;
	}
	rc = tool_write_encoded(t, a->out, a->force, !a->pem, PEM_TYPE, der, (size_t)len);
	if (rc == TOOL_EXIT_OK && t->json)
		rc = print_json(t, a, cert);
out:
	OPENSSL_free(der);
	X509_free(cert);
	return rc;
}

TOOL_COMMAND(cmd_export, struct export_args, N_("copy a certificate from a token to a file"));
