/*
 * imss-renew csr: a PKCS#10 certificate request signed with SHA-256 by a
 * token key.  The subject is typed (--subject) or copied from the current
 * certificate (--subject-from, a file or a token URI), so that a renewal
 * keeps the employer's identity.  The library verifies the request's
 * signature against the token's public key before the tool writes it.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "tool.h"

#define COMMAND "csr"
#define PEM_TYPE "CERTIFICATE REQUEST"

struct csr_args {
	const char *key;
	const char *subject_from;
	const char *subject;
	const char *out; /* NULL: stdout */
	const char *pin_source;
	int der;
};

static const struct tool_option options[] = {
	{ "key", TOOL_ARG_MANDATORY, offsetof(struct csr_args, key), N_("URI"),
	  N_("the private key, as a PKCS#11 URI (see\n'imss-renew objects --login'); its token is used") },
	{ "subject-from", TOOL_ARG_REQUIRED, offsetof(struct csr_args, subject_from), N_("CERT"),
	  N_("copy the subject of the current certificate: a\nfile (DER, PEM or PKCS#7; the first certificate)\nor a certificate on a token (pkcs11: URI)") },
	{ "subject", TOOL_ARG_REQUIRED, offsetof(struct csr_args, subject), N_("DN"),
	  N_("the subject, as /O=Empresa/OU=Y1234567890/CN=Name\n('\\' escapes a '/'); exactly one of --subject and\n--subject-from") },
	{ "out", TOOL_ARG_REQUIRED, offsetof(struct csr_args, out), N_("FILE"),
	  N_("write the request to FILE (atomically) instead of\nstandard output") },
	{ "der", TOOL_ARG_NONE, offsetof(struct csr_args, der), NULL,
	  N_("DER instead of PEM (needs --out on a terminal)") },
	TOOL_OPTION_PIN_SOURCE(struct csr_args, pin_source),
	TOOL_OPTION_END,
};

/* What was made, for the output. */
struct csr_result {
	unsigned char *der; /* OPENSSL_free() */
	size_t len;
	char *key_uri;
	char *subject;
};

static void
synopsis(void)
{
	printf(_("Usage: %s [GLOBAL OPTIONS] %s --key URI\n"
	         "         (--subject-from CERT | --subject DN) [--out FILE] [--der]\n"
	         "         [--pin-source SRC]\n"
	         "Make a PKCS#10 certificate request (SHA-256) signed by a key inside\n"
	         "the token.  The request is checked against the token's public key\n"
	         "before it is written: a request that does not verify is never written.\n"),
	       TOOL_NAME, COMMAND);
}

static void
examples(void)
{
	printf(_("\nExamples:\n"
	         "  %s %s --key 'pkcs11:token=My%%20Token;object=imss-2025;type=private' \\\n"
	         "        --subject-from current.cer --out renewal.csr\n"
	         "  %s %s --key 'pkcs11:token=My%%20Token;object=imss-2025;type=private' \\\n"
	         "        --subject '/O=Empresa SA de CV/OU=Y1234567890/CN=Empresa' --der \\\n"
	         "        --out renewal.req --pin-source env:TOKEN_PIN\n"
	         "  %s --json %s --key 'pkcs11:serial=1234;id=%%01;type=private' \\\n"
	         "        --subject-from 'pkcs11:serial=1234;id=%%01;type=cert' | jq -r .pem\n"),
	       TOOL_NAME, COMMAND, TOOL_NAME, COMMAND, TOOL_NAME, COMMAND);
}

static int
check_args(struct tool *t, void *args)
{
	const struct csr_args *a = args;
	if (a->subject && a->subject_from)
		return tool_usage_error(t, COMMAND, "%s",
		                        _("give either --subject or --subject-from, not both"));
	if (!a->subject && !a->subject_from)
		return tool_usage_error(t, COMMAND, "%s",
		                        _("--subject DN or --subject-from CERT is required"));
	if (a->out && !*a->out)
		return tool_usage_error(t, COMMAND, "%s", _("--out FILE must not be empty"));
	if (a->der && !a->out && t->json)
		return tool_usage_error(t, COMMAND, "%s",
		                        _("a DER request cannot go into JSON: give --out FILE"));
	if (a->der && !a->out && isatty(STDOUT_FILENO))
		return tool_usage_error(t, COMMAND, "%s",
		                        _("a DER request is binary: give --out FILE"));
	return TOOL_EXIT_OK;
}

static int
subject_from_text(struct tool *t, const char *text, X509_NAME **out)
{
	return tool_typed_result(t, COMMAND, imss_subject_parse(text, out),
	                         _("malformed --subject '%s': use the form /O=Empresa/OU=Y1234567890/CN=Name"),
	                         text);
}

/* The certificate --subject-from names: on a token, or the first in a file. */
static imss_err
load_certificate(struct tool *t, const char *from, X509 **out)
{
	STACK_OF(X509) *certs = NULL;
	imss_ctx *ctx;
	imss_err err;

	*out = NULL;
	if (strncmp(from, "pkcs11:", 7) == 0)
		return tool_token_certificate(t, from, out);
	err = tool_ctx(t, &ctx);
	if (err == IMSS_OK)
		err = imss_certs_load(ctx, from, &certs);
	if (err == IMSS_OK)
		*out = sk_X509_shift(certs);
	sk_X509_pop_free(certs, X509_free);
	return err;
}

static int
subject_from_cert(struct tool *t, const char *from, X509_NAME **out)
{
	X509 *cert = NULL;
	imss_err err;

	*out = NULL;
	err = load_certificate(t, from, &cert);
	if (err != IMSS_OK)
		return tool_fail(t, err, 0);
	*out = X509_NAME_dup(X509_get_subject_name(cert));
	X509_free(cert);
	return *out ? TOOL_EXIT_OK : tool_fail(t, IMSS_ERR_NOMEM, 0);
}

/* The subject as RFC 2253 text, for JSON. */
static char *
name_text(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *text = NULL;
	long len;

	if (bio && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		len = BIO_get_mem_data(bio, &data);
		text = len >= 0 ? strndup(data, (size_t)len) : NULL;
	}
	BIO_free(bio);
	return text;
}

static void
result_clear(struct csr_result *r)
{
	OPENSSL_free(r->der);
	free(r->key_uri);
	free(r->subject);
	memset(r, 0, sizeof(*r));
}

/* Log in, find the key, make and encode the request. */
static imss_err
make_request(struct tool *t, const char *key_uri, const X509_NAME *subject, imss_pin_source *src,
             struct csr_result *r)
{
	imss_token *tok = NULL;
	imss_key *key = NULL;
	X509_REQ *req = NULL;
	imss_err err;
	int len;

	err = tool_open_login(t, key_uri, 0, src, &tok);
	if (err == IMSS_OK)
		err = imss_token_find_key(tok, key_uri, &key);
	if (err == IMSS_OK)
		err = imss_request_make(key, subject, &req);
	if (err != IMSS_OK)
		goto out;
	len = i2d_X509_REQ(req, &r->der);
	r->key_uri = strdup(imss_key_get_uri(key));
	r->subject = name_text(subject);
	if (len <= 0 || !r->key_uri || !r->subject) {
		err = IMSS_ERR_NOMEM;
		goto out;
	}
	r->len = (size_t)len;
out:
	X509_REQ_free(req);
	if (key)
		imss_key_free(key);
	if (tok)
		imss_token_close(tok);
	return err;
}

static int
print_json(struct tool *t, const struct csr_args *a, const struct csr_result *r)
{
	json_object *root = json_object_new_object();
	char *pem = NULL;
	size_t pem_len = 0;
	int failed, rc = TOOL_EXIT_OK;

	if (!a->out)
		rc = tool_pem_encode(t, PEM_TYPE, r->der, r->len, &pem, &pem_len);
	if (rc != TOOL_EXIT_OK) {
		json_object_put(root);
		goto out;
	}
	failed = !root || tool_json_str(root, "file", a->out) ||
	         tool_json_str(root, "format", a->der ? "der" : "pem") ||
	         tool_json_str(root, "key_uri", r->key_uri) ||
	         tool_json_str(root, "subject", r->subject) ||
	         (pem ? tool_json_add(root, "pem", json_object_new_string_len(pem, (int)pem_len))
	              : tool_json_str(root, "pem", NULL));
	rc = tool_json_answer(t, root, failed, IMSS_OK);
out:
	free(pem);
	return rc;
}

static int
run(struct tool *t, void *args)
{
	struct csr_args *a = args;
	struct csr_result r = { 0 };
	imss_pin_source *src = NULL;
	X509_NAME *subject = NULL;
	imss_err err;
	int rc;

	rc = tool_pin_source(t, COMMAND, "--pin-source", a->pin_source, &src);
	if (rc == TOOL_EXIT_OK)
		rc = a->subject ? subject_from_text(t, a->subject, &subject)
		                : subject_from_cert(t, a->subject_from, &subject);
	if (rc != TOOL_EXIT_OK)
		goto out;
	err = make_request(t, a->key, subject, src, &r);
	if (err != IMSS_OK) {
		rc = tool_fail(t, err, 0);
		goto out;
	}
	if (a->out || !t->json)
		rc = tool_write_encoded(t, a->out, 1, a->der, PEM_TYPE, r.der, r.len);
	if (rc == TOOL_EXIT_OK && t->json)
		rc = print_json(t, a, &r);
out:
	result_clear(&r);
	X509_NAME_free(subject);
	if (src)
		imss_pin_source_free(src);
	return rc;
}

TOOL_COMMAND_CHECKED(cmd_csr, struct csr_args,
                     N_("make a certificate request signed by a token key"), check_args);
