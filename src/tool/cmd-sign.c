/*
 * imss-renew sign: a CMS SignedData (SHA-256, signing time, the signer's
 * certificate included) over a file, made with a token key or with the
 * files IMSS users hold today (.pfx, or .cer + .key).  Detached by default;
 * the library verifies every signature before the tool writes it.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "tool.h"

#define COMMAND "sign"
#define PEM_TYPE "CMS"

struct sign_args {
	const char *key;
	const char *credential;
	const char *key_file;
	const char *in;
	const char *out;
	const char *pin_source;
	const char *password_source;
	int attached;
	int der;
};

static const struct tool_option options[] = {
	{ "key", TOOL_ARG_REQUIRED, offsetof(struct sign_args, key), N_("URI"),
	  N_("a private key on a token (PKCS#11 URI)") },
	{ "credential", TOOL_ARG_REQUIRED, offsetof(struct sign_args, credential), N_("FILE"),
	  N_("a .pfx/.p12 file, or a .cer whose .key is next\nto it (same name, .key)") },
	{ "key-file", TOOL_ARG_REQUIRED, offsetof(struct sign_args, key_file), N_("FILE"),
	  N_("the .key of a .cer, when it has another name") },
	{ "in", TOOL_ARG_MANDATORY, offsetof(struct sign_args, in), N_("FILE"),
	  N_("the file to sign (up to 64 MiB)") },
	{ "out", TOOL_ARG_MANDATORY, offsetof(struct sign_args, out), N_("FILE"),
	  N_("where the signature goes (written atomically)") },
	{ "attached", TOOL_ARG_NONE, offsetof(struct sign_args, attached), NULL,
	  N_("put the content inside the signature") },
	{ "der", TOOL_ARG_NONE, offsetof(struct sign_args, der), NULL, N_("DER instead of PEM") },
	TOOL_OPTION_PIN_SOURCE(struct sign_args, pin_source),
	TOOL_OPTION_PASSWORD_SOURCE(struct sign_args, password_source),
	TOOL_OPTION_END,
};

/* The credential and what holds it open. */
struct signer {
	imss_pin_source *secret; /* the token PIN or the files' password */
	imss_token *tok;
	imss_credential *cred;
};

static void
synopsis(void)
{
	printf(_("Usage: %s [GLOBAL OPTIONS] %s\n"
	         "         (--key URI | --credential FILE [--key-file FILE])\n"
	         "         --in FILE --out FILE [--attached] [--der]\n"
	         "         [--pin-source SRC] [--password-source SRC]\n"
	         "Sign a file: a CMS SignedData with SHA-256, the signing time and the\n"
	         "signer's certificate, detached unless --attached.  The key is a token\n"
	         "key with its certificate stored next to it (see 'imss-renew import'),\n"
	         "or the .pfx or .cer + .key that IMSS gave.  Every signature is checked\n"
	         "before it is written.\n"),
	       TOOL_NAME, COMMAND);
}

static void
examples(void)
{
	printf(_("\nExamples:\n"
	         "  %s %s --key 'pkcs11:token=My%%20Token;object=imss-2025;type=private' \\\n"
	         "        --in carta.pdf --out carta.pdf.p7s\n"
	         "  %s %s --credential empresa.pfx --password-source file:pfx-pass.txt \\\n"
	         "        --in challenge.bin --out challenge.p7m --attached --der\n"
	         "  %s %s --credential empresa.cer --key-file Claveprivada_FIEL.key \\\n"
	         "        --in carta.pdf --out carta.pdf.p7s\n"
	         "  openssl cms -verify -binary -in carta.pdf.p7s -inform PEM \\\n"
	         "        -content carta.pdf -CAfile imss-ca.pem -out /dev/null\n"),
	       TOOL_NAME, COMMAND, TOOL_NAME, COMMAND, TOOL_NAME, COMMAND);
}

/* --out naming the very file --in names would replace what was signed. */
static int
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static int
check_args(struct tool *t, void *args)
{
	const struct sign_args *a = args;
	int rc;

	if (!a->key == !a->credential)
		return tool_usage_error(t, COMMAND, "%s",
		                        _("give exactly one of --key URI and --credential FILE"));
	if (a->pin_source && !a->key)
		return tool_usage_error(t, COMMAND, "%s",
		                        _("--pin-source goes with --key (use --password-source "
		                          "for a .pfx or .key)"));
	rc = tool_check_credential_options(t, COMMAND, a->credential, a->key_file,
	                                   a->password_source);
	if (rc != TOOL_EXIT_OK)
		return rc;
	if (same_file(a->in, a->out))
		return tool_usage_error(t, COMMAND, "%s",
		                        _("--out names the file to sign: it would be replaced"));
	return TOOL_EXIT_OK;
}

static void
signer_close(struct signer *s)
{
	/* The credential before the token that holds its key. */
	if (s->cred)
		imss_credential_free(s->cred);
	if (s->tok)
		imss_token_close(s->tok);
	if (s->secret)
		imss_pin_source_free(s->secret);
}

/* Before anything is read: a malformed source is a usage error. */
static int
signer_source(struct tool *t, const struct sign_args *a, struct signer *s)
{
	if (a->credential)
		return tool_pin_source(t, COMMAND, "--password-source", a->password_source,
		                       &s->secret);
	return tool_pin_source(t, COMMAND, "--pin-source", a->pin_source, &s->secret);
}

static int
signer_open(struct tool *t, const struct sign_args *a, struct signer *s)
{
	imss_err err;

	if (a->credential)
		return tool_open_credential_files(t, a->credential, a->key_file, s->secret, &s->cred);
	err = tool_open_login(t, a->key, 0, s->secret, &s->tok);
	if (err == IMSS_OK)
		err = imss_credential_from_token(s->tok, a->key, &s->cred);
	return err == IMSS_OK ? TOOL_EXIT_OK : tool_fail(t, err, 0);
}

static int
print_json(struct tool *t, const struct sign_args *a, const imss_credential *cred)
{
	json_object *root = json_object_new_object();
	X509 *cert = imss_credential_get_certificate(cred);
	imss_cert_info info = { 0 };
	imss_err err = cert ? imss_cert_describe(cert, &info) : IMSS_ERR_INVALID_ARG;
	int failed, rc;

	failed = err != IMSS_OK || !root || tool_json_str(root, "file", a->out) ||
	         tool_json_str(root, "format", a->der ? "der" : "pem") ||
	         tool_json_bool(root, "attached", a->attached) ||
	         tool_json_str(root, "key_location", imss_credential_get_location(cred)) ||
	         tool_json_str(root, "signer", info.subject) ||
	         tool_json_str(root, "serial", info.serial);
	rc = tool_json_answer(t, root, failed, err);
	imss_cert_info_clear(&info);
	return rc;
}

static int
run(struct tool *t, void *args)
{
	struct sign_args *a = args;
	struct signer s = { 0 };
	unsigned char *data = NULL, *der = NULL;
	size_t len = 0, der_len = 0;
	imss_err err;
	int rc;

	/* The file before the key: a missing one should not cost a PIN prompt. */
	rc = signer_source(t, a, &s);
	if (rc == TOOL_EXIT_OK)
		rc = tool_read_file(t, a->in, &data, &len);
	if (rc == TOOL_EXIT_OK)
		rc = signer_open(t, a, &s);
	if (rc != TOOL_EXIT_OK)
		goto out;
	err = imss_cms_sign(t->ctx, s.cred, data, len, a->attached ? IMSS_CMS_ATTACHED : 0, &der,
	                    &der_len);
	if (err != IMSS_OK) {
		rc = tool_fail(t, err, 0);
		goto out;
	}
	rc = tool_write_encoded(t, a->out, 1, a->der, PEM_TYPE, der, der_len);
	if (rc == TOOL_EXIT_OK && t->json)
		rc = print_json(t, a, s.cred);
out:
	OPENSSL_free(der);
	free(data);
	signer_close(&s);
	return rc;
}

TOOL_COMMAND_CHECKED(cmd_sign, struct sign_args,
                     N_("sign a file (CMS) with a token key or a .pfx/.cer+.key"), check_args);
