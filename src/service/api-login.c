/*
 * imss-renew-service: POST /challenge, POST /session (log in), GET and
 * DELETE /session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api.h"
#include "certdb.h"
#include "cmsv.h"
#include "db.h"
#include "employers.h"
#include "requests.h"
#include "util.h"

#define DAY 86400

#define USER_MAX 64
#define PASSWORD_MAX 256

enum api_code
api_post_challenge(struct api_call *c)
{
	static const char *const allowed[] = { "user", NULL };
	char value[AUTH_TOKEN_LEN + 1];
	unsigned char b[AUTH_TOKEN_LEN / 2];
	const char *name;
	struct user u;
	long long uid;
	json_object *o;
	int found;
	enum api_code code;

	code = api_json_only(c, allowed);
	if (code == API_OK)
		code = api_json_string(c, "user", USER_MAX, &name, NULL);
	if (code != API_OK)
		return code;
	found = auth_user_find(c->api->db, name, &u);
	uid = u.id;
	OPENSSL_cleanse(&u, sizeof(u));
	if (found < 0)
		return API_INTERNAL;
	if (found == 0 &&
	    auth_challenge_new(c->api->db, uid, c->now, c->api->cfg.challenge_ttl, value) != 0)
		return API_INTERNAL;
	if (found == 1) {
		/* Not stored: no login will accept it. */
		if (svc_random(b, sizeof(b)) != 0)
			return API_INTERNAL;
		svc_hex(b, sizeof(b), value, 0);
	}
	o = json_object_new_object();
	if (!o || api_set_str(o, "challenge", value) ||
	    api_set_time(o, "expires_at", c->now + (time_t)c->api->cfg.challenge_ttl) ||
	    api_set_int(o, "expires_in", c->api->cfg.challenge_ttl)) {
		json_object_put(o);
		return API_INTERNAL;
	}
	return api_reply_json(c, 201, o);
}

/* May this certificate log in as user u?  *renewal_required when expired. */
static enum api_code
check_cert(struct api_call *c, X509 *x, const struct user *u, char *serial, size_t size,
           int *renewal_required)
{
	struct certrow row = { 0 };
	unsigned char *der = NULL;
	size_t len = 0;
	int found;
	enum api_code code = API_CERT_FOREIGN;

	if (!ca_signed_by(&c->api->ca, x) || ca_serial_text(x, serial, size) != 0)
		goto out;
	code = API_INTERNAL;
	found = certdb_get(c->api->db, serial, &row);
	if (found < 0 || ca_cert_der(x, &der, &len) != 0)
		goto out;
	if (found == 1 || row.der_len != len || memcmp(row.der, der, len) != 0)
		code = API_CERT_UNKNOWN;
	else if (row.revoked)
		code = API_CERT_REVOKED;
	else if (c->now < row.not_before)
		code = API_CERT_NOT_YET_VALID;
	else if (c->now > row.not_after &&
	         c->now - row.not_after > (time_t)c->api->cfg.expired_login_days * DAY)
		code = API_CERT_EXPIRED_TOO_LONG;
	else if (row.employer_id != u->employer_id)
		code = API_CERT_NOT_YOURS;
	else
		code = API_OK;
	*renewal_required = c->now > row.not_after;
out:
	OPENSSL_free(der);
	certdb_row_clear(&row);
	return code;
}

/* The session object: the login answer (with token) and GET /session. */
static enum api_code
session_answer(struct api_call *c, unsigned status, const char *token, const struct session *s)
{
	struct employer e = { 0 };
	struct certrow row = { 0 };
	json_object *o = NULL, *cert = NULL;
	char renewal[REQUEST_ID_LEN + 1];
	int renewed;
	enum api_code code = API_INTERNAL;

	if (employer_get(c->api->db, s->employer_id, &e) != 0 ||
	    certdb_get(c->api->db, s->serial, &row) != 0)
		goto out;
	/* A renewed certificate logs in only to recover its successor. */
	renewed = request_of_cert(c->api->db, s->serial, renewal);
	if (renewed < 0)
		goto out;
	o = json_object_new_object();
	cert = json_object_new_object();
	if (!o || !cert ||
	    (token && (api_set_str(o, "token", token) || api_set_str(o, "token_type", "Bearer"))) ||
	    api_set_int(o, "idle_timeout", c->api->cfg.session_idle) ||
	    api_set_bool(o, "renewal_required", s->renewal_required && !renewed) ||
	    api_set_bool(o, "renewed", renewed) ||
	    (renewed && api_set_str(o, "renewal_request", renewal)) ||
	    api_set_str(o, "user", s->user) ||
	    api_set_str(o, "registro_patronal", e.registro_patronal) ||
	    api_set_str(cert, "serial", s->serial) || api_set_time(cert, "not_after", row.not_after) ||
	    api_set_bool(cert, "expired", c->now > row.not_after))
		goto out;
	if (api_set(o, "certificate", cert) != 0) {
		cert = NULL;
		goto out;
	}
	cert = NULL;
	code = api_reply_json(c, status, o);
	o = NULL;
out:
	json_object_put(o);
	json_object_put(cert);
	employer_clear(&e);
	certdb_row_clear(&row);
	return code;
}

/* What an unknown user costs: a hash with the service's iterations. */
static void
hash_iterations(const char *password, long long iterations)
{
	unsigned char salt[PW_SALT_LEN] = { 0 }, hash[PW_HASH_LEN];

	pw_hash(password, salt, sizeof(salt), (unsigned)iterations, hash);
}

static void
hash_for_nobody(struct api_call *c, const char *password)
{
	long long iterations = PW_DEFAULT_ITERATIONS;

	db_meta_int(c->api->db, "kdf_iterations", &iterations);
	hash_iterations(password, iterations);
}

/* A string member of the body, or NULL (the handler says what is wrong). */
static const char *
body_string(const struct api_call *c, const char *key, size_t max)
{
	json_object *v;

	if (!c->body || !json_object_object_get_ex(c->body, key, &v) ||
	    !json_object_is_type(v, json_type_string) || (size_t)json_object_get_string_len(v) > max)
		return NULL;
	return json_object_get_string(v);
}

void
api_prepare_session(struct api_call *c)
{
	const char *name = body_string(c, "user", USER_MAX);
	const char *password = body_string(c, "password", PASSWORD_MAX);
	struct user u;
	long long iterations = PW_DEFAULT_ITERATIONS;
	int found;

	if (!name || !password)
		return;
	api_lock(c->api);
	found = auth_user_find(c->api->db, name, &u);
	if (found == 1)
		db_meta_int(c->api->db, "kdf_iterations", &iterations);
	api_unlock(c->api);
	if (found == 0 && u.not_before > c->now)
		found = -1; /* throttled: answered without a hash, as before */
	if (found == 1) {
		hash_iterations(password, iterations);
	} else if (found == 0) {
		c->pw.verdict =
		        pw_verify(password, u.salt, u.salt_len, u.iterations, u.hash, u.hash_len);
		c->pw.user_id = u.id;
		memcpy(c->pw.salt, u.salt, sizeof(u.salt));
		memcpy(c->pw.hash, u.hash, sizeof(u.hash));
		c->pw.iterations = u.iterations;
	}
	c->pw.done = found >= 0;
	OPENSSL_cleanse(&u, sizeof(u));
}

/* The password was checked before the lock against this very row. */
static int
checked_for(const struct api_call *c, const struct user *u)
{
	return c->pw.done && c->pw.user_id == u->id && c->pw.iterations == u->iterations &&
	       u->salt_len == sizeof(c->pw.salt) && u->hash_len == sizeof(c->pw.hash) &&
	       memcmp(c->pw.salt, u->salt, sizeof(c->pw.salt)) == 0 &&
	       memcmp(c->pw.hash, u->hash, sizeof(c->pw.hash)) == 0;
}

/* The password, or LOGIN_FAILED; an unknown user costs the same time. */
static enum api_code
check_user(struct api_call *c, const char *name, const char *password, struct user *u)
{
	int found = auth_user_find(c->api->db, name, u);

	if (found < 0)
		return API_INTERNAL;
	if (found == 1) {
		if (!(c->pw.done && c->pw.user_id == 0))
			hash_for_nobody(c, password);
		return API_LOGIN_FAILED;
	}
	if (u->not_before > c->now) {
		c->retry_after = (long)(u->not_before - c->now);
		return API_LOGIN_THROTTLED;
	}
	c->failed_user = u->id;
	if (checked_for(c, u))
		found = c->pw.verdict;
	else
		found = pw_verify(password, u->salt, u->salt_len, u->iterations, u->hash,
		                  u->hash_len);
	return found == 1 ? API_OK : found == 0 ? API_LOGIN_FAILED : API_INTERNAL;
}

static enum api_code
login(struct api_call *c, const char *name, const char *password, const unsigned char *sig,
      size_t siglen)
{
	struct cms_signed cs = { 0 };
	struct session s = { 0 };
	struct user u;
	char token[AUTH_TOKEN_LEN + 1] = "";
	enum api_code code;

	code = check_user(c, name, password, &u);
	if (code == API_OK)
		code = cms_check(sig, siglen, NULL, NULL, 0, &cs);
	if (code == API_OK)
		code = auth_challenge_take(c->api->db, (const char *)cs.content, cs.content_len,
		                           u.id, c->now);
	if (code == API_OK)
		code = check_cert(c, cs.signer, &u, s.serial, sizeof(s.serial), &s.renewal_required);
	if (code != API_OK)
		goto out;
	code = API_INTERNAL;
	s.user_id = u.id;
	s.employer_id = u.employer_id;
	snprintf(s.user, sizeof(s.user), "%s", name);
	if (auth_user_succeeded(c->api->db, u.id) != 0 ||
	    auth_session_new(c->api->db, u.id, s.serial, s.renewal_required, c->now, token, &s.id) !=
	            0)
		goto out;
	c->failed_user = 0;
	code = session_answer(c, 201, token, &s);
out:
	OPENSSL_cleanse(token, sizeof(token));
	OPENSSL_cleanse(&u, sizeof(u));
	cms_signed_clear(&cs);
	return code;
}

enum api_code
api_post_session(struct api_call *c)
{
	static const char *const allowed[] = { "user", "password", "signature", NULL };
	const char *name, *password;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	enum api_code code;

	code = api_json_only(c, allowed);
	if (code == API_OK)
		code = api_json_string(c, "user", USER_MAX, &name, NULL);
	if (code == API_OK)
		code = api_json_string(c, "password", PASSWORD_MAX, &password, NULL);
	if (code == API_OK)
		code = api_json_base64(c, "signature", &sig, &siglen);
	if (code == API_OK)
		code = login(c, name, password, sig, siglen);
	free(sig);
	return code;
}

enum api_code
api_get_session(struct api_call *c)
{
	return session_answer(c, 200, NULL, &c->sess);
}

enum api_code
api_delete_session(struct api_call *c)
{
	if (auth_session_end(c->api->db, c->sess.id, c->now) != 0)
		return API_INTERNAL;
	return api_reply_bytes(c, 204, NULL, "", 0);
}
