/*
 * fuzz-scep-cert-rep: the SCEP client's CertRep parser
 * (scep_parse_cert_rep, src/protocol/scep.h), fed what a hostile server
 * could send.
 *
 * Input: the senderNonce the client sent (16 bytes), the transactionID
 * (64 hex characters), then the CertRep (DER).  Trusted: data/scep-ca.pem
 * (the micromdm CA that signed the seeds).  Besides the sanitizers it
 * checks what the parser promises: a reply is returned only with a known
 * status, SUCCESS always with an envelope, and nothing is left in a
 * refused one.
 *
 * Seeds: fuzz/corpus/scep-cert-rep/ (answers of micromdm's scepserver
 * 2.1.0 to a RenewalReq: SUCCESS, and FAILURE badRequest).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "scep.h"

static imss_ctx *ctx;
static X509_STORE *trusted;
static STACK_OF(X509) * published;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	X509 *ca = fuzz_cert("scep-ca.pem");

	(void)argc;
	(void)argv;
	ctx = fuzz_ctx();
	trusted = X509_STORE_new();
	published = sk_X509_new_null();
	fuzz_check(trusted != NULL && published != NULL && X509_STORE_add_cert(trusted, ca) == 1 &&
	                   sk_X509_push(published, ca) > 0,
	           "scep trust");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scep_reply reply;
	struct scep_expect expect;
	char txid[SCEP_TRANSACTION_ID_MAX];
	imss_err err;

	if (size < SCEP_NONCE_LEN + 64)
		return 0;
	memcpy(txid, data + SCEP_NONCE_LEN, 64);
	txid[64] = '\0';
	expect.sender_nonce = data;
	expect.transaction_id = txid;
	err = scep_parse_cert_rep(ctx, data + SCEP_NONCE_LEN + 64, size - SCEP_NONCE_LEN - 64,
	                          &expect, trusted, published, &reply);
	if (err == IMSS_OK) {
		fuzz_check(reply.status == SCEP_SUCCESS || reply.status == SCEP_FAILURE ||
		                   reply.status == SCEP_PENDING,
		           "known status");
		fuzz_check(reply.status != SCEP_SUCCESS ||
		                   (reply.envelope != NULL && reply.envelope_len > 0),
		           "SUCCESS carries an envelope");
	} else
		fuzz_check(reply.envelope == NULL && reply.envelope_len == 0, "nothing kept");
	scep_reply_clear(&reply);
	return 0;
}
