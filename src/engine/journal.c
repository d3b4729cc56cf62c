/*
 * The renewal journal, as JSON (json-c), written atomically.  A journal
 * that does not parse, or names a state or field this version does not
 * know, stops the run: it is never taken for an empty one, since it may be
 * the only record of a key on the token.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "token-internal.h"
#include "journal.h"

#define JOURNAL_VERSION 1
#define JOURNAL_MAX (256 * 1024)

static const char *const state_names[] = {
#define JOURNAL_STATE_NAME(state, name) [state] = name,
	JOURNAL_STATES(JOURNAL_STATE_NAME)
#undef JOURNAL_STATE_NAME
};

#define N_STATES (sizeof(state_names) / sizeof(state_names[0]))

/* The string fields, by name, for reading and writing alike. */
/* clang-format off */
#define JOURNAL_FIELDS(X) \
	X(server) X(registro_patronal) X(token_serial) X(key_label) X(key_tmp_id) \
	X(key_id) X(key_spki_sha256) X(key_spki) X(request_path) X(letter_path) X(letter_sha256) \
	X(request_id) X(cert_path) X(cert_serial) X(email) X(protocol) X(key_origin) \
	X(kind)
/* clang-format on */

const char *
journal_state_name(enum journal_state s)
{
	return (size_t)s < N_STATES ? state_names[s] : "?";
}

const char *
journal_state_words(enum journal_state s)
{
	switch (s) {
	case JOURNAL_NEW:
		return _("nothing was done yet; it starts with the login");
	case JOURNAL_LOGGED_IN:
		return _("the login was done; the new key comes next");
	case JOURNAL_KEYGEN_STARTED:
		return _("the new key was being generated; it checks whether the key is on the token");
	case JOURNAL_KEY_GENERATED:
		return _("the new key is on the token; the certificate request comes next");
	case JOURNAL_REQUEST_BUILT:
		return _("the certificate request is ready; signing the terms letter comes next");
	case JOURNAL_LETTER_SIGNED:
		return _("the terms letter is signed; submitting the request comes next");
	case JOURNAL_SUBMIT_STARTED:
		return _("the request was being submitted; it asks the service whether it arrived");
	case JOURNAL_SUBMITTED:
		return _("the request was submitted; it waits for the certificate");
	case JOURNAL_CERT_RECEIVED:
		return _("the certificate was received; storing it on the token comes next");
	case JOURNAL_STORE_STARTED:
		return _("the certificate was being stored on the token; it checks what is there");
	case JOURNAL_STORED:
		return _("the certificate is on the token; only the last checks are left");
	case JOURNAL_DONE:
		return _("the renewal is finished");
	}
	return "?";
}

imss_err
journal_set(char **field, const char *value)
{
	char *copy = NULL;

	if (value != NULL && (copy = strdup(value)) == NULL)
		return IMSS_ERR_NOMEM;
	free(*field);
	*field = copy;
	return IMSS_OK;
}

void
journal_clear(struct journal *j)
{
#define FREE_FIELD(name) free(j->name);
	JOURNAL_FIELDS(FREE_FIELD)
#undef FREE_FIELD
	free(j->path);
	memset(j, 0, sizeof(*j));
}

static imss_err
corrupt(imss_ctx *ctx, const char *path, const char *why)
{
	return ctx_fail_next(ctx, IMSS_ERR_JOURNAL, IMSS_NEXT_LIST_OBJECTS,
	                     _("The renewal journal '%s' is damaged (%s). Nothing was changed. It may be the only record of a new key on the token: keep a copy, compare it with the objects on the token, then move it aside to start over."),
	                     path, why);
}

static int
state_from_name(const char *name, enum journal_state *out)
{
	size_t i;

	for (i = 0; i < N_STATES; i++)
		if (strcmp(state_names[i], name) == 0) {
			*out = (enum journal_state)i;
			return 1;
		}
	return 0;
}

/* Lower-case hex of min to max bytes, or absent. */
static int
hex_field_ok(const char *v, size_t min, size_t max)
{
	size_t n;

	if (v == NULL)
		return 1;
	n = strlen(v);
	return n % 2 == 0 && n >= 2 * min && n <= 2 * max && strspn(v, "0123456789abcdef") == n;
}

/* Every string is printable: what the journal holds reaches messages and
 * the terminal, and a tampered byte must not become an escape sequence. */
static int
journal_text_ok(const struct journal *j)
{
#define TEXT_OK(name)                                 \
	if (j->name != NULL && !str_is_text(j->name)) \
		return 0;
	JOURNAL_FIELDS(TEXT_OK)
#undef TEXT_OK
	return 1;
}

/* The key fields name one key, or none. */
static imss_err
journal_check_key(imss_ctx *ctx, const struct journal *j)
{
	if (j->state >= JOURNAL_KEYGEN_STARTED && j->key_label == NULL)
		return corrupt(ctx, j->path, _("missing key label"));
	/* The random ID is recorded with the state, before the token is
	 * asked, and the public key's hash right after: without either, a
	 * label alone would name the key, and a label is anybody's. */
	if (j->state >= JOURNAL_KEYGEN_STARTED && j->key_tmp_id == NULL && j->key_spki_sha256 == NULL)
		return corrupt(ctx, j->path, _("missing the random ID the key was generated with"));
	if (!hex_field_ok(j->key_tmp_id, 16, 64) || !hex_field_ok(j->key_id, 1, 64) ||
	    !hex_field_ok(j->key_spki_sha256, 32, 32) || !hex_field_ok(j->key_spki, 32, 1024) ||
	    (j->key_spki != NULL && j->key_spki_sha256 == NULL))
		return corrupt(ctx, j->path,
		               _("a key ID or hash is not hexadecimal of the right length"));
	if (j->state >= JOURNAL_KEY_GENERATED && (j->key_id == NULL || j->key_spki_sha256 == NULL))
		return corrupt(ctx, j->path, _("missing key ID or public key hash"));
	if (j->key_origin != NULL && (strcmp(j->key_origin, JOURNAL_KEY_ELSEWHERE) != 0 ||
	                              j->key_id == NULL || j->key_spki_sha256 == NULL))
		return corrupt(ctx, j->path,
		               _("an unknown key origin, or a key made elsewhere without its ID and public key hash"));
	if (j->protocol != NULL && imss_protocol_parse(j->protocol, &(imss_protocol){ 0 }) != IMSS_OK)
		return corrupt(ctx, j->path, _("an unknown protocol"));
	if (j->kind != NULL && strcmp(j->kind, JOURNAL_KIND_ENROLL) != 0 &&
	    strcmp(j->kind, JOURNAL_KIND_RENEW) != 0)
		return corrupt(ctx, j->path, _("an unknown kind (neither enroll nor renew)"));
	return IMSS_OK;
}

/* Every key must be known and every value of the right type. */
static imss_err
journal_from_json(imss_ctx *ctx, json_object *obj, struct journal *j)
{
	struct json_object_iterator it = json_object_iter_begin(obj);
	struct json_object_iterator end = json_object_iter_end(obj);
	int version = 0, have_state = 0;

	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		json_object *v = json_object_iter_peek_value(&it);
		int is_str = json_object_is_type(v, json_type_string);

		if (strcmp(key, "version") == 0 && json_object_is_type(v, json_type_int))
			version = json_object_get_int(v);
		else if (strcmp(key, "updated") == 0 && json_object_is_type(v, json_type_int))
			j->updated = json_object_get_int64(v);
		else if (strcmp(key, "state") == 0 && is_str)
			have_state = state_from_name(json_object_get_string(v), &j->state);
#define READ_FIELD(name)                                                         \
	else if (strcmp(key, #name) == 0 && is_str)                              \
	{                                                                        \
		if (journal_set(&j->name, json_object_get_string(v)) != IMSS_OK) \
			return IMSS_ERR_NOMEM;                                   \
	}
		JOURNAL_FIELDS(READ_FIELD)
#undef READ_FIELD
		else return corrupt(ctx, j->path, key);
	}
	if (version != JOURNAL_VERSION)
		return corrupt(ctx, j->path, _("unknown version"));
	if (!have_state)
		return corrupt(ctx, j->path, _("no valid state"));
	if (j->server == NULL || j->registro_patronal == NULL || j->token_serial == NULL)
		return corrupt(ctx, j->path, _("missing server, employer or token"));
	if (!journal_text_ok(j))
		return corrupt(ctx, j->path, _("a field holds control characters or invalid UTF-8"));
	return journal_check_key(ctx, j);
}

/* Open the journal itself: never through a symbolic link, never anything
 * but a regular file.  *f NULL when there is none. */
static imss_err
journal_open_file(imss_ctx *ctx, const char *path, FILE **f)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	*f = NULL;
	if (fd < 0 && errno == ENOENT)
		return IMSS_OK;
	if (fd < 0 && errno == ELOOP)
		return corrupt(ctx, path, _("a symbolic link, not a file"));
	if (fd < 0)
		return ctx_fail(ctx, IMSS_ERR_IO, _("Cannot read '%s': %s."), path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return corrupt(ctx, path, _("not a regular file"));
	}
	if ((*f = fdopen(fd, "rb")) == NULL) {
		close(fd);
		return IMSS_ERR_NOMEM;
	}
	return IMSS_OK;
}

static imss_err
slurp(imss_ctx *ctx, const char *path, char **out, size_t *len, int *exists)
{
	FILE *f = NULL;
	char *buf;
	size_t n;
	imss_err err = journal_open_file(ctx, path, &f);

	*out = NULL;
	*exists = 0;
	if (err != IMSS_OK || f == NULL)
		return err;
	*exists = 1;
	buf = malloc(JOURNAL_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		return IMSS_ERR_NOMEM;
	}
	n = fread(buf, 1, JOURNAL_MAX + 1, f);
	fclose(f);
	if (n > JOURNAL_MAX) {
		free(buf);
		return corrupt(ctx, path, _("too large"));
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return IMSS_OK;
}

imss_err
journal_parse(imss_ctx *ctx, const char *text, size_t len, struct journal *j)
{
	json_tokener *tok = NULL;
	json_object *obj = NULL;
	size_t end, i;
	imss_err err;

	if (len > JOURNAL_MAX)
		return corrupt(ctx, j->path, _("too large"));
	if (memchr(text, '\0', len) != NULL)
		return corrupt(ctx, j->path, _("not valid JSON"));
	tok = json_tokener_new();
	if (tok == NULL)
		return IMSS_ERR_NOMEM;
	obj = json_tokener_parse_ex(tok, text, (int)len);
	/* Trailing white space is fine; anything else is not. */
	end = obj != NULL ? json_tokener_get_parse_end(tok) : len + 1;
	for (i = end; i < len && memchr(" \t\r\n", text[i], 4) != NULL; i++)
		;
	if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(obj, json_type_object) || end > len || i < len)
		err = corrupt(ctx, j->path, _("not valid JSON"));
	else
		err = journal_from_json(ctx, obj, j);
	json_object_put(obj);
	json_tokener_free(tok);
	if (err != IMSS_OK) {
		char *p = j->path;

		j->path = NULL;
		journal_clear(j);
		j->path = p;
	}
	return err;
}

imss_err
journal_load(imss_ctx *ctx, const char *path, struct journal *j, int *exists)
{
	char *text = NULL;
	size_t len = 0;
	imss_err err;

	memset(j, 0, sizeof(*j));
	if ((j->path = strdup(path)) == NULL)
		return IMSS_ERR_NOMEM;
	err = slurp(ctx, path, &text, &len, exists);
	if (err == IMSS_OK && *exists)
		err = journal_parse(ctx, text, len, j);
	free(text);
	return err;
}

char *
journal_format(const struct journal *j)
{
	json_object *obj = json_object_new_object();
	const char *text;
	char *copy = NULL;

	if (obj == NULL)
		return NULL;
	json_object_object_add(obj, "version", json_object_new_int(JOURNAL_VERSION));
	json_object_object_add(obj, "state", json_object_new_string(journal_state_name(j->state)));
	json_object_object_add(obj, "updated", json_object_new_int64(j->updated));
#define WRITE_FIELD(name)    \
	if (j->name != NULL) \
		json_object_object_add(obj, #name, json_object_new_string(j->name));
	JOURNAL_FIELDS(WRITE_FIELD)
#undef WRITE_FIELD
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
	                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text != NULL)
		copy = strdup(text);
	json_object_put(obj);
	return copy;
}

imss_err
journal_save(imss_ctx *ctx, struct journal *j)
{
	char *text;
	imss_err err;

	j->updated = (long long)time(NULL);
	text = journal_format(j);
	err = text ? imss_write_file_atomic(ctx, j->path, text, strlen(text), 0600, 1)
	           : IMSS_ERR_NOMEM;
	free(text);
	if (err == IMSS_OK)
		j->unsaved = 0;
	return err;
}

imss_err
journal_flush(imss_ctx *ctx, struct journal *j)
{
	return j->unsaved ? journal_save(ctx, j) : IMSS_OK;
}

int
journal_key_elsewhere(const struct journal *j)
{
	return j->key_origin != NULL && strcmp(j->key_origin, JOURNAL_KEY_ELSEWHERE) == 0;
}
