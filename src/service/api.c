/*
 * imss-renew-service: routing, transactions, errors and the helpers of
 * the handlers (see api.h).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "api.h"
#include "db.h"
#include "json-set.h"
#include "util.h"

#define JSON_DEPTH 16

struct route {
	const char *method;
	const char *path; /* below API_BASE; ends in '/' when a parameter follows */
	int json;         /* takes a JSON body */
	int session;      /* needs a session */
	api_handler fn;
};

static const struct route routes[] = {
	{ "GET", "/ca", 0, 0, api_get_ca },
	{ "POST", "/challenge", 1, 0, api_post_challenge },
	{ "POST", "/session", 1, 0, api_post_session },
	{ "GET", "/session", 0, 1, api_get_session },
	{ "DELETE", "/session", 0, 1, api_delete_session },
	{ "GET", "/company", 0, 1, api_get_company },
	{ "PATCH", "/company", 1, 1, api_patch_company },
	{ "GET", "/letter", 0, 1, api_get_letter },
	{ "POST", "/letter/signature", 1, 1, api_post_letter_signature },
	{ "POST", "/renewal", 1, 1, api_post_renewal },
	{ "GET", "/requests/", 0, 1, api_get_request },
	{ "GET", "/certificates/", 0, 1, api_get_certificate },
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* The path below API_BASE matches the route's; *param gets the parameter. */
static int
path_matches(const struct route *r, const char *path, const char **param)
{
	size_t n = strlen(r->path);

	*param = NULL;
	if (r->path[n - 1] != '/')
		return strcmp(path, r->path) == 0;
	if (strncmp(path, r->path, n) != 0 || !path[n] || strchr(path + n, '/'))
		return 0;
	*param = path + n;
	return 1;
}

/* The route for the request; API_NOT_FOUND or API_METHOD_NOT_ALLOWED
 * (with Allow) when there is none. */
static enum api_code
find_route(const struct api_req *rq, struct api_resp *rs, const struct route **out, const char **param)
{
	const char *path = rq->path;
	char allow[64] = "";
	size_t i;

	if (strncmp(path, API_BASE, strlen(API_BASE)) != 0)
		return API_NOT_FOUND;
	path += strlen(API_BASE);
	for (i = 0; i < N_ROUTES; i++) {
		if (!path_matches(&routes[i], path, param))
			continue;
		if (strcmp(routes[i].method, rq->method) == 0) {
			*out = &routes[i];
			return API_OK;
		}
		snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
		         *allow ? ", " : "", routes[i].method);
	}
	if (!*allow)
		return API_NOT_FOUND;
	api_add_header(rs, "Allow", "%s", allow);
	return API_METHOD_NOT_ALLOWED;
}

static int
is_json_type(const char *ct)
{
	size_t n = strlen("application/json");

	if (!ct || strncasecmp(ct, "application/json", n) != 0)
		return 0;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* The 4 hex digits at p[i..i+4) as *value.  0 or -1. */
static int
hex4(const unsigned char *p, size_t len, size_t i, unsigned long *value)
{
	size_t k;
	int d;

	*value = 0;
	if (i + 4 > len)
		return -1;
	for (k = i; k < i + 4; k++) {
		d = OPENSSL_hexchar2int(p[k]);
		if (d < 0)
			return -1;
		*value = *value << 4 | (unsigned long)d;
	}
	return 0;
}

/*
 * 1 when every \u escape of the JSON text is a character other than NUL:
 * a surrogate only as a high one right followed by a low one.  (json-c
 * turns a lone surrogate into U+FFFD and cuts a member name at \u0000.)
 */
static int
escapes_valid(const unsigned char *p, size_t len)
{
	unsigned long u, low;
	int in_string = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '"')
			in_string = !in_string;
		if (!in_string || p[i] != '\\')
			continue;
		if (++i >= len)
			return 0;
		if (p[i] != 'u')
			continue;
		if (hex4(p, len, i + 1, &u) != 0 || u == 0 || (u >= 0xDC00 && u <= 0xDFFF))
			return 0;
		i += 4;
		if (u < 0xD800 || u > 0xDBFF)
			continue;
		if (i + 2 >= len || p[i + 1] != '\\' || p[i + 2] != 'u' ||
		    hex4(p, len, i + 3, &low) != 0 || low < 0xDC00 || low > 0xDFFF)
			return 0;
		i += 6;
	}
	return 1;
}

/* 1 when every member name and string in v, decoded, is strict UTF-8
 * without NUL. */
static int
strings_valid(json_object *v)
{
	size_t i, n;

	switch (json_object_get_type(v)) {
	case json_type_string:
		n = (size_t)json_object_get_string_len(v);
		return strlen(json_object_get_string(v)) == n &&
		       svc_utf8_valid(json_object_get_string(v), n);
	case json_type_array:
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			if (!strings_valid(json_object_array_get_idx(v, i)))
				return 0;
		return 1;
	case json_type_object: {
		json_object_object_foreach(v, key, val)
		{
			if (!svc_utf8_valid(key, strlen(key)) || !strings_valid(val))
				return 0;
		}
		return 1;
	}
	default:
		return 1;
	}
}

enum api_code
api_parse_json(const unsigned char *body, size_t len, json_object **out)
{
	json_tokener *tok;
	json_object *obj = NULL;
	size_t end, i;
	enum api_code code = API_JSON_MALFORMED;

	*out = NULL;
	if (len == 0 || len > API_BODY_MAX || !svc_utf8_valid((const char *)body, len) ||
	    !escapes_valid(body, len))
		return API_JSON_MALFORMED;
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok)
		return API_INTERNAL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, (const char *)body, (int)len);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(obj, json_type_object) || !strings_valid(obj))
		goto out;
	end = json_tokener_get_parse_end(tok);
	for (i = end; i < len; i++)
		if (!isspace(body[i]))
			goto out;
	*out = obj;
	obj = NULL;
	code = API_OK;
out:
	json_object_put(obj);
	json_tokener_free(tok);
	return code;
}

static enum api_code
parse_body(struct api_call *c)
{
	if (!is_json_type(c->rq->content_type))
		return API_CONTENT_TYPE;
	return api_parse_json(c->rq->body, c->rq->body_len, &c->body);
}

static enum api_code
session(struct api_call *c)
{
	const char *auth = c->rq->authorization;

	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return API_SESSION_MISSING;
	auth += 7;
	while (*auth == ' ')
		auth++;
	return auth_session_get(c->api->db, auth, c->now, c->api->cfg.session_idle, &c->sess);
}

void
api_lock(struct api *api)
{
	if (api->lock)
		pthread_mutex_lock(api->lock);
}

void
api_unlock(struct api *api)
{
	if (api->lock)
		pthread_mutex_unlock(api->lock);
}

/* The handler inside a transaction; committed only on success. */
static enum api_code
run(struct api_call *c, const struct route *r)
{
	sqlite3 *db = c->api->db;
	enum api_code code;

	if (db_begin(db) != 0)
		return API_INTERNAL;
	code = r->session ? session(c) : API_OK;
	if (code == API_OK)
		code = r->fn(c);
	if (code == API_OK && r->session && strcmp(r->method, "DELETE") != 0 &&
	    auth_session_touch(db, c->sess.id, c->now) != 0)
		code = API_INTERNAL;
	if (code == API_OK && db_commit(db) != 0)
		code = API_INTERNAL;
	if (code != API_OK)
		db_rollback(db);
	/* A failed login counts, in a transaction of its own. */
	if (code != API_OK && c->failed_user > 0 && db_begin(db) == 0) {
		if (auth_user_failed(db, c->failed_user, c->now) != 0 || db_commit(db) != 0)
			db_rollback(db);
	}
	return code;
}

static void
error_answer(struct api_call *c, enum api_code code)
{
	struct api_resp *rs = c->rs;
	json_object *err = json_object_new_object();
	json_object *root = json_object_new_object();
	const char *text;

	free(rs->body);
	rs->body = NULL;
	rs->body_len = 0;
	rs->status = api_code_status(code);
	rs->content_type = "application/json";
	snprintf(rs->code, sizeof(rs->code), "%s", api_code_name(code));
	if (c->retry_after >= 0)
		api_add_header(rs, "Retry-After", "%ld", c->retry_after);
	if (rs->status == 401 && code != API_LOGIN_FAILED && strncmp(rs->code, "CHALLENGE", 9) != 0)
		api_add_header(rs, "WWW-Authenticate", "Bearer realm=\"idse\"");
	if (!err || !root || api_set_str(err, "code", rs->code) ||
	    api_set_str(err, "message_es", api_code_message_es(code)) ||
	    api_set_str(err, "message_en", api_code_message_en(code)) ||
	    (c->field && code >= API_FIELD_MISSING && code <= API_FIELD_UNKNOWN &&
	     api_set_str(err, "field", c->field)) ||
	    (code == API_FIELD_READ_ONLY && c->field && api_set_str(err, "field", c->field)) ||
	    api_set(root, "error", err)) {
		json_object_put(err);
		goto out;
	}
	err = NULL;
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
	                                                    JSON_C_TO_STRING_NOSLASHESCAPE);
	rs->body = (unsigned char *)strdup(text ? text : "");
	rs->body_len = rs->body ? strlen((char *)rs->body) : 0;
out:
	json_object_put(root);
}

/* One line on stderr: method, path (printable ASCII only), status, code. */
static void
log_request(const struct api_req *rq, const struct api_resp *rs)
{
	char path[128];
	size_t i;

	for (i = 0; rq->path[i] && i < sizeof(path) - 1; i++)
		path[i] = rq->path[i] > 0x20 && rq->path[i] < 0x7F ? rq->path[i] : '?';
	path[i] = '\0';
	fprintf(stderr, "%.10s %s%s %u%s%s\n", rq->method, path, rq->path[i] ? "..." : "",
	        rs->status, *rs->code ? " " : "", rs->code);
}

void
api_handle(struct api *api, const struct api_req *rq, struct api_resp *rs)
{
	struct api_call c;
	const struct route *r = NULL;
	enum api_code code;

	memset(rs, 0, sizeof(*rs));
	memset(&c, 0, sizeof(c));
	c.api = api;
	c.rq = rq;
	c.rs = rs;
	c.now = time(NULL);
	c.retry_after = -1;
	code = rq->body_too_large ? API_BODY_TOO_LARGE : find_route(rq, rs, &r, &c.param);
	if (code == API_OK && r->json)
		code = parse_body(&c);
	if (code == API_OK && r->fn == api_post_session) /* before the lock */
		api_prepare_session(&c);
	if (code == API_OK) {
		api_lock(api);
		code = run(&c, r);
		api_unlock(api);
	}
	if (code != API_OK)
		error_answer(&c, code);
	json_object_put(c.body);
	OPENSSL_cleanse(&c.sess, sizeof(c.sess));
	OPENSSL_cleanse(&c.pw, sizeof(c.pw));
	log_request(rq, rs);
}

void
api_resp_clear(struct api_resp *rs)
{
	free(rs->body);
	memset(rs, 0, sizeof(*rs));
}

/* helpers */

enum api_code
api_json_only(struct api_call *c, const char *const *allowed)
{
	const char *const *a;

	json_object_object_foreach(c->body, key, val)
	{
		(void)val;
		for (a = allowed; *a && strcmp(*a, key) != 0; a++)
			;
		if (!*a) {
			c->field = key;
			return API_FIELD_UNKNOWN;
		}
	}
	return API_OK;
}

enum api_code
api_json_string(struct api_call *c, const char *name, size_t max, const char **out, size_t *len)
{
	json_object *v;
	const char *s;
	int n;

	c->field = name;
	if (!json_object_object_get_ex(c->body, name, &v))
		return API_FIELD_MISSING;
	if (!json_object_is_type(v, json_type_string))
		return API_FIELD_INVALID;
	s = json_object_get_string(v);
	n = json_object_get_string_len(v);
	if (!s || n < 0 || (size_t)n > max || strlen(s) != (size_t)n)
		return API_FIELD_INVALID;
	*out = s;
	if (len)
		*len = (size_t)n;
	c->field = NULL;
	return API_OK;
}

enum api_code
api_json_base64(struct api_call *c, const char *name, unsigned char **out, size_t *len)
{
	const char *s;
	size_t n;
	enum api_code code = api_json_string(c, name, API_BODY_MAX, &s, &n);

	if (code != API_OK)
		return code;
	if (svc_b64_decode(s, n, out, len) != 0) {
		c->field = name;
		return API_FIELD_INVALID;
	}
	return API_OK;
}

enum api_code
api_json_base64_only(struct api_call *c, const char *name, api_bytes_handler use)
{
	const char *const allowed[] = { name, NULL };
	unsigned char *bytes = NULL;
	size_t len = 0;
	enum api_code code = api_json_only(c, allowed);

	if (code == API_OK)
		code = api_json_base64(c, name, &bytes, &len);
	if (code == API_OK)
		code = use(c, bytes, len);
	free(bytes);
	return code;
}

enum api_code
api_reply_json(struct api_call *c, unsigned status, json_object *obj)
{
	const char *text;

	if (!obj)
		return API_INTERNAL;
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
	                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
	free(c->rs->body);
	c->rs->body = (unsigned char *)strdup(text ? text : "");
	json_object_put(obj);
	if (!c->rs->body || !text)
		return API_INTERNAL;
	c->rs->body_len = strlen((char *)c->rs->body);
	c->rs->status = status;
	c->rs->content_type = "application/json";
	return API_OK;
}

enum api_code
api_reply_bytes(struct api_call *c, unsigned status, const char *content_type, const void *data,
                size_t len)
{
	free(c->rs->body);
	c->rs->body = malloc(len ? len : 1);
	if (!c->rs->body)
		return API_INTERNAL;
	if (len)
		memcpy(c->rs->body, data, len);
	c->rs->body_len = len;
	c->rs->status = status;
	c->rs->content_type = content_type;
	return API_OK;
}

void
api_add_header(struct api_resp *rs, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (rs->n_headers >= API_HEADERS_MAX)
		return;
	rs->headers[rs->n_headers].name = name;
	va_start(ap, fmt);
	vsnprintf(rs->headers[rs->n_headers].value, sizeof(rs->headers[0].value), fmt, ap);
	va_end(ap);
	rs->n_headers++;
}

int
api_accepts(const struct api_call *c, const char *media_type)
{
	const char *a = c->rq->accept;
	size_t n = strlen(media_type);

	for (; a && *a; a++) {
		while (*a == ' ' || *a == ',')
			a++;
		if (strncasecmp(a, media_type, n) == 0 && strchr(" ;,", a[n] ? a[n] : ' '))
			return 1;
		a = strchr(a, ',');
		if (!a)
			break;
	}
	return 0;
}

int
api_set(json_object *obj, const char *key, json_object *value)
{
	return json_set(obj, key, value);
}

int
api_set_str(json_object *obj, const char *key, const char *value)
{
	return json_set_str(obj, key, value);
}

int
api_set_int(json_object *obj, const char *key, long long value)
{
	return api_set(obj, key, json_object_new_int64(value));
}

int
api_set_bool(json_object *obj, const char *key, int value)
{
	return api_set(obj, key, json_object_new_boolean(value ? 1 : 0));
}

int
api_set_time(json_object *obj, const char *key, time_t t)
{
	char buf[SVC_TIME_LEN];

	svc_time_text(t, buf);
	return api_set_str(obj, key, buf);
}

int
api_set_b64(json_object *obj, const char *key, const unsigned char *p, size_t len)
{
	char *s = svc_b64_encode(p, len);
	int rc = s ? api_set_str(obj, key, s) : -1;

	free(s);
	return rc;
}

int
api_set_hex(json_object *obj, const char *key, const unsigned char *p, size_t len)
{
	char *s = malloc(2 * len + 1);
	int rc = -1;

	if (s) {
		svc_hex(p, len, s, 0);
		rc = api_set_str(obj, key, s);
	}
	free(s);
	return rc;
}
