/*
 * Client side of the reference renewal protocol (docs/protocol.md): JSON
 * with json-c, base64 with OpenSSL's EVP_Encode/Decode, CMS through the
 * credential.  Every answer is checked for shape before it is believed.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "idse.h"
#include "internal.h"

#define PASSWORD_MAX 256

/* ---- base64 -------------------------------------------------------- */

static char *
b64_encode(const unsigned char *p, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out != NULL && len <= INT_MAX)
		EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	return out;
}

static imss_err
b64_decode(imss_ctx *ctx, const char *text, unsigned char **out, size_t *len)
{
	EVP_ENCODE_CTX *e = EVP_ENCODE_CTX_new();
	size_t tlen = strlen(text);
	unsigned char *buf = malloc(tlen / 4 * 3 + 4);
	int n = 0, m = 0;

	*out = NULL;
	if (e == NULL || buf == NULL || tlen > INT_MAX) {
		EVP_ENCODE_CTX_free(e);
		free(buf);
		return IMSS_ERR_NOMEM;
	}
	EVP_DecodeInit(e);
	if (EVP_DecodeUpdate(e, buf, &n, (const unsigned char *)text, (int)tlen) < 0 ||
	    EVP_DecodeFinal(e, buf + n, &m) != 1) {
		EVP_ENCODE_CTX_free(e);
		free(buf);
		return ctx_fail(ctx, IMSS_ERR_PROTOCOL, _("The service sent invalid base64."));
	}
	EVP_ENCODE_CTX_free(e);
	*out = buf;
	*len = (size_t)(n + m);
	return IMSS_OK;
}

/* ---- JSON exchanges ------------------------------------------------ */

static int
spanish(void)
{
	/* The header of the catalogue in use: Spanish also through LANGUAGE,
	 * never in the C locale (where there is no catalogue). */
	static const char header_msgid[] = "";
	const char *header = dgettext(IMSS_TEXTDOMAIN, header_msgid);

	return strstr(header, "\nLanguage: es") != NULL;
}

/* An error answer: its code and the message in the user's language. */
static imss_err
service_error(imss_ctx *ctx, const struct http_response *r)
{
	json_object *obj = json_tokener_parse((const char *)(r->body ? r->body : (unsigned char *)""));
	json_object *e = NULL, *code = NULL, *msg = NULL;
	char code_text[64];
	imss_err err;

	if (obj && json_object_object_get_ex(obj, "error", &e) &&
	    json_object_object_get_ex(e, "code", &code) &&
	    json_object_object_get_ex(e, spanish() ? "message_es" : "message_en", &msg)) {
		snprintf(code_text, sizeof(code_text), "%s", json_object_get_string(code));
		err = ctx_fail(ctx, IMSS_ERR_SERVICE, _("The service answered %ld %s: %s"),
		               r->status, code_text, json_object_get_string(msg));
	} else {
		err = ctx_fail(ctx, r->status >= 500 ? IMSS_ERR_SERVICE : IMSS_ERR_PROTOCOL,
		               _("The service answered HTTP %ld without a valid error description."),
		               r->status);
	}
	json_object_put(obj);
	return err;
}

/*
 * Send a JSON body (or none) and parse a JSON answer.  Statuses other
 * than those in ok (a 0-terminated list) are errors.
 */
static imss_err
exchange(imss_ctx *ctx, struct http_client *c, const char *method, const char *path,
         json_object *body, int idempotent, const long *ok, long *status,
         struct http_response *resp, json_object **out)
{
	const char *text = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL;
	imss_err err;
	size_t i;

	*out = NULL;
	err = http_request(c, method, path, text ? "application/json" : NULL, text,
	                   text ? strlen(text) : 0, idempotent, resp);
	if (err != IMSS_OK)
		return err;
	*status = resp->status;
	for (i = 0; ok[i] != 0 && ok[i] != resp->status; i++)
		;
	if (ok[i] == 0)
		return service_error(ctx, resp);
	if (resp->status == 204)
		return IMSS_OK;
	*out = json_tokener_parse((const char *)(resp->body ? resp->body : (unsigned char *)""));
	if (*out == NULL || !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		return ctx_fail(ctx, IMSS_ERR_PROTOCOL,
		                _("The service's answer to %s %s is not a JSON object."), method, path);
	}
	return IMSS_OK;
}

/* A required string member. */
static const char *
member_str(json_object *obj, const char *name)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static imss_err
missing(imss_ctx *ctx, const char *what)
{
	return ctx_fail(ctx, IMSS_ERR_PROTOCOL,
	                _("The service's answer lacks '%s'."), what);
}

static imss_err
dup_member(imss_ctx *ctx, json_object *obj, const char *name, char **out)
{
	const char *s = member_str(obj, name);

	if (s == NULL)
		return missing(ctx, name);
	*out = strdup(s);
	return *out ? IMSS_OK : IMSS_ERR_NOMEM;
}

static imss_err
decode_cert(imss_ctx *ctx, const char *b64, X509 **out)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	imss_err err;

	*out = NULL;
	err = b64_decode(ctx, b64, &der, &len);
	if (err != IMSS_OK)
		return err;
	p = der;
	*out = d2i_X509(NULL, &p, (long)len);
	if (*out == NULL || p != der + len) {
		X509_free(*out);
		*out = NULL;
		err = ctx_fail(ctx, IMSS_ERR_PROTOCOL,
		               _("The certificate sent by the service is not valid DER."));
	}
	free(der);
	return err;
}

/* ---- the messages -------------------------------------------------- */

imss_err
idse_get_ca(imss_ctx *ctx, struct http_client *c, X509 **out)
{
	static const long ok[] = { 200, 0 };
	struct http_response r;
	json_object *obj = NULL;
	const char *der;
	long status;
	imss_err err;

	*out = NULL;
	err = exchange(ctx, c, "GET", "/idse/v1/ca", NULL, 1, ok, &status, &r, &obj);
	if (err == IMSS_OK)
		err = (der = member_str(obj, "certificate")) ? decode_cert(ctx, der, out)
		                                              : missing(ctx, "certificate");
	json_object_put(obj);
	http_response_clear(&r);
	return err;
}

static imss_err
get_challenge(imss_ctx *ctx, struct http_client *c, const char *user, char *challenge,
              size_t size)
{
	static const long ok[] = { 201, 0 };
	json_object *body = json_object_new_object(), *obj = NULL;
	struct http_response r;
	const char *s;
	long status;
	imss_err err;

	json_object_object_add(body, "user", json_object_new_string(user));
	err = exchange(ctx, c, "POST", "/idse/v1/challenge", body, 0, ok, &status, &r, &obj);
	if (err == IMSS_OK) {
		s = member_str(obj, "challenge");
		if (s == NULL || strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64)
			err = missing(ctx, "challenge");
		else
			snprintf(challenge, size, "%s", s);
	}
	json_object_put(body);
	json_object_put(obj);
	http_response_clear(&r);
	return err;
}

static imss_err
session_body(imss_ctx *ctx, const imss_credential *cred, const char *user,
             imss_pin_source *password, const char *challenge, json_object **out)
{
	char pass[PASSWORD_MAX];
	unsigned char *cms = NULL;
	size_t len = 0;
	char *b64 = NULL;
	imss_err err;

	*out = NULL;
	err = imss_cms_sign(ctx, cred, (const unsigned char *)challenge, strlen(challenge),
	                    IMSS_CMS_ATTACHED, &cms, &len);
	if (err != IMSS_OK)
		return err;
	b64 = b64_encode(cms, len);
	OPENSSL_free(cms);
	if (b64 == NULL)
		return IMSS_ERR_NOMEM;
	imss_secrets_begin();
	err = imss_pin_source_read(password, _("IDSE password: "), pass, sizeof(pass));
	if (err != IMSS_OK) {
		imss_secrets_end();
		free(b64);
		return ctx_fail(ctx, err, _("No IDSE password could be read."));
	}
	*out = json_object_new_object();
	json_object_object_add(*out, "user", json_object_new_string(user));
	json_object_object_add(*out, "password", json_object_new_string(pass));
	json_object_object_add(*out, "signature", json_object_new_string(b64));
	imss_wipe(pass, sizeof(pass));
	imss_secrets_end();
	free(b64);
	return IMSS_OK;
}

imss_err
idse_login(imss_ctx *ctx, struct http_client *c, const imss_credential *cred,
           const char *user, imss_pin_source *password, struct idse_session *out)
{
	static const long ok[] = { 201, 0 };
	json_object *body = NULL, *obj = NULL, *v = NULL;
	struct http_response r = { 0 };
	char challenge[80];
	const char *token, *rp;
	long status;
	imss_err err;

	memset(out, 0, sizeof(*out));
	err = get_challenge(ctx, c, user, challenge, sizeof(challenge));
	if (err == IMSS_OK)
		err = session_body(ctx, cred, user, password, challenge, &body);
	if (err == IMSS_OK)
		err = exchange(ctx, c, "POST", "/idse/v1/session", body, 0, ok, &status, &r, &obj);
	if (body != NULL) {
		/* The password was in it: wipe the serialised copy and the
		 * member's own string before json-c frees them. */
		const char *text = json_object_to_json_string(body);
		json_object *pw = NULL;

		imss_wipe((void *)text, strlen(text));
		if (json_object_object_get_ex(body, "password", &pw)) {
			const char *p = json_object_get_string(pw);

			imss_wipe((void *)p, strlen(p));
		}
	}
	if (err != IMSS_OK)
		goto out;
	token = member_str(obj, "token");
	rp = member_str(obj, "registro_patronal");
	if (token == NULL || rp == NULL) {
		err = missing(ctx, token ? "registro_patronal" : "token");
		goto out;
	}
	snprintf(out->registro_patronal, sizeof(out->registro_patronal), "%s", rp);
	out->renewal_required = json_object_object_get_ex(obj, "renewal_required", &v) &&
	                        json_object_get_boolean(v);
	err = http_client_set_bearer(c, token);
out:
	if (r.body != NULL)
		imss_wipe(r.body, r.len);
	json_object_put(body);
	json_object_put(obj);
	http_response_clear(&r);
	return err;
}

void
idse_company_clear(struct idse_company *co)
{
	free(co->registro_patronal);
	free(co->razon_social);
	free(co->rfc);
	free(co->address);
	free(co->email);
	memset(co, 0, sizeof(*co));
}

static imss_err
company_from(imss_ctx *ctx, json_object *obj, struct idse_company *out)
{
	imss_err err;
	const char *addr = member_str(obj, "address");

	idse_company_clear(out);
	err = dup_member(ctx, obj, "registro_patronal", &out->registro_patronal);
	if (err == IMSS_OK)
		err = dup_member(ctx, obj, "razon_social", &out->razon_social);
	if (err == IMSS_OK)
		err = dup_member(ctx, obj, "rfc", &out->rfc);
	if (err == IMSS_OK)
		err = dup_member(ctx, obj, "email", &out->email);
	if (err == IMSS_OK && (out->address = strdup(addr ? addr : "")) == NULL)
		err = IMSS_ERR_NOMEM;
	if (err != IMSS_OK)
		idse_company_clear(out);
	return err;
}

imss_err
idse_get_company(imss_ctx *ctx, struct http_client *c, struct idse_company *out)
{
	static const long ok[] = { 200, 0 };
	struct http_response r;
	json_object *obj = NULL;
	long status;
	imss_err err;

	err = exchange(ctx, c, "GET", "/idse/v1/company", NULL, 1, ok, &status, &r, &obj);
	if (err == IMSS_OK)
		err = company_from(ctx, obj, out);
	json_object_put(obj);
	http_response_clear(&r);
	return err;
}

imss_err
idse_set_email(imss_ctx *ctx, struct http_client *c, const char *email,
               struct idse_company *out)
{
	static const long ok[] = { 200, 0 };
	json_object *body = json_object_new_object(), *obj = NULL;
	struct http_response r;
	long status;
	imss_err err;

	json_object_object_add(body, "email", json_object_new_string(email));
	err = exchange(ctx, c, "PATCH", "/idse/v1/company", body, 1, ok, &status, &r, &obj);
	if (err == IMSS_OK)
		err = company_from(ctx, obj, out);
	json_object_put(body);
	json_object_put(obj);
	http_response_clear(&r);
	return err;
}

void
idse_letter_clear(struct idse_letter *l)
{
	free(l->pdf);
	memset(l, 0, sizeof(*l));
}

imss_err
idse_get_letter(imss_ctx *ctx, struct http_client *c, struct idse_letter *out)
{
	static const long ok[] = { 200, 0 };
	unsigned char md[32];
	struct http_response r;
	json_object *obj = NULL, *v = NULL;
	const char *pdf, *sha;
	char *hex = NULL;
	long status;
	imss_err err;

	memset(out, 0, sizeof(*out));
	err = exchange(ctx, c, "GET", "/idse/v1/letter", NULL, 1, ok, &status, &r, &obj);
	if (err != IMSS_OK)
		goto out;
	pdf = member_str(obj, "pdf");
	sha = member_str(obj, "sha256");
	if (pdf == NULL || sha == NULL) {
		err = missing(ctx, pdf ? "sha256" : "pdf");
		goto out;
	}
	err = b64_decode(ctx, pdf, &out->pdf, &out->len);
	if (err != IMSS_OK)
		goto out;
	SHA256(out->pdf, out->len, md);
	hex = hex_encode(md, sizeof(md));
	if (hex == NULL || strcasecmp(hex, sha) != 0) {
		err = ctx_fail(ctx, IMSS_ERR_PROTOCOL,
		               _("The letter's SHA-256 does not match the digest the service announced."));
		goto out;
	}
	snprintf(out->sha256, sizeof(out->sha256), "%s", hex);
	out->id = json_object_object_get_ex(obj, "letter_id", &v) ? json_object_get_int64(v) : 0;
	out->signed_already = json_object_object_get_ex(obj, "signed", &v) &&
	                      json_object_get_boolean(v);
out:
	if (err != IMSS_OK)
		idse_letter_clear(out);
	free(hex);
	json_object_put(obj);
	http_response_clear(&r);
	return err;
}

static imss_err
post_cms(imss_ctx *ctx, struct http_client *c, const char *path, const char *member,
         const unsigned char *cms, size_t len, const long *ok, long *status,
         struct http_response *r, json_object **obj)
{
	json_object *body = json_object_new_object();
	char *b64 = b64_encode(cms, len);
	imss_err err;

	if (body == NULL || b64 == NULL) {
		json_object_put(body);
		free(b64);
		return IMSS_ERR_NOMEM;
	}
	json_object_object_add(body, member, json_object_new_string(b64));
	err = exchange(ctx, c, "POST", path, body, 0, ok, status, r, obj);
	json_object_put(body);
	free(b64);
	return err;
}

imss_err
idse_sign_letter(imss_ctx *ctx, struct http_client *c, const unsigned char *cms, size_t len)
{
	static const long ok[] = { 201, 0 };
	struct http_response r;
	json_object *obj = NULL;
	long status;
	imss_err err;

	err = post_cms(ctx, c, "/idse/v1/letter/signature", "signature", cms, len, ok,
	               &status, &r, &obj);
	json_object_put(obj);
	http_response_clear(&r);
	return err;
}

void
idse_result_clear(struct idse_result *res)
{
	X509_free(res->cert);
	memset(res, 0, sizeof(*res));
}

/* 201 with a certificate, or 202 with a request to poll. */
static imss_err
result_from(imss_ctx *ctx, long status, const struct http_response *r, json_object *obj,
            struct idse_result *out)
{
	json_object *cert = NULL;
	const char *id = member_str(obj, "request_id"), *der;

	idse_result_clear(out);
	if (id != NULL)
		snprintf(out->request_id, sizeof(out->request_id), "%s", id);
	if (status == 202) {
		if (id == NULL || strspn(id, "0123456789abcdefABCDEF") != strlen(id))
			return missing(ctx, "request_id");
		out->retry_after = r->retry_after > 0 ? r->retry_after : 5;
		return IMSS_OK;
	}
	if (!json_object_object_get_ex(obj, "certificate", &cert) ||
	    (der = member_str(cert, "der")) == NULL)
		return missing(ctx, "certificate");
	return decode_cert(ctx, der, &out->cert);
}

imss_err
idse_submit(imss_ctx *ctx, struct http_client *c, const unsigned char *cms, size_t len,
            struct idse_result *out)
{
	static const long ok[] = { 201, 202, 0 };
	struct http_response r;
	json_object *obj = NULL;
	long status = 0;
	imss_err err;

	memset(out, 0, sizeof(*out));
	err = post_cms(ctx, c, "/idse/v1/renewal", "request", cms, len, ok, &status, &r, &obj);
	if (err == IMSS_OK)
		err = result_from(ctx, status, &r, obj, out);
	json_object_put(obj);
	http_response_clear(&r);
	return err;
}

static imss_err
get_result(imss_ctx *ctx, struct http_client *c, const char *path, const long *ok,
           struct idse_result *out)
{
	struct http_response r;
	json_object *obj = NULL;
	long status = 0;
	imss_err err;

	memset(out, 0, sizeof(*out));
	err = exchange(ctx, c, "GET", path, NULL, 1, ok, &status, &r, &obj);
	if (err == IMSS_OK)
		err = result_from(ctx, status == 200 ? 201 : status, &r, obj, out);
	json_object_put(obj);
	http_response_clear(&r);
	return err;
}

static int
safe_id(const char *s)
{
	return s[0] != '\0' && strlen(s) < 64 && strspn(s, "0123456789abcdefABCDEF") == strlen(s);
}

imss_err
idse_poll(imss_ctx *ctx, struct http_client *c, const char *request_id,
          struct idse_result *out)
{
	static const long ok[] = { 201, 202, 0 };
	char path[128];

	if (!safe_id(request_id))
		return ctx_fail(ctx, IMSS_ERR_INVALID_ARG, _("Invalid request id."));
	snprintf(path, sizeof(path), "/idse/v1/requests/%s", request_id);
	return get_result(ctx, c, path, ok, out);
}

imss_err
idse_get_certificate(imss_ctx *ctx, struct http_client *c, const char *serial,
                     struct idse_result *out)
{
	static const long ok[] = { 200, 0 };
	char path[128];

	if (!safe_id(serial))
		return ctx_fail(ctx, IMSS_ERR_INVALID_ARG,
		                _("'%s' is not a serial number (hexadecimal)."), serial);
	snprintf(path, sizeof(path), "/idse/v1/certificates/%s", serial);
	return get_result(ctx, c, path, ok, out);
}

imss_err
idse_logout(imss_ctx *ctx, struct http_client *c)
{
	static const long ok[] = { 204, 0 };
	struct http_response r;
	json_object *obj = NULL;
	long status;
	imss_err err;

	err = exchange(ctx, c, "DELETE", "/idse/v1/session", NULL, 0, ok, &status, &r, &obj);
	json_object_put(obj);
	http_response_clear(&r);
	http_client_set_bearer(c, NULL);
	return err;
}
