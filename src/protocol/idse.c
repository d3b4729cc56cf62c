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
#include "imss-renew/base.h"

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

/* ---- what the service says, checked -------------------------------- */

#define HEX "0123456789abcdefABCDEF"
#define LOWER_HEX "0123456789abcdef"
#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define TOKEN68 ALNUM "-._~+/="
#define ERROR_CODE "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
#define ERROR_TEXT_MAX 400

/* What a member of an answer may hold: charset NULL means text (valid
 * UTF-8 without control characters). */
struct rule {
	const char *name;
	size_t min, max; /* bytes */
	const char *charset;
};

static const struct rule rule_challenge = { "challenge", 64, 64, LOWER_HEX };
static const struct rule rule_token = { "token", 16, IDSE_TOKEN_MAX, TOKEN68 };
static const struct rule rule_rp = { "registro_patronal", 1, 32, ALNUM };
static const struct rule rule_razon = { "razon_social", 1, 256, NULL };
static const struct rule rule_rfc = { "rfc", 1, 32, NULL };
static const struct rule rule_address = { "address", 0, 1024, NULL };
static const struct rule rule_email = { "email", 1, 254, NULL };
static const struct rule rule_request_id = { "request_id", 1, 64, HEX };
static const struct rule rule_renewal_request = { "renewal_request", 1, 64, HEX };
static const struct rule rule_serial = { "serial", 1, 64, HEX };
static const struct rule rule_sha256 = { "sha256", 64, 64, HEX };
static const struct rule rule_request_sha256 = { "request_sha256", 64, 64, HEX };
static const struct rule rule_code = { "code", 1, 64, ERROR_CODE };
/* base64: its alphabet is b64_decode's to check (its message says so). */
static const struct rule rule_ca = { "certificate", 4, 1u << 20, NULL };
static const struct rule rule_der = { "der", 4, 1u << 20, NULL };
static const struct rule rule_pdf = { "pdf", 4, 12u << 20, NULL };

void
idse_safe_text(const char *text, size_t len, char *out, size_t size)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t room = size - 4, i = 0, o = 0, n, k; /* 4: "..." and its NUL */
	unsigned long cp;

	while (i < len) {
		n = str_utf8_next(p + i, len - i, &cp);
		if (n > 0 && !str_is_control(cp)) {
			if (o + n > room)
				break;
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
			continue;
		}
		n = n > 0 ? n : 1; /* every byte of an unsafe sequence, escaped */
		if (o + 4 * n > room)
			break;
		for (k = 0; k < n; k++, i++, o += 4)
			snprintf(out + o, 5, "\\x%02x", p[i]);
	}
	if (i < len)
		memcpy(out + o, "...", 4);
	else
		out[o] = '\0';
}

/* NULL when the value fits the rule, else what is wrong with it. */
static const char *
flaw(const struct rule *rule, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long cp;
	size_t i, n;

	if (len < rule->min)
		return len == 0 ? _("empty") : _("too short");
	if (len > rule->max)
		return _("too long");
	if (rule->charset != NULL)
		return strspn(s, rule->charset) == len ? NULL : _("characters not allowed");
	for (i = 0; i < len; i += n) {
		n = str_utf8_next(p + i, len - i, &cp);
		if (n == 0)
			return _("not valid UTF-8");
		if (str_is_control(cp))
			return _("control characters");
	}
	return NULL;
}

static imss_err
missing(imss_ctx *ctx, const char *what)
{
	return ctx_fail(ctx, IMSS_ERR_PROTOCOL, _("The service's answer lacks '%s'."), what);
}

static imss_err
invalid(imss_ctx *ctx, const char *what, const char *why)
{
	return ctx_fail(ctx, IMSS_ERR_PROTOCOL,
	                _("The service's answer has an invalid '%s' (%s); nothing of it was kept. The service may be faulty or hostile."),
	                what, why);
}

/* A string member and its length in bytes; NULL when missing or not a string. */
static const char *
member_str(json_object *obj, const char *name, size_t *len)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

/* A member checked against its rule: *out points into obj.  A missing
 * member is an error unless optional (then *out is NULL). */
static imss_err
member_checked(imss_ctx *ctx, json_object *obj, const struct rule *rule, int optional,
               const char **out)
{
	json_object *v = NULL;
	size_t len = 0;
	const char *why;

	*out = member_str(obj, rule->name, &len);
	if (*out == NULL && optional && !json_object_object_get_ex(obj, rule->name, &v))
		return IMSS_OK;
	if (*out == NULL)
		return missing(ctx, rule->name);
	why = flaw(rule, *out, len);
	if (why != NULL) {
		*out = NULL;
		return invalid(ctx, rule->name, why);
	}
	return IMSS_OK;
}

static imss_err
dup_checked(imss_ctx *ctx, json_object *obj, const struct rule *rule, int optional, char **out)
{
	const char *s = NULL;
	imss_err err = member_checked(ctx, obj, rule, optional, &s);

	if (err == IMSS_OK && (*out = strdup(s ? s : "")) == NULL)
		err = IMSS_ERR_NOMEM;
	return err;
}

/* One JSON object, the whole body (json_tokener, so that a body with a
 * NUL or trailing bytes is no object). */
static json_object *
parse_object(const char *body, size_t len)
{
	json_tokener *tok = len <= INT_MAX ? json_tokener_new() : NULL;
	json_object *obj = NULL;
	size_t end;

	if (tok == NULL || body == NULL)
		goto out;
	obj = json_tokener_parse_ex(tok, body, (int)len);
	if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(obj, json_type_object))
		goto bad;
	for (end = json_tokener_get_parse_end(tok); end < len; end++)
		if (strchr(" \t\r\n", body[end]) == NULL || body[end] == '\0')
			goto bad;
	goto out;
bad:
	json_object_put(obj);
	obj = NULL;
out:
	json_tokener_free(tok);
	return obj;
}

static int
spanish(void)
{
	/* The header of the catalogue in use: Spanish also through LANGUAGE,
	 * never in the C locale (where there is no catalogue). */
	static const char header_msgid[] = "";
	const char *header = dgettext(IMSS_TEXTDOMAIN, header_msgid);

	return strstr(header, "\nLanguage: es") != NULL;
}

/* What the user does about the service's codes that have an answer: the
 * error they become and a sentence appended to the detail (NULL: none). */
static imss_err
code_meaning(const char *code, const char **hint, imss_next *next)
{
	*hint = NULL;
	*next = IMSS_NEXT_NONE;
	if (strcmp(code, "LOGIN_FAILED") == 0) {
		*hint = _(" Check the IDSE user and its password.");
		return IMSS_ERR_PASSWORD_INCORRECT;
	}
	if (strcmp(code, "ALREADY_RENEWED") == 0) {
		*hint = _(" This certificate was renewed already: renew from the new one, or fetch the new one again.");
		*next = IMSS_NEXT_USE_NEW_CERT;
	} else if (strcmp(code, "REQUEST_CANCELLED") == 0) {
		*hint = _(" The request was cancelled because the certificate that signed it was revoked: undo this renewal and renew with a valid certificate.");
		*next = IMSS_NEXT_ABANDON;
	} else if (strcmp(code, "CERT_EXPIRED_TOO_LONG") == 0)
		*hint = _(" The certificate expired too long ago to be renewed online: apply for a new one at the IMSS office (subdelegacion).");
	return IMSS_ERR_SERVICE;
}

imss_err
idse_parse_error(imss_ctx *ctx, long status, const char *body, size_t len)
{
	json_object *obj = parse_object(body, len), *e = NULL;
	const char *code = NULL, *msg;
	char safe[ERROR_TEXT_MAX];
	size_t msg_len = 0;
	imss_err err;

	if (obj && json_object_object_get_ex(obj, "error", &e) &&
	    json_object_is_type(e, json_type_object) &&
	    member_checked(ctx, e, &rule_code, 0, &code) == IMSS_OK &&
	    (msg = member_str(e, spanish() ? "message_es" : "message_en", &msg_len)) != NULL) {
		const char *hint;
		imss_next next;
		imss_err meaning = code_meaning(code, &hint, &next);

		idse_safe_text(msg, msg_len, safe, sizeof(safe));
		err = ctx_fail(ctx, meaning, _("The service answered %ld %s: %s"), status, code,
		               safe);
		if (hint != NULL)
			ctx_append_detail(ctx, "%s", hint);
		ctx_set_next(ctx, next);
	} else {
		err = ctx_fail(ctx, status >= 500 ? IMSS_ERR_SERVICE : IMSS_ERR_PROTOCOL,
		               _("The service answered HTTP %ld without a valid error description."),
		               status);
	}
	json_object_put(obj);
	return err;
}

/*
 * The answer's object when the status is one of ok (0-terminated), else
 * the error it describes.  method and path: for messages.
 */
static imss_err
answer_object(imss_ctx *ctx, long status, const char *body, size_t len, const long *ok,
              const char *method, const char *path, json_object **out)
{
	size_t i;

	*out = NULL;
	for (i = 0; ok[i] != 0 && ok[i] != status; i++)
		;
	if (ok[i] == 0)
		return idse_parse_error(ctx, status, body, len);
	*out = parse_object(body, len);
	if (*out == NULL)
		return ctx_fail(ctx, IMSS_ERR_PROTOCOL,
		                _("The service's answer to %s %s is not a JSON object."), method,
		                path);
	return IMSS_OK;
}

/* ---- JSON exchanges ------------------------------------------------ */

/* Send a JSON body (or none); the answer, of any status, in resp. */
static imss_err
exchange(struct http_client *c, const char *method, const char *path, json_object *body,
         int idempotent, struct http_response *resp)
{
	const char *text = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL;

	memset(resp, 0, sizeof(*resp));
	return http_request(c, method, path, text ? "application/json" : NULL, text,
	                    text ? strlen(text) : 0, idempotent, resp);
}

#define BODY(r) ((const char *)(r).body), (r).len

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
	*out = len <= LONG_MAX ? d2i_X509(NULL, &p, (long)len) : NULL;
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
idse_parse_ca(imss_ctx *ctx, long status, const char *body, size_t len, X509 **out)
{
	static const long ok[] = { 200, 0 };
	json_object *obj = NULL;
	const char *der = NULL;
	imss_err err;

	*out = NULL;
	err = answer_object(ctx, status, body, len, ok, "GET", "/idse/v1/ca", &obj);
	if (err == IMSS_OK)
		err = member_checked(ctx, obj, &rule_ca, 0, &der);
	if (err == IMSS_OK)
		err = decode_cert(ctx, der, out);
	json_object_put(obj);
	return err;
}

imss_err
idse_get_ca(imss_ctx *ctx, struct http_client *c, X509 **out)
{
	struct http_response r;
	imss_err err;

	*out = NULL;
	err = exchange(c, "GET", "/idse/v1/ca", NULL, 1, &r);
	if (err == IMSS_OK)
		err = idse_parse_ca(ctx, r.status, BODY(r), out);
	http_response_clear(&r);
	return err;
}

imss_err
idse_parse_challenge(imss_ctx *ctx, long status, const char *body, size_t len, char *challenge,
                     size_t size)
{
	static const long ok[] = { 201, 0 };
	json_object *obj = NULL;
	const char *s = NULL;
	imss_err err;

	err = answer_object(ctx, status, body, len, ok, "POST", "/idse/v1/challenge", &obj);
	if (err == IMSS_OK)
		err = member_checked(ctx, obj, &rule_challenge, 0, &s);
	if (err == IMSS_OK)
		snprintf(challenge, size, "%s", s);
	json_object_put(obj);
	return err;
}

static imss_err
get_challenge(imss_ctx *ctx, struct http_client *c, const char *user, char *challenge, size_t size)
{
	json_object *body = json_object_new_object();
	struct http_response r;
	imss_err err;

	json_object_object_add(body, "user", json_object_new_string(user));
	err = exchange(c, "POST", "/idse/v1/challenge", body, 0, &r);
	if (err == IMSS_OK)
		err = idse_parse_challenge(ctx, r.status, BODY(r), challenge, size);
	json_object_put(body);
	http_response_clear(&r);
	return err;
}

/* The terminal's prompt names whose password it asks for (fleet renew
 * asks for several): the user and the certificate's registro patronal
 * (malloc'd). */
static char *
password_prompt(const imss_credential *cred, const char *user)
{
	X509 *cert = cred ? imss_credential_get_certificate(cred) : NULL;
	imss_cert_info info;
	char *prompt = NULL;

	if (cert != NULL && imss_cert_describe(cert, &info) == IMSS_OK) {
		if (info.registro_patronal != NULL)
			prompt = str_printf(_("IDSE password of user %s (registro patronal %s): "),
			                    user, info.registro_patronal);
		imss_cert_info_clear(&info);
	}
	return prompt ? prompt : str_printf(_("IDSE password of user %s: "), user);
}

static imss_err
session_body(imss_ctx *ctx, const imss_credential *cred, const char *user,
             imss_pin_source *password, const char *challenge, json_object **out)
{
	char pass[PASSWORD_MAX], *prompt = NULL;
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
	if (b64 == NULL || (prompt = password_prompt(cred, user)) == NULL) {
		free(b64);
		return IMSS_ERR_NOMEM;
	}
	imss_secrets_begin();
	err = imss_pin_source_read(password, prompt, pass, sizeof(pass));
	free(prompt);
	if (err != IMSS_OK) {
		imss_secrets_end();
		free(b64);
		return ctx_fail(ctx, err, _("No IDSE password could be read from '%s'."),
		                imss_pin_source_describe(password));
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
idse_parse_session(imss_ctx *ctx, long status, const char *body, size_t len,
                   struct idse_session *out, char *token, size_t size)
{
	static const long ok[] = { 201, 0 };
	json_object *obj = NULL, *v = NULL;
	const char *tok = NULL, *rp = NULL, *renewal = NULL;
	imss_err err;

	memset(out, 0, sizeof(*out));
	err = answer_object(ctx, status, body, len, ok, "POST", "/idse/v1/session", &obj);
	if (err == IMSS_OK)
		err = member_checked(ctx, obj, &rule_token, 0, &tok);
	if (err == IMSS_OK)
		err = member_checked(ctx, obj, &rule_rp, 0, &rp);
	if (err == IMSS_OK)
		err = member_checked(ctx, obj, &rule_renewal_request, 1, &renewal);
	if (err == IMSS_OK && (strlen(tok) >= size || strlen(rp) >= sizeof(out->registro_patronal)))
		err = invalid(ctx, strlen(tok) >= size ? "token" : "registro_patronal",
		              _("too long"));
	if (err == IMSS_OK) {
		snprintf(token, size, "%s", tok);
		snprintf(out->registro_patronal, sizeof(out->registro_patronal), "%s", rp);
		snprintf(out->renewal_request, sizeof(out->renewal_request), "%s",
		         renewal ? renewal : "");
		out->renewal_required = json_object_object_get_ex(obj, "renewal_required", &v) &&
		                        json_object_get_boolean(v);
	}
	json_object_put(obj);
	return err;
}

/* The password was in the body: wipe the serialised copy and the member's
 * own string before json-c frees them. */
static void
wipe_session_body(json_object *body)
{
	const char *text = json_object_to_json_string(body);
	json_object *pw = NULL;

	imss_wipe((void *)text, strlen(text));
	if (json_object_object_get_ex(body, "password", &pw)) {
		const char *p = json_object_get_string(pw);

		imss_wipe((void *)p, strlen(p));
	}
}

imss_err
idse_login(imss_ctx *ctx, struct http_client *c, const imss_credential *cred, const char *user,
           imss_pin_source *password, struct idse_session *out)
{
	json_object *body = NULL;
	struct http_response r = { 0 };
	char challenge[80], token[IDSE_TOKEN_MAX + 1] = "";
	imss_err err;

	memset(out, 0, sizeof(*out));
	err = get_challenge(ctx, c, user, challenge, sizeof(challenge));
	if (err == IMSS_OK)
		err = session_body(ctx, cred, user, password, challenge, &body);
	if (err == IMSS_OK)
		err = exchange(c, "POST", "/idse/v1/session", body, 0, &r);
	if (body != NULL)
		wipe_session_body(body);
	if (err == IMSS_OK)
		err = idse_parse_session(ctx, r.status, BODY(r), out, token, sizeof(token));
	if (err == IMSS_OK)
		err = http_client_set_bearer(c, token);
	imss_wipe(token, sizeof(token));
	if (r.body != NULL)
		imss_wipe(r.body, r.len);
	json_object_put(body);
	http_response_clear(&r);
	return err;
}

void
idse_company_clear(struct idse_company *co)
{
	STR_FREE_EACH(co->registro_patronal, co->razon_social, co->rfc, co->address, co->email);
	memset(co, 0, sizeof(*co));
}

static imss_err
company_parse(imss_ctx *ctx, const char *method, long status, const char *body, size_t len,
              struct idse_company *out)
{
	static const long ok[] = { 200, 0 };
	struct idse_company co = { 0 };
	json_object *obj = NULL;
	imss_err err;

	err = answer_object(ctx, status, body, len, ok, method, "/idse/v1/company", &obj);
	if (err == IMSS_OK)
		err = dup_checked(ctx, obj, &rule_rp, 0, &co.registro_patronal);
	if (err == IMSS_OK)
		err = dup_checked(ctx, obj, &rule_razon, 0, &co.razon_social);
	if (err == IMSS_OK)
		err = dup_checked(ctx, obj, &rule_rfc, 0, &co.rfc);
	if (err == IMSS_OK)
		err = dup_checked(ctx, obj, &rule_email, 0, &co.email);
	if (err == IMSS_OK)
		err = dup_checked(ctx, obj, &rule_address, 1, &co.address);
	if (err == IMSS_OK) {
		idse_company_clear(out);
		*out = co;
	} else {
		idse_company_clear(&co);
	}
	json_object_put(obj);
	return err;
}

imss_err
idse_parse_company(imss_ctx *ctx, long status, const char *body, size_t len, struct idse_company *out)
{
	return company_parse(ctx, "GET", status, body, len, out);
}

imss_err
idse_get_company(imss_ctx *ctx, struct http_client *c, struct idse_company *out)
{
	struct http_response r;
	imss_err err;

	err = exchange(c, "GET", "/idse/v1/company", NULL, 1, &r);
	if (err == IMSS_OK)
		err = company_parse(ctx, "GET", r.status, BODY(r), out);
	http_response_clear(&r);
	return err;
}

imss_err
idse_set_email(imss_ctx *ctx, struct http_client *c, const char *email, struct idse_company *out)
{
	json_object *body = json_object_new_object();
	struct http_response r;
	imss_err err;

	json_object_object_add(body, "email", json_object_new_string(email));
	err = exchange(c, "PATCH", "/idse/v1/company", body, 1, &r);
	if (err == IMSS_OK)
		err = company_parse(ctx, "PATCH", r.status, BODY(r), out);
	json_object_put(body);
	http_response_clear(&r);
	return err;
}

void
idse_letter_clear(struct idse_letter *l)
{
	free(l->pdf);
	memset(l, 0, sizeof(*l));
}

/* The PDF, checked against the digest announced with it and to be one. */
static imss_err
letter_from(imss_ctx *ctx, json_object *obj, struct idse_letter *out)
{
	json_object *v = NULL;
	const char *pdf = NULL, *sha = NULL;
	unsigned char md[32];
	char *hex = NULL;
	imss_err err;

	err = member_checked(ctx, obj, &rule_pdf, 0, &pdf);
	if (err == IMSS_OK)
		err = member_checked(ctx, obj, &rule_sha256, 0, &sha);
	if (err == IMSS_OK)
		err = b64_decode(ctx, pdf, &out->pdf, &out->len);
	if (err != IMSS_OK)
		return err;
	SHA256(out->pdf, out->len, md);
	hex = hex_encode(md, sizeof(md));
	if (hex == NULL)
		return IMSS_ERR_NOMEM;
	if (strcasecmp(hex, sha) != 0)
		err = ctx_fail(ctx, IMSS_ERR_PROTOCOL,
		               _("The letter's SHA-256 does not match the digest the service announced."));
	/* Only a PDF is signed: the current key's signature over other
	 * bytes (a request of someone else's key) could serve as theirs. */
	else if (out->len < 5 || memcmp(out->pdf, "%PDF-", 5) != 0)
		err = ctx_fail(ctx, IMSS_ERR_PROTOCOL,
		               _("The letter the service sent is not a PDF (it does not start with %%PDF-): nothing was signed. Check that the server address is the IMSS service's."));
	snprintf(out->sha256, sizeof(out->sha256), "%s", hex);
	free(hex);
	out->id = json_object_object_get_ex(obj, "letter_id", &v) ? json_object_get_int64(v) : 0;
	out->signed_already =
	        json_object_object_get_ex(obj, "signed", &v) && json_object_get_boolean(v);
	return err;
}

imss_err
idse_parse_letter(imss_ctx *ctx, long status, const char *body, size_t len, struct idse_letter *out)
{
	static const long ok[] = { 200, 0 };
	json_object *obj = NULL;
	imss_err err;

	memset(out, 0, sizeof(*out));
	err = answer_object(ctx, status, body, len, ok, "GET", "/idse/v1/letter", &obj);
	if (err == IMSS_OK)
		err = letter_from(ctx, obj, out);
	if (err != IMSS_OK)
		idse_letter_clear(out);
	json_object_put(obj);
	return err;
}

imss_err
idse_get_letter(imss_ctx *ctx, struct http_client *c, struct idse_letter *out)
{
	struct http_response r;
	imss_err err;

	memset(out, 0, sizeof(*out));
	err = exchange(c, "GET", "/idse/v1/letter", NULL, 1, &r);
	if (err == IMSS_OK)
		err = idse_parse_letter(ctx, r.status, BODY(r), out);
	http_response_clear(&r);
	return err;
}

/* POST a CMS as base64 in member; the answer in r. */
static imss_err
post_cms(struct http_client *c, const char *path, const char *member, const unsigned char *cms,
         size_t len, struct http_response *r)
{
	json_object *body = json_object_new_object();
	char *b64 = b64_encode(cms, len);
	imss_err err;

	memset(r, 0, sizeof(*r));
	if (body == NULL || b64 == NULL) {
		json_object_put(body);
		free(b64);
		return IMSS_ERR_NOMEM;
	}
	json_object_object_add(body, member, json_object_new_string(b64));
	err = exchange(c, "POST", path, body, 0, r);
	json_object_put(body);
	free(b64);
	return err;
}

imss_err
idse_sign_letter(imss_ctx *ctx, struct http_client *c, const unsigned char *cms, size_t len,
                 char bound_request[65])
{
	static const long ok[] = { 201, 0 };
	static const char path[] = "/idse/v1/letter/signature";
	struct http_response r;
	json_object *obj = NULL;
	const char *sha = NULL;
	imss_err err;

	bound_request[0] = '\0';
	err = post_cms(c, path, "signature", cms, len, &r);
	if (err == IMSS_OK)
		err = answer_object(ctx, r.status, BODY(r), ok, "POST", path, &obj);
	if (err == IMSS_OK) /* absent from a service that does not bind requests */
		err = member_checked(ctx, obj, &rule_request_sha256, 1, &sha);
	if (err == IMSS_OK && sha != NULL)
		snprintf(bound_request, 65, "%s", sha);
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

/* The issued certificate of a 200 or 201 answer. */
static imss_err
result_cert(imss_ctx *ctx, json_object *obj, X509 **out)
{
	json_object *cert = NULL;
	const char *der = NULL, *serial = NULL;
	imss_err err;

	if (!json_object_object_get_ex(obj, "certificate", &cert) ||
	    !json_object_is_type(cert, json_type_object))
		return missing(ctx, "certificate");
	err = member_checked(ctx, cert, &rule_serial, 1, &serial);
	if (err == IMSS_OK)
		err = member_checked(ctx, cert, &rule_der, 0, &der);
	if (err == IMSS_OK)
		err = decode_cert(ctx, der, out);
	return err;
}

/* 201 with a certificate, 202 with a request to poll, 200 with a
 * certificate asked for by serial.  method and path: for messages. */
static imss_err
result_parse(imss_ctx *ctx, const char *method, const char *path, long status, const char *body,
             size_t len, long retry_after, struct idse_result *out)
{
	static const long ok[] = { 200, 201, 202, 0 };
	struct idse_result res = { 0 };
	json_object *obj = NULL;
	const char *id = NULL;
	imss_err err;

	err = answer_object(ctx, status, body, len, ok, method, path, &obj);
	/* A request id is journalled: never an empty or outlandish one. */
	if (err == IMSS_OK)
		err = member_checked(ctx, obj, &rule_request_id, status == 200, &id);
	if (err == IMSS_OK && id != NULL)
		snprintf(res.request_id, sizeof(res.request_id), "%s", id);
	if (err == IMSS_OK && status == 202)
		res.retry_after = retry_after > 0 && retry_after <= 3600 ? retry_after : 5;
	else if (err == IMSS_OK)
		err = result_cert(ctx, obj, &res.cert);
	json_object_put(obj);
	idse_result_clear(out);
	if (err == IMSS_OK)
		*out = res;
	else
		idse_result_clear(&res);
	return err;
}

imss_err
idse_parse_result(imss_ctx *ctx, long status, const char *body, size_t len, long retry_after,
                  struct idse_result *out)
{
	return result_parse(ctx, "POST", "/idse/v1/renewal", status, body, len, retry_after, out);
}

/* The answer to METHOD PATH, accepted with the statuses in ok. */
static imss_err
result_answer(imss_ctx *ctx, const char *method, const char *path, const struct http_response *r,
              const long *ok, struct idse_result *out)
{
	size_t i;

	for (i = 0; ok[i] != 0 && ok[i] != r->status; i++)
		;
	if (ok[i] == 0)
		return idse_parse_error(ctx, r->status, (const char *)r->body, r->len);
	return result_parse(ctx, method, path, r->status, (const char *)r->body, r->len,
	                    r->retry_after, out);
}

imss_err
idse_submit(imss_ctx *ctx, struct http_client *c, const unsigned char *cms, size_t len,
            struct idse_result *out)
{
	static const long ok[] = { 201, 202, 0 };
	struct http_response r;
	imss_err err;

	memset(out, 0, sizeof(*out));
	err = post_cms(c, "/idse/v1/renewal", "request", cms, len, &r);
	if (err == IMSS_OK)
		err = result_answer(ctx, "POST", "/idse/v1/renewal", &r, ok, out);
	http_response_clear(&r);
	return err;
}

static imss_err
get_result(imss_ctx *ctx, struct http_client *c, const char *path, const long *ok,
           struct idse_result *out)
{
	struct http_response r;
	imss_err err;

	memset(out, 0, sizeof(*out));
	err = exchange(c, "GET", path, NULL, 1, &r);
	if (err == IMSS_OK)
		err = result_answer(ctx, "GET", path, &r, ok, out);
	http_response_clear(&r);
	return err;
}

static int
safe_id(const char *s)
{
	return flaw(&rule_request_id, s, strlen(s)) == NULL;
}

imss_err
idse_poll(imss_ctx *ctx, struct http_client *c, const char *request_id, struct idse_result *out)
{
	static const long ok[] = { 201, 202, 0 };
	char path[128];

	if (!safe_id(request_id))
		return ctx_fail(ctx, IMSS_ERR_INVALID_ARG, _("Invalid request id."));
	snprintf(path, sizeof(path), "/idse/v1/requests/%s", request_id);
	return get_result(ctx, c, path, ok, out);
}

imss_err
idse_get_certificate(imss_ctx *ctx, struct http_client *c, const char *serial, struct idse_result *out)
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
	struct http_response r;
	imss_err err;

	err = exchange(c, "DELETE", "/idse/v1/session", NULL, 0, &r);
	if (err == IMSS_OK && r.status != 204)
		err = idse_parse_error(ctx, r.status, BODY(r));
	http_response_clear(&r);
	http_client_set_bearer(c, NULL);
	return err;
}
