/*
 * imss-renew-service: the protocol of docs/protocol.md, independent of
 * the HTTP library.  http.c hands over one complete request (struct
 * api_req) and sends back what api_handle() put in struct api_resp.
 *
 * api.c routes a request, runs its handler inside one database
 * transaction (committed only on success), and turns an error code into
 * the error JSON.  The handlers live in api-*.c; the helpers they share
 * are declared here.
 */
#ifndef SVC_API_H
#define SVC_API_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "auth.h"
#include "ca.h"
#include "errors.h"

#define API_BASE "/idse/v1"
#define API_BODY_MAX (1024 * 1024)

/* What the operator set at `serve`. */
struct api_config {
	unsigned issue_delay; /* seconds; 0: certificates at once */
	unsigned validity_days;
	unsigned session_idle;       /* seconds */
	unsigned challenge_ttl;      /* seconds */
	unsigned expired_login_days; /* an expired certificate logs in that long after */
	unsigned per_ip_connections; /* connections at once from one address */
	unsigned request_deadline;   /* seconds for a whole request (headers and body) */
};

/*
 * The service's state.  lock: held around every use of db and ca, when
 * several threads serve requests (http.c); NULL when one thread does.
 */
struct api {
	sqlite3 *db;
	struct ca ca;
	struct api_config cfg;
	pthread_mutex_t *lock;
};

/* One complete request. */
struct api_req {
	const char *method;
	const char *path;
	const char *content_type; /* NULL when absent */
	const char *accept;
	const char *authorization;
	const unsigned char *body;
	size_t body_len;
	int body_too_large;
};

#define API_HEADERS_MAX 4

struct api_header {
	const char *name; /* a string literal */
	char value[160];
};

/* The answer: status, body (malloc'd, freed by the caller), headers. */
struct api_resp {
	unsigned status;
	const char *content_type;
	unsigned char *body;
	size_t body_len;
	struct api_header headers[API_HEADERS_MAX];
	size_t n_headers;
	char code[32]; /* the error code, "" on success (for the log) */
};

/* One call in progress, for the handlers. */
struct api_call {
	struct api *api;
	const struct api_req *rq;
	struct api_resp *rs;
	json_object *body;   /* the parsed JSON body, when the route takes one */
	const char *param;   /* the path parameter ({id}, {serial}) */
	struct session sess; /* when the route needs a session */
	time_t now;
	const char *field;     /* FIELD_* errors: the member at fault */
	long long failed_user; /* > 0: count a failed login for this user */
	long retry_after;      /* >= 0: send Retry-After on the error */
	struct pw_check pw;    /* POST /session: the password, checked before the lock */
};

typedef enum api_code (*api_handler)(struct api_call *c);

/* api.c: the lock of api (none when api->lock is NULL). */
void api_lock(struct api *api);
void api_unlock(struct api *api);

/*
 * api-login.c: before POST /session's transaction, outside the lock, the
 * password's hash (the costly part of a login), so that other requests
 * go on meanwhile; the transaction uses it when the user's row is still
 * the one it was computed for, else hashes again.
 */
void api_prepare_session(struct api_call *c);

/* Handle one request.  Never fails: errors become error answers. */
void api_handle(struct api *api, const struct api_req *rq, struct api_resp *rs);
void api_resp_clear(struct api_resp *rs);

/*
 * A request body as one JSON object (c->body): strict UTF-8 throughout
 * (raw bytes, \u escapes and the decoded strings: no overlong forms,
 * surrogates or NUL), at most 16 levels deep, nothing after it but white
 * space.  API_OK (*out set, json_object_put() it), API_JSON_MALFORMED or
 * API_INTERNAL.  Callable on any buffer (the fuzz targets use it).
 */
enum api_code api_parse_json(const unsigned char *body, size_t len, json_object **out);

/* api.c: helpers for the handlers. */

/* Only the members in allowed (NULL-terminated) may be in the body. */
enum api_code api_json_only(struct api_call *c, const char *const *allowed);
/* A required string member of at most max bytes, without NUL. */
enum api_code api_json_string(struct api_call *c, const char *name, size_t max, const char **out,
                              size_t *len);
/* A required base64 member, decoded (free()). */
enum api_code api_json_base64(struct api_call *c, const char *name, unsigned char **out, size_t *len);
/*
 * A body whose only member is the base64 member name: its bytes, decoded,
 * handed to use.  What use answers, or what is wrong with the body.
 */
typedef enum api_code (*api_bytes_handler)(struct api_call *c, const unsigned char *p, size_t len);
enum api_code api_json_base64_only(struct api_call *c, const char *name, api_bytes_handler use);

/* Answer with obj (consumed).  API_OK or API_INTERNAL. */
enum api_code api_reply_json(struct api_call *c, unsigned status, json_object *obj);
/* Answer with a copy of data as content_type.  API_OK or API_INTERNAL. */
enum api_code api_reply_bytes(struct api_call *c, unsigned status, const char *content_type,
                              const void *data, size_t len);
void api_add_header(struct api_resp *rs, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* 1 when the client's Accept names media_type. */
int api_accepts(const struct api_call *c, const char *media_type);

/* JSON builders: 0 or -1 (obj unchanged on failure). */
int api_set_str(json_object *obj, const char *key, const char *value); /* NULL: null */
int api_set_int(json_object *obj, const char *key, long long value);
int api_set_bool(json_object *obj, const char *key, int value);
int api_set_time(json_object *obj, const char *key, time_t t);
int api_set_b64(json_object *obj, const char *key, const unsigned char *p, size_t len);
int api_set_hex(json_object *obj, const char *key, const unsigned char *p, size_t len);
int api_set(json_object *obj, const char *key, json_object *value); /* value consumed */

/* The certificate object of the protocol (serial, subject, times, der, pem). */
json_object *api_cert_json(X509 *x);

/* The handlers. */
enum api_code api_get_ca(struct api_call *c); /* api-cert.c */
enum api_code api_get_certificate(struct api_call *c);
enum api_code api_post_challenge(struct api_call *c); /* api-login.c */
enum api_code api_post_session(struct api_call *c);
enum api_code api_get_session(struct api_call *c);
enum api_code api_delete_session(struct api_call *c);
enum api_code api_get_company(struct api_call *c); /* api-company.c */
enum api_code api_patch_company(struct api_call *c);
enum api_code api_get_letter(struct api_call *c); /* api-letter.c */
enum api_code api_post_letter_signature(struct api_call *c);
enum api_code api_post_renewal(struct api_call *c); /* api-renewal.c */
enum api_code api_get_request(struct api_call *c);

/* api-cert.c: the session's certificate from the database. */
enum api_code api_session_cert(struct api_call *c, X509 **out);

/* api-letter.c: the session's current letter (for e-mail email) is signed:
 * API_OK and its signature (der: free()), or API_LETTER_NOT_SIGNED. */
struct letter_signature {
	long long letter_id;
	unsigned char *der;
	size_t len;
	int binds;                        /* it binds a renewal request: */
	unsigned char request_sha256[32]; /* this one's SHA-256 */
};
enum api_code api_letter_signed(struct api_call *c, const char *email, struct letter_signature *out);

#endif /* SVC_API_H */
