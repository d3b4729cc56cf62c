/*
 * imss-renew-service: GET /ca and GET /certificates/{serial}, and the
 * certificate object of the protocol.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api.h"
#include "certdb.h"
#include "util.h"

json_object *
api_cert_json(X509 *x)
{
	json_object *o = json_object_new_object();
	unsigned char *der = NULL;
	size_t len = 0;
	char serial[64];
	char *subject = ca_subject_text(X509_get_subject_name(x));
	char *pem = ca_cert_pem(x);
	time_t nb, na;
	int ok;

	ok = o && subject && pem && ca_serial_text(x, serial, sizeof(serial)) == 0 &&
	     ca_cert_times(x, &nb, &na) == 0 && ca_cert_der(x, &der, &len) == 0 &&
	     api_set_str(o, "serial", serial) == 0 && api_set_str(o, "subject", subject) == 0 &&
	     api_set_time(o, "not_before", nb) == 0 && api_set_time(o, "not_after", na) == 0 &&
	     api_set_b64(o, "der", der, len) == 0 && api_set_str(o, "pem", pem) == 0;
	OPENSSL_free(der);
	free(subject);
	free(pem);
	if (!ok) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* A client that accepts application/pkix-cert gets the certificate's DER
 * alone: 1 with *code the reply's; 0 when JSON is wanted. */
static int
reply_der_if_asked(struct api_call *c, const unsigned char *der, size_t len, enum api_code *code)
{
	static const char media_type[] = "application/pkix-cert";

	if (!api_accepts(c, media_type))
		return 0;
	*code = api_reply_bytes(c, 200, media_type, der, len);
	return 1;
}

/* GET /ca's JSON: the CA certificate (DER, PEM), its subject and SHA-256. */
static json_object *
ca_json(X509 *x, const unsigned char *der, size_t len, const unsigned char *hash)
{
	json_object *o = json_object_new_object();
	char *pem = ca_cert_pem(x);
	char *subject = ca_subject_text(X509_get_subject_name(x));

	if (!pem || !subject || !o || api_set_b64(o, "certificate", der, len) ||
	    api_set_str(o, "pem", pem) || api_set_str(o, "subject", subject) ||
	    api_set_hex(o, "sha256", hash, 32)) {
		json_object_put(o);
		o = NULL;
	}
	free(pem);
	free(subject);
	return o;
}

enum api_code
api_get_ca(struct api_call *c)
{
	X509 *x = c->api->ca.cert;
	unsigned char *der = NULL, hash[32];
	size_t len;
	enum api_code code = API_INTERNAL;

	if (ca_cert_der(x, &der, &len) != 0 || svc_sha256(der, len, hash) != 0)
		goto out;
	if (!reply_der_if_asked(c, der, len, &code))
		code = api_reply_json(c, 200, ca_json(x, der, len, hash));
out:
	OPENSSL_free(der);
	return code;
}

enum api_code
api_session_cert(struct api_call *c, X509 **out)
{
	struct certrow row;
	enum api_code code = API_INTERNAL;

	if (certdb_get(c->api->db, c->sess.serial, &row) != 0)
		return API_INTERNAL;
	if (row.revoked)
		code = API_CERT_REVOKED;
	else if ((*out = certdb_row_x509(&row)) != NULL)
		code = API_OK;
	certdb_row_clear(&row);
	return code;
}

/* GET /certificates/SERIAL's JSON: the certificate and whether it is revoked. */
static json_object *
certificate_json(const struct certrow *row)
{
	json_object *o = json_object_new_object();
	X509 *x = certdb_row_x509(row);

	if (!o || !x || api_set(o, "certificate", api_cert_json(x)) ||
	    api_set_bool(o, "revoked", row->revoked)) {
		json_object_put(o);
		o = NULL;
	}
	X509_free(x);
	return o;
}

enum api_code
api_get_certificate(struct api_call *c)
{
	struct certrow row = { 0 };
	char serial[65];
	size_t i;
	int found;
	enum api_code code = API_CERT_NOT_FOUND;

	if (!svc_is_hex(c->param, 1, 64))
		goto out;
	for (i = 0; c->param[i]; i++)
		serial[i] = (char)toupper((unsigned char)c->param[i]);
	serial[i] = '\0';
	found = certdb_get(c->api->db, serial, &row);
	if (found < 0)
		code = API_INTERNAL;
	if (found != 0 || row.employer_id != c->sess.employer_id)
		goto out;
	code = API_INTERNAL;
	if (!reply_der_if_asked(c, row.der, row.der_len, &code))
		code = api_reply_json(c, 200, certificate_json(&row));
out:
	certdb_row_clear(&row);
	return code;
}
