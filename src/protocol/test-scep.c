/*
 * Unit test of the SCEP CertRep parser (scep.h, scep_parse_cert_rep) on
 * micromdm scepserver 2.1.0's real answers (the seeds of
 * fuzz/corpus/scep-cert-rep/: senderNonce, transactionID, CertRep): each is
 * taken with its status, and refused when it is not for this request
 * (another nonce or transactionID), not signed by the CA given, or altered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "scep.h"
#include "unit.h"

#define PREFIX (SCEP_NONCE_LEN + 64)

static imss_ctx *ctx;

struct seed {
	unsigned char *bytes;
	size_t len;
	char txid[SCEP_TRANSACTION_ID_MAX];
};

static struct seed
seed(const char *name)
{
	struct seed s = { NULL, 0, "" };
	char path[512];
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/corpus/scep-cert-rep/%s", FUZZ_DIR, name);
	f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= PREFIX || fseek(f, 0, SEEK_SET)) {
		perror(path);
		exit(2);
	}
	s.len = (size_t)n;
	s.bytes = malloc(s.len);
	if (!s.bytes || fread(s.bytes, 1, s.len, f) != s.len) {
		perror(path);
		exit(2);
	}
	fclose(f);
	memcpy(s.txid, s.bytes + SCEP_NONCE_LEN, 64);
	s.txid[64] = '\0';
	return s;
}

/* A store and stack of one CA (data/NAME). */
static void
trust(const char *name, X509_STORE **store, STACK_OF(X509) * *certs)
{
	char path[512];
	FILE *f;
	X509 *ca;

	snprintf(path, sizeof(path), "%s/data/%s", FUZZ_DIR, name);
	if ((f = fopen(path, "r")) == NULL || (ca = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		perror(path);
		exit(2);
	}
	fclose(f);
	*store = X509_STORE_new();
	*certs = sk_X509_new_null();
	X509_STORE_add_cert(*store, ca);
	sk_X509_push(*certs, ca);
}

/* The CertRep of s, trusting data/CA and published data/PUBLISHED (the
 * server's GetCACert). */
static imss_err
parse_published(const struct seed *s, const unsigned char *nonce, const char *txid, const char *ca,
                const char *published, struct scep_reply *reply)
{
	struct scep_expect expect = { txid, nonce };
	STACK_OF(X509) *certs = NULL, *other = NULL;
	X509_STORE *store = NULL, *unused = NULL;
	imss_err err;

	trust(ca, &store, &certs);
	trust(published, &unused, &other);
	err = scep_parse_cert_rep(ctx, s->bytes + PREFIX, s->len - PREFIX, &expect, store, other,
	                          reply);
	X509_STORE_free(store);
	X509_STORE_free(unused);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(other, X509_free);
	return err;
}

static imss_err
parse(const struct seed *s, const unsigned char *nonce, const char *txid, const char *ca,
      struct scep_reply *reply)
{
	return parse_published(s, nonce, txid, ca, ca, reply);
}

static void
test_success(void)
{
	struct seed s = seed("success");
	struct scep_reply reply;
	unsigned char other[SCEP_NONCE_LEN];

	CHECK_INT(parse(&s, s.bytes, s.txid, "scep-ca.pem", &reply), IMSS_OK);
	CHECK_INT(reply.status, SCEP_SUCCESS);
	CHECK(reply.envelope != NULL && reply.envelope_len > 100);
	scep_reply_clear(&reply);

	memcpy(other, s.bytes, sizeof(other));
	other[0] ^= 1;
	CHECK_INT(parse(&s, other, s.txid, "scep-ca.pem", &reply), IMSS_ERR_PROTOCOL);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "not for this request");
	CHECK(reply.envelope == NULL);
	CHECK_INT(parse(&s, s.bytes, "0123", "scep-ca.pem", &reply), IMSS_ERR_PROTOCOL);

	/* Signed by a CA that is not the one given. */
	CHECK_INT(parse(&s, s.bytes, s.txid, "ca.pem", &reply), IMSS_ERR_VERIFY);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "not signed by the CA given");
	CHECK(reply.envelope == NULL);

	/* Signed under the CA given, but by a certificate the server did not
	 * publish as its CA or RA (the CertRep carries its signer). */
	CHECK_INT(parse_published(&s, s.bytes, s.txid, "scep-ca.pem", "ca.pem", &reply),
	          IMSS_ERR_VERIFY);
	CHECK(reply.envelope == NULL);

	/* The signature altered (its last byte). */
	s.bytes[s.len - 1] ^= 0x55;
	CHECK(parse(&s, s.bytes, s.txid, "scep-ca.pem", &reply) != IMSS_OK);
	CHECK(reply.envelope == NULL);
	/* Cut short. */
	s.len -= 10;
	CHECK_INT(parse(&s, s.bytes, s.txid, "scep-ca.pem", &reply), IMSS_ERR_PROTOCOL);
	free(s.bytes);
}

static void
test_failure(void)
{
	struct seed s = seed("failure-badrequest");
	struct scep_reply reply;

	CHECK_INT(parse(&s, s.bytes, s.txid, "scep-ca.pem", &reply), IMSS_OK);
	CHECK_INT(reply.status, SCEP_FAILURE);
	CHECK_INT(reply.fail_info, 2);
	CHECK(reply.envelope == NULL);
	CHECK_CONTAINS(scep_fail_info_text(reply.fail_info), "badRequest");
	scep_reply_clear(&reply);
	free(s.bytes);
}

static void
run_tests(void)
{
	test_success();
	test_failure();
}

int
main(void)
{
	return unit_run_with_ctx("unit-scep", &ctx, run_tests);
}
