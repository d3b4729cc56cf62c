/*
 * The certificates `status` and `check` look at, from a file, a legacy
 * credential or a token, with where their keys are.  One collection for
 * both commands; each decides what to show.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "tool.h"

/* The JSON words of the sources. */
const char CERT_SOURCE_FILE[] = "file";
const char CERT_SOURCE_CREDENTIAL[] = "credential";
const char CERT_SOURCE_TOKEN[] = "token";

void
cert_entries_clear(struct cert_entries *e)
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
static imss_err
entry_add(struct cert_entries *e, const char *source, const char *location, X509 *cert,
          int key_checked, const char *key_location, const char *token_label)
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
	if (!x->location || (key_location && !x->key_location) || (token_label && !x->token_label))
		return IMSS_ERR_NOMEM;
	return IMSS_OK;
}

static int
from_file(struct tool *t, const char *path, struct cert_entries *e)
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

static int
from_credential(struct tool *t, const char *command, const char *path, const char *key_file,
                const char *password_source, struct cert_entries *e)
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

imss_err
cert_entries_from_token(struct tool *t, const char *uri, imss_pin_source *src, struct cert_entries *e)
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

int
cert_args_check(struct tool *t, const char *command, const struct cert_args *a, int login_needs_token)
{
	int token_source = login_needs_token ? a->token != NULL : !a->cert && !a->credential;

	int rc;

	if (!!a->cert + !!a->credential + !!a->token > 1)
		return tool_usage_error(t, command, "%s",
		                        _("give at most one of --cert, --credential and --token"));
	rc = tool_check_key_file(t, command, a->key_file, a->credential);
	if (rc != TOOL_EXIT_OK)
		return rc;
	if (a->password_source && !a->credential)
		return tool_usage_error(t, command, "%s",
		                        _("--password-source goes with --credential"));
	if ((a->login || a->pin_source) && !token_source)
		return tool_usage_error(t, command, "%s",
		                        login_needs_token
		                                ? _("--login and --pin-source go with --token URI")
		                                : _("--login and --pin-source go with a token"));
	return TOOL_EXIT_OK;
}

static int
from_token(struct tool *t, const char *command, const struct cert_args *a, struct cert_entries *e)
{
	imss_pin_source *src = NULL;
	imss_err err;
	int rc;

	if (a->login || a->pin_source) {
		rc = tool_pin_source(t, command, "--pin-source", a->pin_source, &src);
		if (rc != TOOL_EXIT_OK)
			return rc;
	}
	err = cert_entries_from_token(t, a->token, src, e);
	if (src)
		imss_pin_source_free(src);
	return err == IMSS_OK ? TOOL_EXIT_OK : tool_fail(t, err, 0);
}

int
cert_entries_collect(struct tool *t, const char *command, const struct cert_args *a,
                     struct cert_entries *e)
{
	if (a->cert)
		return from_file(t, a->cert, e);
	if (a->credential)
		return from_credential(t, command, a->credential, a->key_file, a->password_source, e);
	return from_token(t, command, a, e);
}

static int
add_key_fields(json_object *obj, const struct cert_entry *x)
{
	return tool_json_bool(obj, "key_checked", x->key_checked) ||
	       tool_json_tristate(obj, "key_present", x->key_checked ? x->key_present : -1) ||
	       tool_json_str(obj, "key_location", x->key_location);
}

static int
add_subject_fields(json_object *obj, const imss_cert_info *info)
{
	return tool_json_str(obj, "subject", info->subject) ||
	       tool_json_str(obj, "razon_social", info->razon_social) ||
	       tool_json_str(obj, "registro_patronal", info->registro_patronal) ||
	       tool_json_str(obj, "rfc", info->rfc) || tool_json_str(obj, "curp", info->curp) ||
	       tool_json_str(obj, "email", info->email) ||
	       tool_json_str(obj, "issuer", info->issuer) ||
	       tool_json_str(obj, "serial", info->serial) ||
	       tool_json_str(obj, "fingerprint_sha256", info->fingerprint);
}

static json_object *
entry_json(const struct cert_entry *x, const char *const *verdicts)
{
	json_object *obj = json_object_new_object();
	char from[TOOL_TIME_SIZE], until[TOOL_TIME_SIZE];

	tool_time_text(x->info.not_before, from, sizeof(from));
	tool_time_text(x->info.not_after, until, sizeof(until));
	if (!obj || (verdicts && tool_json_str(obj, "status", verdicts[x->verdict])) ||
	    tool_json_str(obj, "source", x->source) || tool_json_str(obj, "location", x->location) ||
	    tool_json_str(obj, "token", x->token_label) || add_subject_fields(obj, &x->info) ||
	    tool_json_str(obj, "not_before", from) || tool_json_str(obj, "not_after", until) ||
	    tool_json_int(obj, "days_left", x->info.days_left) ||
	    tool_json_bool(obj, "expired", x->info.expired) ||
	    tool_json_bool(obj, "not_yet_valid", x->info.not_yet_valid) || add_key_fields(obj, x)) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

json_object *
cert_entries_json(const struct cert_entries *e, const char *const *verdicts)
{
	json_object *root = json_object_new_object();
	json_object *array;
	size_t i;

	if (!root)
		return NULL;
	array = json_object_new_array();
	if (tool_json_add(root, "certificates", array) != 0)
		goto fail;
	for (i = 0; i < e->n; i++)
		if (tool_json_append(array, entry_json(&e->v[i], verdicts)) != 0)
			goto fail;
	return root;
fail:
	json_object_put(root);
	return NULL;
}
