/*
 * imss-renew-service: POST /renewal (a PKCS#10 request wrapped in a CMS
 * signed by the current credential, or the request itself when the
 * session's letter signature binds it) and GET /requests/{id} (polling).
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <openssl/x509.h>

#include "api.h"
#include "certdb.h"
#include "cmsv.h"
#include "csr.h"
#include "employers.h"
#include "requests.h"
#include "util.h"

/* 202 with Retry-After while pending, 201 with the certificate once issued. */
static enum api_code
request_answer(struct api_call *c, const char *id)
{
	struct request_row row;
	struct certrow cr = { 0 };
	json_object *o = json_object_new_object();
	X509 *x = NULL;
	long retry;
	enum api_code code = API_INTERNAL;

	if (!o || request_get(c->api->db, id, &row) != 0 || api_set_str(o, "request_id", id))
		goto out;
	if (row.cancelled) {
		code = API_REQUEST_CANCELLED;
		goto out;
	}
	if (!row.issued) {
		retry = row.due_at > c->now ? (long)(row.due_at - c->now) : 1;
		api_add_header(c->rs, "Retry-After", "%ld", retry);
		api_add_header(c->rs, "Location", API_BASE "/requests/%s", id);
		if (api_set_str(o, "status", "pending") || api_set_int(o, "retry_after", retry) ||
		    api_set_time(o, "due_at", row.due_at))
			goto out;
		code = api_reply_json(c, 202, o);
		o = NULL;
		goto out;
	}
	if (certdb_get(c->api->db, row.serial, &cr) != 0 || !(x = certdb_row_x509(&cr)) ||
	    api_set_str(o, "status", "issued") || api_set(o, "certificate", api_cert_json(x)))
		goto out;
	api_add_header(c->rs, "Location", API_BASE "/certificates/%s", row.serial);
	code = api_reply_json(c, 201, o);
	o = NULL;
out:
	json_object_put(o);
	X509_free(x);
	certdb_row_clear(&cr);
	return code;
}

/* The session's certificate has not been renewed: ALREADY_RENEWED when a
 * request it signed exists (pending or issued).  It may still log in to
 * recover that request's certificate. */
static enum api_code
not_renewed(struct api_call *c)
{
	char id[REQUEST_ID_LEN + 1];
	int found = request_of_cert(c->api->db, c->sess.serial, id);

	return found == 0 ? API_OK : found == 1 ? API_ALREADY_RENEWED : API_INTERNAL;
}

/* The new key: not the current certificate's, nor any this CA knows. */
static enum api_code
key_is_new(struct api_call *c, X509 *current, const unsigned char *spki)
{
	unsigned char cur[32];
	int known;

	if (ca_spki_sha256(X509_get0_pubkey(current), cur) != 0)
		return API_INTERNAL;
	if (memcmp(cur, spki, 32) == 0)
		return API_KEY_REUSED;
	known = certdb_key_known(c->api->db, spki);
	return known == 0 ? API_OK : known == 1 ? API_KEY_REUSED : API_INTERNAL;
}

static enum api_code
store_and_answer(struct api_call *c, const struct employer *e, long long letter_id,
                 const unsigned char *cms, size_t cms_len, const struct cms_signed *cs,
                 const unsigned char *spki)
{
	struct request_new r = { 0 };
	const struct api_config *cfg = &c->api->cfg;

	r.employer_id = e->id;
	r.session_id = c->sess.id;
	r.letter_id = letter_id;
	r.old_serial = c->sess.serial;
	r.cms = cms;
	r.cms_len = cms_len;
	r.csr = cs->content;
	r.csr_len = cs->content_len;
	r.spki = spki;
	r.email = e->email;
	r.created_at = c->now;
	r.due_at = c->now + (time_t)cfg->issue_delay;
	switch (request_insert(c->api->db, &r)) {
	case 0:
		break;
	case 1:
		return API_ALREADY_RENEWED;
	default:
		return API_INTERNAL;
	}
	if (cfg->issue_delay == 0 &&
	    request_issue(c->api->db, &c->api->ca, r.id, c->now, cfg->validity_days) != 0)
		return API_INTERNAL;
	return request_answer(c, r.id);
}

/* A DER PKCS#10 request, whole (a CMS ContentInfo never parses as one). */
static int
is_bare_request(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509_REQ *req = len <= LONG_MAX ? d2i_X509_REQ(NULL, &p, (long)len) : NULL;
	int whole = req != NULL && p == der + len;

	X509_REQ_free(req);
	return whole;
}

/* The bare request der is the one the session's letter signature binds:
 * then it is the content, as if it came wrapped in a CMS of its own. */
static enum api_code
bound_request(const struct letter_signature *ls, const unsigned char *der, size_t len,
              struct cms_signed *out)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	memset(out, 0, sizeof(*out));
	if (!ls->binds || memcmp(SHA256(der, len, md), ls->request_sha256, sizeof(md)) != 0)
		return API_SIGNATURE_INVALID;
	out->content = malloc(len);
	if (out->content == NULL)
		return API_INTERNAL;
	memcpy(out->content, der, len);
	out->content_len = len;
	return API_OK;
}

static enum api_code
renew(struct api_call *c, const unsigned char *der, size_t len)
{
	struct employer e = { 0 };
	struct cms_signed cs = { 0 };
	struct subject s;
	unsigned char spki[32];
	EVP_PKEY *pub = NULL;
	X509 *cert = NULL;
	char existing[REQUEST_ID_LEN + 1];
	struct letter_signature ls = { 0 };
	int pending, found, bare = is_bare_request(der, len);
	enum api_code code = API_INTERNAL;

	if (employer_get(c->api->db, c->sess.employer_id, &e) != 0)
		goto out;
	code = api_letter_signed(c, e.email, &ls);
	if (code != API_OK)
		goto out;
	code = api_session_cert(c, &cert);
	if (code == API_OK) /* the letter's signer was checked to be the session's */
		code = bare ? bound_request(&ls, der, len, &cs)
		            : cms_check(der, len, cert, NULL, 0, &cs);
	s.razon_social = e.razon_social;
	s.registro_patronal = e.registro_patronal;
	s.rfc = e.rfc;
	s.email = e.email;
	if (code == API_OK)
		code = csr_check(cs.content, cs.content_len, &s, &pub, spki);
	if (code == API_OK) {
		/* The same key sent again (a client that lost the answer):
		 * the answer is that request's, not a second request. */
		found = request_find_by_key(c->api->db, e.id, spki, existing);
		if (found == 1) {
			code = request_answer(c, existing);
			goto out;
		}
		code = found == 0 ? API_OK : API_INTERNAL;
	}
	if (code == API_OK) {
		pending = request_pending_exists(c->api->db, e.id);
		code = pending == 0 ? API_OK : pending == 1 ? API_REQUEST_PENDING : API_INTERNAL;
	}
	if (code == API_OK)
		code = not_renewed(c);
	if (code == API_OK)
		code = key_is_new(c, cert, spki);
	if (code == API_OK)
		code = store_and_answer(c, &e, ls.letter_id, bare ? ls.der : der,
		                        bare ? ls.len : len, &cs, spki);
out:
	free(ls.der);
	EVP_PKEY_free(pub);
	X509_free(cert);
	cms_signed_clear(&cs);
	employer_clear(&e);
	return code;
}

enum api_code
api_post_renewal(struct api_call *c)
{
	return api_json_base64_only(c, "request", renew);
}

enum api_code
api_get_request(struct api_call *c)
{
	struct request_row row;
	char id[REQUEST_ID_LEN + 1];
	size_t i;
	int found;

	if (!svc_is_hex(c->param, REQUEST_ID_LEN, REQUEST_ID_LEN))
		return API_REQUEST_NOT_FOUND;
	for (i = 0; i <= REQUEST_ID_LEN; i++)
		id[i] = (char)tolower((unsigned char)c->param[i]);
	found = request_get(c->api->db, id, &row);
	if (found < 0)
		return API_INTERNAL;
	if (found == 1 || row.employer_id != c->sess.employer_id)
		return API_REQUEST_NOT_FOUND;
	if (requests_issue_due(c->api->db, &c->api->ca, c->now, c->api->cfg.validity_days, NULL) != 0)
		return API_INTERNAL;
	return request_answer(c, id);
}
