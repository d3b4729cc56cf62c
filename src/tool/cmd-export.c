/*
 * imss-renew export: copy a certificate from a token to a file, as a .cer
 * (DER, what the IMSS portal and SAT tools take) or PEM.  An existing file
 * is never replaced without --force.
 */
#include <getopt.h>
#include <stdio.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "tool.h"

#define COMMAND "export"
#define PEM_TYPE "CERTIFICATE"

enum {
	OPT_CERT = TOOL_OPT_LONG,
	OPT_OUT,
	OPT_PEM,
	OPT_FORCE,
};

static const struct option options[] = {
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "pem", no_argument, NULL, OPT_PEM },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct export_args {
	const char *cert;
	const char *out;
	int pem;
	int force;
	int help;
};

static void usage(void)
{
	printf(_("Usage: %s [GLOBAL OPTIONS] %s --cert URI --out FILE [--pem] [--force]\n"
	         "Copy a certificate from a token to a file: DER (.cer) by default, or\n"
	         "PEM.  The file is written atomically; an existing file is left as it\n"
	         "is unless --force.  No login is needed.\n"), TOOL_NAME, COMMAND);
	fputs(_("\nOptions:\n"
	        "  --cert URI    the certificate, as a PKCS#11 URI (see 'imss-renew\n"
	        "                objects' or 'imss-renew status')\n"
	        "  --out FILE    the file to write\n"
	        "  --pem         PEM instead of DER\n"
	        "  --force       replace FILE if it exists\n"
	        "  -h, --help    print this help and exit\n"), stdout);
	printf(_("\nExamples:\n"
	         "  %s %s --cert 'pkcs11:token=My%%20Token;object=imss-2025;type=cert' \\\n"
	         "        --out empresa.cer\n"
	         "  %s %s --cert 'pkcs11:serial=1234;id=%%01;type=cert' --out empresa.pem \\\n"
	         "        --pem --force\n"),
	       TOOL_NAME, COMMAND, TOOL_NAME, COMMAND);
}

static int parse_args(struct tool *t, int argc, char **argv, struct export_args *a)
{
	int c;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (c) {
		case OPT_CERT:
			a->cert = optarg;
			break;
		case OPT_OUT:
			a->out = optarg;
			break;
		case OPT_PEM:
			a->pem = 1;
			break;
		case OPT_FORCE:
			a->force = 1;
			break;
		case 'h':
			a->help = 1;
			return TOOL_EXIT_OK;
		default:
			return tool_bad_option(t, COMMAND, argv, c);
		}
	}
	if (optind < argc)
		return tool_usage_error(t, COMMAND, _("unexpected argument '%s'"), argv[optind]);
	if (!a->cert)
		return tool_usage_error(t, COMMAND, "%s", _("--cert URI is required"));
	if (!a->out || !*a->out)
		return tool_usage_error(t, COMMAND, "%s", _("--out FILE is required"));
	return TOOL_EXIT_OK;
}

static imss_err find_certificate(struct tool *t, const char *uri, X509 **out)
{
	imss_token *tok = NULL;
	imss_err err;

	err = tool_open_token(t, uri, 0, &tok);
	if (err == IMSS_OK)
		err = imss_token_find_certificate(tok, uri, out);
	if (tok)
		imss_token_close(tok);
	return err;
}

static int print_json(struct tool *t, const struct export_args *a, X509 *cert)
{
	json_object *root = json_object_new_object();
	imss_cert_info info = { 0 };
	int rc = TOOL_EXIT_OK;
	imss_err err;

	err = imss_cert_describe(cert, &info);
	if (err != IMSS_OK || !root ||
	    tool_json_str(root, "file", a->out) ||
	    tool_json_str(root, "format", a->pem ? "pem" : "der") ||
	    tool_json_str(root, "uri", a->cert) ||
	    tool_json_str(root, "subject", info.subject) ||
	    tool_json_str(root, "serial", info.serial) ||
	    tool_json_str(root, "fingerprint_sha256", info.fingerprint)) {
		rc = tool_fail(t, err != IMSS_OK ? err : IMSS_ERR_NOMEM, 0);
		goto out;
	}
	tool_json_print(root);
	root = NULL;
out:
	imss_cert_info_clear(&info);
	json_object_put(root);
	return rc;
}

int cmd_export(struct tool *t, int argc, char **argv)
{
	struct export_args a = { 0 };
	unsigned char *der = NULL;
	X509 *cert = NULL;
	imss_err err;
	int rc, len;

	rc = parse_args(t, argc, argv, &a);
	if (rc != TOOL_EXIT_OK || a.help) {
		if (a.help)
			usage();
		goto out;
	}
	err = find_certificate(t, a.cert, &cert);
	if (err != IMSS_OK) {
		rc = tool_fail(t, err, 0);
		goto out;
	}
	len = i2d_X509(cert, &der);
	if (len <= 0) {
		rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
		goto out;
	}
	rc = tool_write_encoded(t, a.out, a.force, !a.pem, PEM_TYPE, der, (size_t)len);
	if (rc == TOOL_EXIT_OK && t->json)
		rc = print_json(t, &a, cert);
out:
	OPENSSL_free(der);
	X509_free(cert);
	return rc;
}
