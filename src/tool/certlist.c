/*
 * The certificates `status` and `check` look at, from a file, a legacy
 * credential or a token, with where their keys are.  One collection for
 * both commands; each decides what to show.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "tool.h"

/* The JSON words of the sources. */
const char CERT_SOURCE_FILE[] = "file";
const char CERT_SOURCE_CREDENTIAL[] = "credential";
const char CERT_SOURCE_TOKEN[] = "token";

void cert_entries_clear(struct cert_entries *e)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		free(e->v[i].location);
		free(e->v[i].key_location);
		free(e->v[i].token_label);
		imss_cert_info_clear(&e->v[i].info);
	}
	free(e->v);
	memset(e, 0, sizeof(*e));
}

/* A new entry for cert, described; key_location and token_label may be
 * NULL. */
static imss_err entry_add(struct cert_entries *e, const char *source, const char *location,
                          X509 *cert, int key_checked, const char *key_location,
                          const char *token_label)
{
	struct cert_entry *grown = realloc(e->v, (e->n + 1) * sizeof(*e->v));
	struct cert_entry *x;
	imss_err err;

	if (!grown)
		return IMSS_ERR_NOMEM;
	e->v = grown;
	x = &e->v[e->n];
	memset(x, 0, sizeof(*x));
	err = imss_cert_describe(cert, &x->info);
	if (err != IMSS_OK)
		return err;
	e->n++;
	x->source = source;
	x->is_ca = X509_check_ca(cert) == 1;
	x->key_checked = key_checked;
	x->key_present = key_location != NULL;
	x->location = strdup(location);
	x->key_location = key_location ? strdup(key_location) : NULL;
	x->token_label = token_label ? strdup(token_label) : NULL;
	if (!x->location || (key_location && !x->key_location) ||
	    (token_label && !x->token_label))
		return IMSS_ERR_NOMEM;
	return IMSS_OK;
}

int cert_entries_from_file(struct tool *t, const char *path, struct cert_entries *e)
{
	STACK_OF(X509) *certs = NULL;
	imss_ctx *ctx;
	imss_err err;
	int i;

	err = tool_ctx(t, &ctx);
	if (err == IMSS_OK)
		err = imss_certs_load(ctx, path, &certs);
	for (i = 0; err == IMSS_OK && i < sk_X509_num(certs); i++)
		err = entry_add(e, CERT_SOURCE_FILE, path, sk_X509_value(certs, i), 0, NULL, NULL);
	sk_X509_pop_free(certs, X509_free);
	return err == IMSS_OK ? TOOL_EXIT_OK : tool_fail(t, err, 0);
}

int cert_entries_from_credential(struct tool *t, const char *command, const char *path,
                                 const char *key_file, const char *password_source,
                                 struct cert_entries *e)
{
	imss_pin_source *password = NULL;
	imss_credential *cred = NULL;
	imss_err err;
	int rc;

	rc = tool_pin_source(t, command, "--password-source", password_source, &password);
	if (rc == TOOL_EXIT_OK)
		rc = tool_open_credential_files(t, path, key_file, password, &cred);
	if (password)
		imss_pin_source_free(password);
	if (rc != TOOL_EXIT_OK)
		return rc;
	/* Opening it proved the key is there and is the certificate's. */
	err = entry_add(e, CERT_SOURCE_CREDENTIAL, path, imss_credential_get_certificate(cred), 1,
	                key_file ? key_file : imss_credential_get_location(cred), NULL);
	imss_credential_free(cred);
	return err == IMSS_OK ? TOOL_EXIT_OK : tool_fail(t, err, 0);
}

imss_err cert_entries_from_token(struct tool *t, const char *uri, imss_pin_source *src,
                                 struct cert_entries *e)
{
	imss_token_cert *certs = NULL;
	imss_token *tok = NULL;
	const char *label;
	size_t count = 0, i;
	imss_err err;

	err = tool_open_login(t, uri, 0, src, &tok);
	if (err == IMSS_OK)
		err = imss_token_list_certificates(tok, &certs, &count);
	label = tok ? imss_token_get_info(tok)->label : NULL;
	for (i = 0; err == IMSS_OK && i < count; i++)
		err = entry_add(e, CERT_SOURCE_TOKEN, certs[i].uri, certs[i].cert,
		                certs[i].key_known, certs[i].key_uri, label ? label : "");
	e->logged_in = src != NULL;
	imss_token_cert_free(certs, count);
	if (tok)
		imss_token_close(tok);
	return err;
}
