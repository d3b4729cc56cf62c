/*
 * Signatures made through the token layer verify with OpenSSL against the
 * token's public key: every key type, hash and padding, through the
 * token's hash-and-sign mechanisms or (with the fault module's raw-only
 * token) through the raw ones with host hashing.  For raw ECDSA it also
 * signs until r and s with leading zero bytes have both been seen.
 *
 * Mode "auth" is "hash" for keys with CKA_ALWAYS_AUTHENTICATE (the fault
 * module's FAULT_ALWAYS_AUTH): every signature needs a context-specific
 * login, with the PIN read again from the file.  It signs with the key as
 * keygen returns it and as imss_token_find_key loads it, and checks that
 * the PIN really is read again: with the file gone a signature fails with
 * IMSS_ERR_PIN_SOURCE, with a wrong PIN in it IMSS_ERR_PIN_INCORRECT, and
 * once the right PIN is back the next signature verifies.
 *
 * usage: test-sign MODULE TOKEN-URI PIN-FILE hash|raw|auth [KEYTYPE...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "imss-renew/imss-renew.h"

#include "check.h"

static int auth_mode;
static const char *mode_name;
static const char *pin_path;
static imss_ctx *the_ctx;

static const char *const hash_names[] = { NULL, "SHA256", "SHA384", "SHA512" };

static int
verify(EVP_PKEY *pub, imss_hash hash, imss_padding pad, const unsigned char *data, size_t len,
       const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok = 0;

	if (md == NULL ||
	    EVP_DigestVerifyInit_ex(md, &pctx, hash_names[hash], NULL, NULL, pub, NULL) != 1)
		goto out;
	if (pad == IMSS_PAD_PSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto out;
	ok = EVP_DigestVerify(md, sig, siglen, data, len) == 1;
out:
	EVP_MD_CTX_free(md);
	return ok;
}

/* Does the DER signature's r or s have fewer bytes than the order? */
static void
ecdsa_short_parts(const unsigned char *der, size_t len, size_t order_bytes, int *short_r, int *short_s)
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *r, *s;

	if (sig == NULL)
		return;
	ECDSA_SIG_get0(sig, &r, &s);
	*short_r |= (size_t)BN_num_bytes(r) < order_bytes;
	*short_s |= (size_t)BN_num_bytes(s) < order_bytes;
	ECDSA_SIG_free(sig);
}

static void
sign_and_verify(imss_key *key, imss_hash hash, imss_padding pad, int expect_raw)
{
	static const unsigned char data[] = "Carta de terminos y condiciones NPIE";
	unsigned char *sig = NULL;
	size_t siglen = 0;
	const char *mech;
	imss_err err;

	err = imss_key_sign(key, hash, pad, data, sizeof(data) - 1, &sig, &siglen);
	CHECK(err == IMSS_OK, "sign %s hash %d pad %d: %s: %s", imss_key_get_label(key), hash, pad,
	      imss_strerror(err), the_ctx ? imss_ctx_detail(the_ctx) : "");
	if (err != IMSS_OK)
		return;
	mech = imss_key_last_mechanism(key);
	CHECK(verify(imss_key_get_public(key), hash, pad, data, sizeof(data) - 1, sig, siglen),
	      "OpenSSL rejects the %s signature (hash %d, pad %d)", mech, hash, pad);
	/* SoftHSM 2.6 has no CKM_ECDSA_SHA*: ECDSA is raw on it either way. */
	CHECK(expect_raw == (strstr(mech, "SHA") == NULL) || pad == IMSS_PAD_NONE,
	      "mechanism %s for hash %d pad %d, expected the %s path", mech, hash, pad,
	      expect_raw ? "raw" : "hash-and-sign");
	CHECK(!expect_raw || strstr(mech, "SHA") == NULL, "mechanism %s on a raw-only token", mech);
	printf("ok %-16s %-7s pad=%d via %s\n", imss_key_get_label(key), hash_names[hash], pad, mech);
	OPENSSL_free(sig);
}

/* Raw ECDSA: r and s with leading zero bytes still give valid DER. */
static void
ecdsa_leading_zeros(imss_key *key)
{
	static const unsigned char data[] = "leading zeros";
	size_t order_bytes = (imss_key_get_bits(key) + 7) / 8;
	int short_r = 0, short_s = 0, i;

	for (i = 0; i < 4000 && !(short_r && short_s); i++) {
		unsigned char *sig = NULL;
		size_t siglen = 0;

		if (imss_key_sign(key, IMSS_HASH_SHA256, IMSS_PAD_NONE, data, sizeof(data) - 1,
		                  &sig, &siglen) != IMSS_OK) {
			CHECK(0, "signature %d failed", i);
			return;
		}
		ecdsa_short_parts(sig, siglen, order_bytes, &short_r, &short_s);
		CHECK(verify(imss_key_get_public(key), IMSS_HASH_SHA256, IMSS_PAD_NONE, data,
		             sizeof(data) - 1, sig, siglen),
		      "signature %d does not verify", i);
		OPENSSL_free(sig);
	}
	CHECK(short_r && short_s, "no short r and s seen in %d signatures", i);
	printf("ok %s: leading-zero r and s seen and verified within %d signatures\n",
	       imss_key_get_label(key), i);
}

/* Replace the PIN file's contents (NULL: remove the file). */
static int
pin_file_set(const char *pin)
{
	FILE *f;

	if (pin == NULL)
		return unlink(pin_path) == 0;
	f = fopen(pin_path, "w");
	if (f == NULL)
		return 0;
	fputs(pin, f);
	return fclose(f) == 0;
}

/* One signature that must fail with want, the PIN file holding pin. */
static void
sign_expect(imss_key *key, imss_padding pad, const char *pin, imss_err want, const char *what)
{
	static const unsigned char data[] = "always authenticate";
	unsigned char *sig = NULL;
	size_t siglen = 0;
	imss_err err;

	CHECK(pin_file_set(pin), "cannot change the PIN file for: %s", what);
	err = imss_key_sign(key, IMSS_HASH_SHA256, pad, data, sizeof(data) - 1, &sig, &siglen);
	CHECK(err == want, "%s: %s, expected %s (%s)", what, imss_strerror(err),
	      imss_strerror(want), imss_ctx_detail(the_ctx));
	if (err == IMSS_OK)
		OPENSSL_free(sig);
	printf("ok %s-%s: %s\n", imss_key_get_label(key), what, imss_strerror(err));
}

static char right_pin[256];
static imss_key *last_found; /* auth: the last key as find_key loads it */

/* The key again, as imss_token_find_key loads it: every signature logs in
 * with the PIN read from the file at that moment. */
static void
always_authenticate(imss_token *tok, imss_key *key, int ec)
{
	static const imss_hash hashes[] = { IMSS_HASH_SHA256, IMSS_HASH_SHA384, IMSS_HASH_SHA512 };
	imss_key *again = NULL;
	size_t i;
	imss_err err;

	err = imss_token_find_key(tok, imss_key_get_uri(key), &again);
	CHECK(err == IMSS_OK, "find %s: %s", imss_key_get_uri(key), imss_strerror(err));
	if (err != IMSS_OK)
		return;
	for (i = 0; i < 3; i++) {
		if (ec) {
			sign_and_verify(again, hashes[i], IMSS_PAD_NONE, 0);
		} else {
			sign_and_verify(again, hashes[i], IMSS_PAD_PKCS1, 0);
			sign_and_verify(again, hashes[i], IMSS_PAD_PSS, 0);
		}
	}
	imss_key_free(last_found);
	last_found = again;
}

/* Last, as a failed context login may upset the session: the PIN is read
 * again for every signature, from the file as it is then. */
static void
pin_read_again(imss_key *key)
{
	imss_padding pad = imss_key_get_kind(key) == IMSS_KEY_EC ? IMSS_PAD_NONE : IMSS_PAD_PKCS1;

	sign_expect(key, pad, NULL, IMSS_ERR_PIN_SOURCE, "PIN file gone");
	sign_expect(key, pad, "0000", IMSS_ERR_PIN_INCORRECT, "wrong PIN in the file");
	sign_expect(key, pad, right_pin, IMSS_OK, "right PIN back");
	sign_and_verify(key, IMSS_HASH_SHA256, pad, 0);
	CHECK(pin_file_set(right_pin), "cannot restore %s", pin_path);
}

static void
test_keytype(imss_token *tok, const char *type, int expect_raw)
{
	static const imss_hash hashes[] = { IMSS_HASH_SHA256, IMSS_HASH_SHA384, IMSS_HASH_SHA512 };
	imss_keyspec spec;
	imss_key *key = NULL;
	char label[64];
	size_t i;
	imss_err err;

	CHECK(imss_keyspec_parse(type, &spec) == IMSS_OK, "keyspec %s", type);
	/* Labels name one key on the token: the mode keeps the runs apart. */
	snprintf(label, sizeof(label), "sign-%s-%s", mode_name, type);
	err = imss_token_generate_keypair(tok, &spec, label, &key, NULL);
	CHECK(err == IMSS_OK, "keygen %s: %s", type, imss_strerror(err));
	if (err != IMSS_OK)
		return;
	for (i = 0; i < 3; i++) {
		if (spec.kind == IMSS_KEY_EC) {
			sign_and_verify(key, hashes[i], IMSS_PAD_NONE, expect_raw);
		} else {
			sign_and_verify(key, hashes[i], IMSS_PAD_PKCS1, expect_raw);
			sign_and_verify(key, hashes[i], IMSS_PAD_PSS, expect_raw);
		}
	}
	if (auth_mode)
		always_authenticate(tok, key, spec.kind == IMSS_KEY_EC);
	else if (spec.kind == IMSS_KEY_EC && imss_key_last_mechanism(key) != NULL &&
	         strcmp(imss_key_last_mechanism(key), "CKM_ECDSA") == 0)
		ecdsa_leading_zeros(key);
	imss_key_free(key);
}

int
main(int argc, char **argv)
{
	imss_pin_source *pin = NULL;
	imss_token *tok = NULL;
	imss_ctx *ctx = NULL;
	char spec[4096];
	int i, expect_raw;

	if (argc < 6) {
		fprintf(stderr,
		        "usage: test-sign MODULE TOKEN-URI PIN-FILE hash|raw|auth KEYTYPE...\n");
		return 2;
	}
	expect_raw = strcmp(argv[4], "raw") == 0;
	auth_mode = strcmp(argv[4], "auth") == 0;
	mode_name = argv[4];
	pin_path = argv[3];
	snprintf(spec, sizeof(spec), "file:%s", argv[3]);
	if (imss_ctx_new(argv[1], &ctx) != IMSS_OK || (the_ctx = ctx) == NULL ||
	    imss_token_open(ctx, argv[2], 1, &tok) != IMSS_OK ||
	    imss_pin_source_parse(spec, &pin) != IMSS_OK || imss_token_login(tok, pin, 0) != IMSS_OK) {
		fprintf(stderr, "setup failed: %s\n", ctx ? imss_ctx_detail(ctx) : "");
		failures++;
		goto out;
	}
	if (auth_mode) {
		FILE *f = fopen(pin_path, "r");

		CHECK(f != NULL && fgets(right_pin, sizeof(right_pin), f) != NULL, "cannot read %s",
		      pin_path);
		if (f != NULL)
			fclose(f);
	}
	for (i = 5; i < argc; i++)
		test_keytype(tok, argv[i], expect_raw);
	if (last_found != NULL)
		pin_read_again(last_found);
	imss_key_free(last_found);
out:
	imss_token_close(tok);
	imss_pin_source_free(pin);
	imss_ctx_free(ctx);
	printf("%s\n", failures ? "FAILED" : "all signatures verified");
	return failures ? 1 : 0;
}
