/*
 * imss-renew-service: GET /letter and POST /letter/signature.  A session's
 * current letter is its latest one made for the employer's e-mail as it
 * is now; a changed e-mail makes a new letter at the next GET.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api.h"
#include "cmsv.h"
#include "db.h"
#include "employers.h"
#include "letter-pdf.h"
#include "util.h"

struct letter {
	long long id;
	unsigned char *pdf;
	size_t len;
	unsigned char sha256[32];
	int is_signed;
	time_t signed_at;
	unsigned char *signature; /* once signed */
	size_t signature_len;
};

static void
letter_clear(struct letter *l)
{
	free(l->pdf);
	free(l->signature);
	memset(l, 0, sizeof(*l));
}

/* The session's current letter: 0, 1 when there is none, -1. */
static int
letter_current(struct api_call *c, const char *email, struct letter *out)
{
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	memset(out, 0, sizeof(*out));
	if (db_prepare(c->api->db,
	               "SELECT id, pdf, sha256, signed_at, signature FROM letters"
	               " WHERE session_id = ?1 AND email = ?2 ORDER BY id DESC LIMIT 1",
	               &st) != 0 ||
	    sqlite3_bind_int64(st, 1, c->sess.id) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, email, -1, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		rc = 1;
	if (step != SQLITE_ROW || sqlite3_column_bytes(st, 2) != 32)
		goto out;
	out->id = sqlite3_column_int64(st, 0);
	memcpy(out->sha256, sqlite3_column_blob(st, 2), 32);
	out->is_signed = sqlite3_column_type(st, 3) != SQLITE_NULL;
	out->signed_at = (time_t)sqlite3_column_int64(st, 3);
	if (db_column_blob(st, 1, &out->pdf, &out->len) == 0 &&
	    (!out->is_signed || db_column_blob(st, 4, &out->signature, &out->signature_len) == 0))
		rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

static int
letter_new(struct api_call *c, const struct employer *e, struct letter *out)
{
	struct letter_info info = { e, c->sess.serial, c->now };
	sqlite3_stmt *st = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (letter_pdf_make(&info, &out->pdf, &out->len) != 0 ||
	    svc_sha256(out->pdf, out->len, out->sha256) != 0)
		goto out;
	if (db_prepare(c->api->db,
	               "INSERT INTO letters(session_id, employer_id, email, pdf,"
	               " sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	               &st) != 0 ||
	    sqlite3_bind_int64(st, 1, c->sess.id) || sqlite3_bind_int64(st, 2, e->id) ||
	    sqlite3_bind_text(st, 3, e->email, -1, SQLITE_STATIC) ||
	    sqlite3_bind_blob(st, 4, out->pdf, (int)out->len, SQLITE_STATIC) ||
	    sqlite3_bind_blob(st, 5, out->sha256, 32, SQLITE_STATIC) ||
	    sqlite3_bind_int64(st, 6, (sqlite3_int64)c->now) || sqlite3_step(st) != SQLITE_DONE)
		goto out;
	out->id = sqlite3_last_insert_rowid(c->api->db);
	rc = 0;
out:
	sqlite3_finalize(st);
	if (rc != 0)
		letter_clear(out);
	return rc;
}

static enum api_code
letter_answer(struct api_call *c, const struct letter *l)
{
	char hex[65];
	json_object *o;

	svc_hex(l->sha256, 32, hex, 0);
	if (api_accepts(c, "application/pdf")) {
		api_add_header(c->rs, "X-Letter-Id", "%lld", l->id);
		api_add_header(c->rs, "X-Letter-SHA256", "%s", hex);
		return api_reply_bytes(c, 200, "application/pdf", l->pdf, l->len);
	}
	o = json_object_new_object();
	if (!o || api_set_int(o, "letter_id", l->id) || api_set_str(o, "title", LETTER_TITLE) ||
	    api_set_str(o, "media_type", "application/pdf") ||
	    api_set_int(o, "size", (long long)l->len) || api_set_str(o, "sha256", hex) ||
	    api_set_b64(o, "pdf", l->pdf, l->len) || api_set_bool(o, "signed", l->is_signed) ||
	    (l->is_signed ? api_set_time(o, "signed_at", l->signed_at)
	                  : api_set_str(o, "signed_at", NULL))) {
		json_object_put(o);
		return API_INTERNAL;
	}
	return api_reply_json(c, 200, o);
}

enum api_code
api_get_letter(struct api_call *c)
{
	struct employer e = { 0 };
	struct letter l = { 0 };
	enum api_code code = API_INTERNAL;
	int found;

	if (employer_get(c->api->db, c->sess.employer_id, &e) != 0)
		goto out;
	found = letter_current(c, e.email, &l);
	if (found < 0 || (found == 1 && letter_new(c, &e, &l) != 0))
		goto out;
	code = letter_answer(c, &l);
out:
	letter_clear(&l);
	employer_clear(&e);
	return code;
}

static int
letter_mark_signed(struct api_call *c, const struct letter *l, const unsigned char *sig, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (db_prepare(c->api->db,
	               "UPDATE letters SET signature = ?1, signer_serial = ?2,"
	               " signed_at = ?3 WHERE id = ?4",
	               &st) == 0 &&
	    sqlite3_bind_blob(st, 1, sig, (int)len, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, c->sess.serial, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 3, (sqlite3_int64)c->now) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 4, l->id) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

static enum api_code
sign_letter(struct api_call *c, const unsigned char *sig, size_t len)
{
	struct employer e = { 0 };
	struct letter l = { 0 };
	struct cms_signed cs = { 0 };
	X509 *cert = NULL;
	json_object *o;
	unsigned char bound[32];
	char hex[65];
	enum api_code code = API_INTERNAL;
	int found, binds;

	if (employer_get(c->api->db, c->sess.employer_id, &e) != 0)
		goto out;
	found = letter_current(c, e.email, &l);
	if (found != 0) {
		code = found == 1 ? API_LETTER_NOT_ISSUED : API_INTERNAL;
		goto out;
	}
	code = API_LETTER_ALREADY_SIGNED;
	if (l.is_signed)
		goto out;
	code = api_session_cert(c, &cert);
	if (code == API_OK)
		code = cms_check(sig, len, cert, l.pdf, l.len, &cs);
	binds = code == API_OK ? cms_bound_request(sig, len, bound) : 0;
	if (binds < 0)
		code = API_CMS_MALFORMED;
	if (code != API_OK)
		goto out;
	code = API_INTERNAL;
	svc_hex(l.sha256, 32, hex, 0);
	o = json_object_new_object();
	if (letter_mark_signed(c, &l, sig, len) != 0 || !o || api_set_int(o, "letter_id", l.id) ||
	    api_set_str(o, "sha256", hex) || api_set_time(o, "signed_at", c->now) ||
	    (binds && api_set_hex(o, "request_sha256", bound, 32))) {
		json_object_put(o);
		goto out;
	}
	code = api_reply_json(c, 201, o);
out:
	cms_signed_clear(&cs);
	X509_free(cert);
	letter_clear(&l);
	employer_clear(&e);
	return code;
}

enum api_code
api_post_letter_signature(struct api_call *c)
{
	return api_json_base64_only(c, "signature", sign_letter);
}

enum api_code
api_letter_signed(struct api_call *c, const char *email, struct letter_signature *out)
{
	struct letter l = { 0 };
	int found = letter_current(c, email, &l);
	enum api_code code = found < 0 ? API_INTERNAL : API_LETTER_NOT_SIGNED;

	memset(out, 0, sizeof(*out));
	if (found == 0 && l.is_signed) {
		out->letter_id = l.id;
		out->binds =
		        cms_bound_request(l.signature, l.signature_len, out->request_sha256) == 1;
		out->der = l.signature;
		out->len = l.signature_len;
		l.signature = NULL;
		code = API_OK;
	}
	letter_clear(&l);
	return code;
}
