/*
 * Renewing through a standard enrollment protocol (SCEP, CMP) against the
 * firm's own CA: no IDSE login, company data, e-mail or letter.  The
 * employer is the current certificate's subject, which the new
 * certificate must carry; the journal, the key, the request, the full
 * check and the store are the IDSE renewal's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <openssl/x509.h>

#include "enroll.h"
#include "renew.h"

#define TRANSACTION_BYTES 16

imss_err
renew_enroll_identity(struct renew *r)
{
	X509 *cert = imss_credential_get_certificate(r->o->current);
	const X509_NAME *n = cert ? X509_get_subject_name(cert) : NULL;
	char *id = n ? renew_subject_entry(n, NID_organizationalUnitName) : NULL;

	if (n == NULL)
		return ctx_fail(r->ctx, IMSS_ERR_FORMAT,
		                _("The current credential has no certificate."));
	/* Names the journal and state files: the registro patronal of an
	 * IMSS-style subject, else the hash of the subject. */
	if (id == NULL || !str_is_text(id)) {
		free(id);
		id = str_printf("%08lx", X509_NAME_hash_ex(n, NULL, NULL, NULL));
	}
	r->company.registro_patronal = id;
	r->company.razon_social = renew_subject_entry(n, NID_commonName);
	if (id == NULL)
		return IMSS_ERR_NOMEM;
	{
		char *text = X509_NAME_oneline(n, NULL, 0);
		const char *f[] = { "protocol", imss_protocol_name(r->o->protocol),
			            "server",   r->o->server,
			            "subject",  text ? text : "?",
			            NULL };

		renew_emit(r, "login", 1, f,
		           _("Renewing %s with %s at %s: no login, the requests are signed with the current credential."),
		           text ? text : "?", imss_protocol_name(r->o->protocol), r->o->server);
		OPENSSL_free(text);
	}
	return IMSS_OK;
}

/* The transaction ID, journalled before the first message is sent. */
static imss_err
record_transaction(struct renew *r)
{
	unsigned char rnd[TRANSACTION_BYTES];
	char *hex;
	imss_err err = IMSS_OK;

	if (r->j.request_id == NULL) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return ctx_fail_openssl(r->ctx, "RAND_bytes");
		if ((hex = hex_encode(rnd, sizeof(rnd))) == NULL)
			return IMSS_ERR_NOMEM;
		err = journal_set(&r->j.request_id, hex);
		free(hex);
	}
	if (r->j.state < JOURNAL_SUBMIT_STARTED)
		r->j.state = JOURNAL_SUBMIT_STARTED;
	return err == IMSS_OK ? journal_save(r->ctx, &r->j) : err;
}

/* The engine's full check, for the connector to call before it confirms
 * the certificate to the CA. */
static imss_err
check_received(void *user, X509 *cert)
{
	struct renew *r = user;

	return renew_check_certificate(r, cert, imss_key_get_public(r->key), 0);
}

static imss_err
enroll_exchange(struct renew *r, const unsigned char *der, size_t len, struct enroll_result *res)
{
	struct enroll_request q = { 0 };
	const unsigned char *p = der;
	enroll_fn connector = enroll_connector(r->o->protocol);
	imss_err err;

	q.server = r->o->server;
	q.http = r->http;
	q.libctx = imss_ctx_libctx(r->ctx);
	q.current_cert = imss_credential_get_certificate(r->o->current);
	q.current_key = imss_credential_get_key(r->o->current);
	q.ca = r->issuer;
	q.timeout = r->o->wait_seconds > 0 ? r->o->wait_seconds : 600;
	q.transaction = r->j.request_id;
	q.resumed = r->j.state >= JOURNAL_SUBMIT_STARTED;
	q.check = check_received;
	q.check_user = r;
	q.request = d2i_X509_REQ(NULL, &p, (long)len);
	if (connector == NULL || q.request == NULL)
		return ctx_fail(r->ctx, IMSS_ERR_INVALID_ARG, _("No request to send."));
	err = imss_key_get_evp(r->key, &q.new_key);
	if (err == IMSS_OK)
		err = record_transaction(r);
	q.transaction = r->j.request_id;
	if (err == IMSS_OK) {
		const char *f[] = { "protocol", imss_protocol_name(r->o->protocol), "request_id",
			            r->j.request_id, NULL };

		renew_emit(r, "submit", 6, f, _("Sending the request to %s (%s, transaction %s)."),
		           r->o->server, imss_protocol_name(r->o->protocol), r->j.request_id);
		err = connector(r->ctx, &q, res);
	}
	EVP_PKEY_free(q.new_key);
	X509_REQ_free(q.request);
	return err;
}

imss_err
renew_enroll(struct renew *r, const unsigned char *der, size_t len)
{
	struct enroll_result res = { 0 };
	imss_err err = enroll_exchange(r, der, len, &res);

	if (err == IMSS_OK && res.pending) {
		r->j.state = JOURNAL_SUBMITTED;
		err = journal_save(r->ctx, &r->j);
		if (err == IMSS_OK)
			err = ctx_fail(r->ctx, IMSS_ERR_PENDING,
			               _("The CA has not issued the certificate yet (transaction %s). Run the same command again later: it asks for this transaction."),
			               r->j.request_id);
	}
	/* Checked by the connector's call before it was confirmed; again
	 * here, whatever the connector did. */
	if (err == IMSS_OK)
		err = check_received(r, res.cert);
	if (err == IMSS_OK)
		err = renew_save_certificate(r, res.cert);
	if (err == IMSS_OK) {
		r->cert = res.cert;
		res.cert = NULL;
	}
	enroll_result_clear(&res);
	return err;
}
