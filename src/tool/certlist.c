/*
 * The certificates `status` and `check` look at, from a file, a legacy
 * credential or a token, with where their keys are.  One collection for
 * both commands; each decides what to show.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

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
		free(e->v[i].superseded_by);
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
from_one_file(struct tool *t, const char *path, struct cert_entries *e)
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

/* "dir/name", malloc'd. */
static char *
join_path(const char *dir, const char *name)
{
	size_t size = strlen(dir) + strlen(name) + 2;
	char *path = malloc(size);

	if (path)
		snprintf(path, size, "%s/%s", dir, name);
	return path;
}

/* The names a directory's certificates have. */
static int
is_cert_name(const struct dirent *d)
{
	static const char *const exts[] = { ".cer", ".crt", ".pem", ".der" };
	size_t n = strlen(d->d_name), i;

	if (d->d_name[0] == '.' || n < 5)
		return 0;
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (strcasecmp(d->d_name + n - 4, exts[i]) == 0)
			return 1;
	return 0;
}

/* A file of a directory: a FIFO or device someone put there under a
 * certificate's name would block the scan or never end; refused. */
static int
from_dir_entry(struct tool *t, const char *path, struct cert_entries *e)
{
	struct stat st;

	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return tool_fail_detail(t, IMSS_ERR_IO,
		                        _("'%s' is not a regular file; it was not read. Remove it from the directory."),
		                        path);
	return from_one_file(t, path, e);
}

/* Every .cer, .crt, .pem and .der file of the directory dir, by name. */
static int
from_directory(struct tool *t, const char *dir, struct cert_entries *e)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, is_cert_name, alphasort), i, rc = TOOL_EXIT_OK;
	char *path;

	if (n < 0)
		return tool_fail_detail(t, IMSS_ERR_IO, _("The directory %s cannot be read: %s."),
		                        dir, strerror(errno));
	if (n == 0)
		rc = tool_fail_detail(t, IMSS_ERR_NO_OBJECT,
		                      _("The directory %s has no certificate file (.cer, .crt, .pem or .der)."),
		                      dir);
	for (i = 0; i < n; i++) {
		path = rc == TOOL_EXIT_OK ? join_path(dir, names[i]->d_name) : NULL;
		if (rc == TOOL_EXIT_OK && !path)
			rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
		if (rc == TOOL_EXIT_OK)
			rc = from_dir_entry(t, path, e);
		free(path);
		free(names[i]);
	}
	free(names);
	return rc;
}

/* Each --cert: a file, or a directory of them. */
static int
from_files(struct tool *t, const struct tool_strings *paths, struct cert_entries *e)
{
	struct stat st;
	size_t i;
	int rc = TOOL_EXIT_OK;

	for (i = 0; rc == TOOL_EXIT_OK && i < paths->n; i++)
		if (stat(paths->v[i], &st) == 0 && S_ISDIR(st.st_mode))
			rc = from_directory(t, paths->v[i], e);
		else
			rc = from_one_file(t, paths->v[i], e);
	return rc;
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
tool_check_credential_options(struct tool *t, const char *command, const char *credential,
                              const char *key_file, const char *password_source)
{
	int rc = tool_check_key_file(t, command, key_file, credential);

	if (rc == TOOL_EXIT_OK && password_source && !credential)
		rc = tool_usage_error(t, command, "%s",
		                      _("--password-source goes with --credential (use "
		                        "--pin-source for a token)"));
	return rc;
}

int
cert_args_check(struct tool *t, const char *command, const struct cert_args *a, int login_needs_token)
{
	int token_source = login_needs_token ? a->token != NULL : !a->certs.n && !a->credential;

	int rc;

	if (!!a->certs.n + !!a->credential + !!a->token > 1)
		return tool_usage_error(t, command, "%s",
		                        _("give at most one of --cert, --credential and --token"));
	rc = tool_check_credential_options(t, command, a->credential, a->key_file,
	                                   a->password_source);
	if (rc != TOOL_EXIT_OK)
		return rc;
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
	if (a->certs.n)
		return from_files(t, &a->certs, e);
	if (a->credential)
		return from_credential(t, command, a->credential, a->key_file, a->password_source, e);
	return from_token(t, command, a, e);
}

/* The value of the attribute name= ("object=") of a PKCS#11 URI,
 * percent-decoded into buf; "" when absent. */
static void
uri_attribute(const char *uri, const char *name, char *buf, size_t size)
{
	size_t name_len = strlen(name), len = 0;
	const char *p = strchr(uri, ':');
	unsigned int byte;

	buf[0] = '\0';
	while (p && strncmp(p + 1, name, name_len) != 0)
		p = strpbrk(p + 1, ";?");
	if (!p || *p == '?')
		return;
	for (p += 1 + name_len; *p && *p != ';' && *p != '?' && len + 1 < size; p++) {
		if (*p == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]) &&
		    sscanf(p + 1, "%2x", &byte) == 1) {
			buf[len++] = (char)byte;
			p += 2;
		} else {
			buf[len++] = *p;
		}
	}
	buf[len] = '\0';
}

/*
 * Did --retire-old relabel this token object?  Its label is the library's
 * "%s (retired %s)" (the old label, the date), in English or in the
 * language of this run: the words between the two %s are looked for.
 */
static int
label_is_retired(const char *uri)
{
	const char *const forms[] = { "%s (retired %s)", _("%s (retired %s)") };
	char label[512], middle[128];
	const char *form, *end;
	size_t i;

	uri_attribute(uri, "object=", label, sizeof(label));
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		form = strstr(forms[i], "%s");
		end = form ? strstr(form + 2, "%s") : NULL;
		if (!end || (size_t)(end - form - 2) >= sizeof(middle) || end == form + 2)
			continue;
		snprintf(middle, sizeof(middle), "%.*s", (int)(end - form - 2), form + 2);
		if (strstr(label, middle))
			return 1;
	}
	return 0;
}

int
cert_entry_current(const struct cert_entry *x)
{
	return !x->retired && !x->superseded_by;
}

/* May x's key be taken as present? (see cert_entries_mark()) */
static int
key_may_be_present(const struct cert_entry *x)
{
	if (x->key_checked)
		return x->key_present;
	return x->source == CERT_SOURCE_TOKEN;
}

/* Does newer supersede old: the same registro patronal, a later end of
 * validity (or the same end and a later start), its key present? */
static int
supersedes(const struct cert_entry *newer, const struct cert_entry *old)
{
	const char *rp = old->info.registro_patronal;

	if (newer == old || newer->retired || newer->is_ca || !rp || !*rp ||
	    !newer->info.registro_patronal || strcmp(rp, newer->info.registro_patronal) != 0 ||
	    !key_may_be_present(newer))
		return 0;
	return newer->info.not_after > old->info.not_after ||
	       (newer->info.not_after == old->info.not_after &&
	        newer->info.not_before > old->info.not_before);
}

/* Most urgent first: fewest days left; then by serial, for a stable
 * order. */
static int
by_days_left(const void *a, const void *b)
{
	const struct cert_entry *x = a, *y = b;

	if (x->info.not_after != y->info.not_after)
		return x->info.not_after < y->info.not_after ? -1 : 1;
	return strcmp(x->info.serial, y->info.serial);
}

imss_err
cert_entries_mark(struct cert_entries *e)
{
	size_t i, j;
	const struct cert_entry *newest;

	for (i = 0; i < e->n; i++)
		e->v[i].retired =
		        e->v[i].source == CERT_SOURCE_TOKEN && label_is_retired(e->v[i].location);
	for (i = 0; i < e->n; i++) {
		newest = NULL;
		for (j = 0; j < e->n; j++)
			if (supersedes(&e->v[j], &e->v[i]) &&
			    (!newest || supersedes(&e->v[j], newest)))
				newest = &e->v[j];
		if (newest && !(e->v[i].superseded_by = strdup(newest->info.serial)))
			return IMSS_ERR_NOMEM;
	}
	if (e->n > 1)
		qsort(e->v, e->n, sizeof(*e->v), by_days_left);
	return IMSS_OK;
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
	    tool_json_bool(obj, "not_yet_valid", x->info.not_yet_valid) || add_key_fields(obj, x) ||
	    tool_json_bool(obj, "retired", x->retired) ||
	    tool_json_str(obj, "superseded_by", x->superseded_by)) {
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
