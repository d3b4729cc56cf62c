/*
 * Certificate objects and deletion through the public API, on a SoftHSM
 * token made by test-objects.sh, which also makes the certificates with the
 * openssl command line between the steps.
 *
 *   keys DIR       log in, generate "objects A" (RSA), "objects B" (EC) and
 *                  "twin" (EC); write DIR/<name>.pub.pem and DIR/<name>.uri
 *                  for A and B, DIR/twin1.uri (the script then makes a
 *                  second key labelled "twin" with pkcs11-tool, as keygen
 *                  refuses a label in use)
 *   store DIR      store DIR/A.der next to key A: stored once with A's
 *                  CKA_ID and label, read back; a second store adds nothing;
 *                  DIR/B.der (B's key) next to A is IMSS_ERR_MISMATCH and
 *                  leaves the token as it was; a URI matching both twins is
 *                  IMSS_ERR_AMBIGUOUS_OBJECT naming both, and deletes nothing
 *   delete DIR     the certificate of A is not deleted when B's public key is
 *                  expected (IMSS_ERR_MISMATCH, still there), and is deleted
 *                  when A's is; key objects likewise; an EC private key
 *                  whose public key is gone cannot be checked, so stays
 *   tokens URI1 URI2  "pkcs11:" and NULL match two tokens:
 *                  IMSS_ERR_AMBIGUOUS_TOKEN with both URIs in the detail
 *
 * usage: test-objects MODULE TOKEN-URI PIN-FILE STEP [ARGS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "imss-renew/imss-renew.h"

#include "check.h"

static imss_ctx *ctx;
static imss_pin_source *pin; /* kept by the token until it is closed */

/* CHECK an imss_err, with the context's detail on failure. */
#define CHECK_ERR(got, want, what)                                                                \
	do {                                                                                      \
		imss_err g_ = (got);                                                              \
		CHECK(g_ == (want), "%s: %s (%d), expected %s (%d)%s%s", what, imss_strerror(g_), \
		      (int)g_, imss_strerror(want), (int)(want), g_ == (want) ? "" : ": ",        \
		      g_ == (want) ? "" : imss_ctx_detail(ctx));                                  \
	} while (0)

static char *
path_in(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p == NULL)
		abort();
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static char *
read_text(const char *dir, const char *name)
{
	char *path = path_in(dir, name), buf[4096];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	free(path);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return f != NULL ? strdup(buf) : NULL;
}

static unsigned char *
read_file(const char *dir, const char *name, size_t *len)
{
	char *path = path_in(dir, name);
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long size;

	*len = 0;
	if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size)) != NULL &&
	    fread(buf, 1, (size_t)size, f) == (size_t)size)
		*len = (size_t)size;
	if (f != NULL)
		fclose(f);
	if (*len == 0) {
		free(buf);
		buf = NULL;
		fprintf(stderr, "cannot read %s\n", path);
	}
	free(path);
	return buf;
}

static int
write_text(const char *dir, const char *name, const char *text)
{
	char *path = path_in(dir, name);
	FILE *f = fopen(path, "w");
	int ok = f != NULL && fputs(text, f) >= 0;

	if (f != NULL && fclose(f) != 0)
		ok = 0;
	free(path);
	return ok;
}

static EVP_PKEY *
read_pub(const char *dir, const char *name)
{
	char *path = path_in(dir, name);
	FILE *f = fopen(path, "r");
	EVP_PKEY *pub = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	if (pub == NULL)
		fprintf(stderr, "cannot read the public key %s\n", path);
	free(path);
	return pub;
}

static imss_token *
open_and_login(const char *uri, const char *pin_file)
{
	imss_token *tok = NULL;
	char spec[4096];
	imss_err err;

	snprintf(spec, sizeof(spec), "file:%s", pin_file);
	err = imss_token_open(ctx, uri, 1, &tok);
	if (err == IMSS_OK)
		err = imss_pin_source_parse(spec, &pin);
	if (err == IMSS_OK)
		err = imss_token_login(tok, pin, 0);
	if (err != IMSS_OK) {
		fprintf(stderr, "FAIL: cannot open and log in to %s: %s: %s\n", uri,
		        imss_strerror(err), imss_ctx_detail(ctx));
		failures++;
		imss_token_close(tok);
		return NULL;
	}
	return tok;
}

/* The objects on the token, one "class id label subject" line each, in
 * the token's order, as one string (for before/after comparisons). */
static char *
snapshot(imss_token *tok)
{
	imss_object_info *o = NULL;
	size_t n = 0, i, size = 1, used = 0;
	char *text = calloc(1, 1);
	imss_err err = imss_token_list_objects(tok, &o, &n);

	if (err != IMSS_OK || text == NULL) {
		fprintf(stderr, "FAIL: list objects: %s\n", imss_strerror(err));
		failures++;
		return text;
	}
	for (i = 0; i < n; i++) {
		char line[2048];
		int len = snprintf(line, sizeof(line), "%d %s %s %s\n", (int)o[i].klass,
		                   o[i].id_hex, o[i].label, o[i].subject);
		char *grown = realloc(text, size + (size_t)len);

		if (grown == NULL)
			abort();
		text = grown;
		memcpy(text + used, line, (size_t)len + 1);
		used += (size_t)len;
		size += (size_t)len;
	}
	imss_object_info_free(o, n);
	return text;
}

/* How many objects of a class have this CKA_ID (hex) and label (NULL: any). */
static int
count_objects(imss_token *tok, imss_object_class klass, const char *id_hex, const char *label,
              char **subject)
{
	imss_object_info *o = NULL;
	size_t n = 0, i;
	int count = 0;

	if (imss_token_list_objects(tok, &o, &n) != IMSS_OK)
		return -1;
	for (i = 0; i < n; i++) {
		if (o[i].klass != klass || strcmp(o[i].id_hex, id_hex) != 0 ||
		    (label != NULL && strcmp(o[i].label, label) != 0))
			continue;
		count++;
		if (subject != NULL) {
			free(*subject);
			*subject = strdup(o[i].subject);
		}
	}
	imss_object_info_free(o, n);
	return count;
}

static char *
key_id_hex(const imss_key *key)
{
	static const char digits[] = "0123456789abcdef";
	size_t len, i;
	const unsigned char *id = imss_key_get_id(key, &len);
	char *hex = malloc(2 * len + 1);

	if (hex == NULL)
		abort();
	for (i = 0; i < len; i++) {
		hex[2 * i] = digits[id[i] >> 4];
		hex[2 * i + 1] = digits[id[i] & 15];
	}
	hex[2 * len] = '\0';
	return hex;
}

static imss_key *
generate(imss_token *tok, const char *type, const char *label)
{
	imss_keyspec spec;
	imss_key *key = NULL;
	imss_err err;

	if (imss_keyspec_parse(type, &spec) != IMSS_OK)
		abort();
	err = imss_token_generate_keypair(tok, &spec, label, &key, NULL);
	CHECK_ERR(err, IMSS_OK, label);
	return key;
}

static void
save_key(const char *dir, const char *name, imss_key *key)
{
	char file[64];
	char *path;
	FILE *f;

	snprintf(file, sizeof(file), "%s.pub.pem", name);
	path = path_in(dir, file);
	f = fopen(path, "w");
	CHECK(f != NULL && PEM_write_PUBKEY(f, imss_key_get_public(key)) == 1,
	      "%s: public key written with PEM_write_PUBKEY", name);
	if (f != NULL)
		fclose(f);
	free(path);
	snprintf(file, sizeof(file), "%s.uri", name);
	CHECK(write_text(dir, file, imss_key_get_uri(key)), "%s: URI saved", name);
}

static void
step_keys(imss_token *tok, const char *dir)
{
	imss_key *a = generate(tok, "rsa:2048", "objects A");
	imss_key *b = generate(tok, "ec:prime256v1", "objects B");
	imss_key *t1 = generate(tok, "ec:prime256v1", "twin");

	if (a != NULL)
		save_key(dir, "A", a);
	if (b != NULL)
		save_key(dir, "B", b);
	if (t1 != NULL)
		CHECK(write_text(dir, "twin1.uri", imss_key_get_uri(t1)), "twin URI saved");
	imss_key_free(a);
	imss_key_free(b);
	imss_key_free(t1);
}

/* Find the one key the URI in DIR/<name>.uri names. */
static imss_key *
find(imss_token *tok, const char *dir, const char *name)
{
	char file[64], *uri;
	imss_key *key = NULL;

	snprintf(file, sizeof(file), "%s.uri", name);
	uri = read_text(dir, file);
	if (uri == NULL)
		abort();
	CHECK_ERR(imss_token_find_key(tok, uri, &key), IMSS_OK, uri);
	free(uri);
	return key;
}

/* An ambiguous URI: the error, and both objects' URIs in the detail. */
static void
ambiguous_key(imss_token *tok, const char *dir)
{
	char *before = snapshot(tok), *after, *detail;
	imss_object_info *o = NULL;
	imss_key *key = NULL;
	size_t n = 0, i;
	int twins = 0;
	imss_err err;

	err = imss_token_find_key(tok, "pkcs11:object=twin;type=private", &key);
	CHECK_ERR(err, IMSS_ERR_AMBIGUOUS_OBJECT, "find_key object=twin");
	CHECK(key == NULL, "no key handed out for an ambiguous URI");
	detail = strdup(imss_ctx_detail(ctx));
	if (detail == NULL)
		abort();
	CHECK(strstr(detail, "2 objects") != NULL, "the detail counts two objects: %s", detail);
	/* Each twin's URI, as the listing gives it, is in the detail. */
	CHECK_ERR(imss_token_list_objects(tok, &o, &n), IMSS_OK, "list objects");
	for (i = 0; i < n; i++) {
		if (o[i].klass != IMSS_OBJ_PRIVATE_KEY || strcmp(o[i].label, "twin") != 0)
			continue;
		twins++;
		CHECK(strstr(detail, o[i].uri) != NULL, "the detail names twin %d, %s", twins,
		      o[i].uri);
	}
	imss_object_info_free(o, n);
	CHECK(twins == 2, "two private keys labelled twin (%d)", twins);
	free(detail);
	/* Deleting through an ambiguous URI deletes nothing. */
	key = find(tok, dir, "twin1");
	if (key != NULL) {
		err = imss_token_delete_object(tok, "pkcs11:object=twin;type=private",
		                               imss_key_get_public(key));
		CHECK_ERR(err, IMSS_ERR_AMBIGUOUS_OBJECT, "delete object=twin");
		after = snapshot(tok);
		CHECK(strcmp(before, after) == 0, "an ambiguous delete left the token unchanged");
		free(after);
		imss_key_free(key);
	}
	free(before);
}

static void
step_store(imss_token *tok, const char *dir)
{
	imss_key *a = find(tok, dir, "A"), *b = find(tok, dir, "B");
	unsigned char *der_a, *der_b;
	size_t len_a, len_b;
	char *uri = NULL, *uri2 = NULL, *id_a, *before, *after, *subject = NULL;
	imss_err err;

	der_a = read_file(dir, "A.der", &len_a);
	der_b = read_file(dir, "B.der", &len_b);
	if (a == NULL || b == NULL || der_a == NULL || der_b == NULL) {
		failures++;
		goto out;
	}
	id_a = key_id_hex(a);
	CHECK(count_objects(tok, IMSS_OBJ_CERTIFICATE, id_a, NULL, NULL) == 0,
	      "no certificate for A before");

	/* A certificate for another key: refused, the token unchanged. */
	before = snapshot(tok);
	err = imss_token_store_certificate(tok, a, der_b, len_b, NULL, &uri);
	CHECK_ERR(err, IMSS_ERR_MISMATCH, "B's certificate next to key A");
	CHECK(uri == NULL, "no URI for a refused certificate");
	after = snapshot(tok);
	CHECK(strcmp(before, after) == 0, "the refused certificate left the token unchanged");
	free(after);
	/* Not a certificate at all. */
	err = imss_token_store_certificate(tok, a, der_a, len_a - 1, NULL, NULL);
	CHECK_ERR(err, IMSS_ERR_INVALID_ARG, "a truncated certificate");
	after = snapshot(tok);
	CHECK(strcmp(before, after) == 0, "the truncated certificate left the token unchanged");
	free(after);
	free(before);

	/* Stored with A's ID and label. */
	err = imss_token_store_certificate(tok, a, der_a, len_a, NULL, &uri);
	CHECK_ERR(err, IMSS_OK, "A's certificate next to key A");
	CHECK(uri != NULL && strstr(uri, "type=cert") != NULL &&
	              strstr(uri, "object=objects%20A") != NULL,
	      "the certificate's URI: %s", uri ? uri : "(none)");
	CHECK(count_objects(tok, IMSS_OBJ_CERTIFICATE, id_a, "objects A", &subject) == 1,
	      "one certificate with A's CKA_ID %s and label", id_a);
	CHECK(subject != NULL && strstr(subject, "CN=imss-objects-A") != NULL, "its subject: %s",
	      subject ? subject : "(none)");
	CHECK(count_objects(tok, IMSS_OBJ_PRIVATE_KEY, id_a, "objects A", NULL) == 1,
	      "the private key has the same CKA_ID");
	if (uri != NULL && write_text(dir, "A.cert.uri", uri))
		printf("certificate URI: %s\n", uri);

	/* Stored again: no duplicate, the same URI. */
	before = snapshot(tok);
	err = imss_token_store_certificate(tok, a, der_a, len_a, NULL, &uri2);
	CHECK_ERR(err, IMSS_OK, "A's certificate stored a second time");
	CHECK(count_objects(tok, IMSS_OBJ_CERTIFICATE, id_a, NULL, NULL) == 1,
	      "still one certificate with A's CKA_ID");
	after = snapshot(tok);
	CHECK(strcmp(before, after) == 0, "the second store changed nothing");
	CHECK(uri != NULL && uri2 != NULL && strcmp(uri, uri2) == 0,
	      "the second store gives the same URI");
	free(before);
	free(after);
	free(id_a);

	ambiguous_key(tok, dir);
out:
	free(uri);
	free(uri2);
	free(subject);
	free(der_a);
	free(der_b);
	imss_key_free(a);
	imss_key_free(b);
}

/* Deleting uri while expecting the key pub is refused, and nothing is deleted. */
static void
check_delete_refused(imss_token *tok, const char *uri, EVP_PKEY *pub, const char *what)
{
	char *before = snapshot(tok), *after;

	CHECK_ERR(imss_token_delete_object(tok, uri, pub), IMSS_ERR_MISMATCH, what);
	after = snapshot(tok);
	CHECK(strcmp(before, after) == 0, "%s: the token is unchanged", what);
	free(after);
	free(before);
}

static void
step_delete(imss_token *tok, const char *dir)
{
	EVP_PKEY *pub_a = read_pub(dir, "A.pub.pem"), *pub_b = read_pub(dir, "B.pub.pem");
	char *cert_uri = read_text(dir, "A.cert.uri"), *b_uri = read_text(dir, "B.uri");
	char *b_pub_uri = NULL, *before, *after, *p;
	imss_key *a = find(tok, dir, "A");
	char *id_a = a ? key_id_hex(a) : NULL;
	imss_err err;

	if (pub_a == NULL || pub_b == NULL || cert_uri == NULL || b_uri == NULL || a == NULL) {
		failures++;
		goto out;
	}
	CHECK(count_objects(tok, IMSS_OBJ_CERTIFICATE, id_a, NULL, NULL) == 1,
	      "A's certificate is there");
	/* The wrong public key expected: nothing deleted. */
	before = snapshot(tok);
	err = imss_token_delete_object(tok, cert_uri, pub_b);
	CHECK_ERR(err, IMSS_ERR_MISMATCH, "delete A's certificate expecting B's key");
	CHECK(strstr(imss_ctx_detail(ctx), "nothing was deleted") != NULL,
	      "the detail says nothing was deleted: %s", imss_ctx_detail(ctx));
	after = snapshot(tok);
	CHECK(strcmp(before, after) == 0, "the token is unchanged");
	free(after);
	CHECK_ERR(imss_token_delete_object(tok, cert_uri, NULL), IMSS_ERR_INVALID_ARG,
	          "delete without an expected key");
	after = snapshot(tok);
	CHECK(strcmp(before, after) == 0, "the token is still unchanged");
	free(after);
	free(before);
	/* The right one: deleted, and only it. */
	err = imss_token_delete_object(tok, cert_uri, pub_a);
	CHECK_ERR(err, IMSS_OK, "delete A's certificate expecting A's key");
	CHECK(count_objects(tok, IMSS_OBJ_CERTIFICATE, id_a, NULL, NULL) == 0,
	      "A's certificate is gone");
	CHECK(count_objects(tok, IMSS_OBJ_PRIVATE_KEY, id_a, NULL, NULL) == 1 &&
	              count_objects(tok, IMSS_OBJ_PUBLIC_KEY, id_a, NULL, NULL) == 1,
	      "A's key pair is still there");
	CHECK_ERR(imss_token_delete_object(tok, cert_uri, pub_a), IMSS_ERR_NO_OBJECT,
	          "deleting it again");

	/* Key objects likewise: B's private key, then B's public key. */
	check_delete_refused(tok, b_uri, pub_a, "delete B's private key expecting A's key");
	b_pub_uri = strdup(b_uri);
	if (b_pub_uri != NULL && (p = strstr(b_pub_uri, "type=private")) != NULL) {
		memcpy(p, "type=public", strlen("type=public") + 1);
		check_delete_refused(tok, b_pub_uri, pub_a,
		                     "delete B's public key expecting A's key");
		err = imss_token_delete_object(tok, b_pub_uri, pub_b);
		CHECK_ERR(err, IMSS_OK, "delete B's public key expecting B's key");
		CHECK_ERR(imss_token_delete_object(tok, b_pub_uri, pub_b), IMSS_ERR_NO_OBJECT,
		          "B's public key is gone");
	} else {
		CHECK(0, "B's URI has no type=private: %s", b_uri);
	}
	/* An EC private key without its public key cannot be checked: it is
	 * not deleted, whatever key is expected. */
	before = snapshot(tok);
	err = imss_token_delete_object(tok, b_uri, pub_b);
	CHECK(err != IMSS_OK, "B's EC private key, its public key gone, is not deleted: %s: %s",
	      imss_strerror(err), imss_ctx_detail(ctx));
	after = snapshot(tok);
	CHECK(strcmp(before, after) == 0, "the token is unchanged");
	free(after);
	free(before);
out:
	free(id_a);
	free(cert_uri);
	free(b_uri);
	free(b_pub_uri);
	imss_key_free(a);
	EVP_PKEY_free(pub_a);
	EVP_PKEY_free(pub_b);
}

static void
step_tokens(const char *uri1, const char *uri2)
{
	static const char *const uris[] = { "pkcs11:", NULL, "" };
	imss_token *tok = NULL;
	size_t i;

	for (i = 0; i < 3; i++) {
		const char *u = uris[i] ? uris[i] : "(NULL)";
		imss_err err = imss_token_open(ctx, uris[i], 0, &tok);

		CHECK_ERR(err, IMSS_ERR_AMBIGUOUS_TOKEN, u);
		CHECK(tok == NULL, "%s: no token handed out", u);
		imss_token_close(tok);
		tok = NULL;
		CHECK(strstr(imss_ctx_detail(ctx), uri1) != NULL, "%s: the detail lists %s: %s", u,
		      uri1, imss_ctx_detail(ctx));
		CHECK(strstr(imss_ctx_detail(ctx), uri2) != NULL, "%s: the detail lists %s: %s", u,
		      uri2, imss_ctx_detail(ctx));
		CHECK(strstr(imss_ctx_detail(ctx), "2 tokens") != NULL,
		      "%s: the detail counts 2 tokens: %s", u, imss_ctx_detail(ctx));
	}
}

int
main(int argc, char **argv)
{
	imss_token *tok = NULL;
	const char *step;

	check_verbose = 1;
	if (argc < 6) {
		fprintf(stderr, "usage: test-objects MODULE TOKEN-URI PIN-FILE keys|store|delete DIR\n"
		                "       test-objects MODULE TOKEN-URI PIN-FILE tokens URI1 URI2\n");
		return 2;
	}
	step = argv[4];
	if (imss_ctx_new(argv[1], &ctx) != IMSS_OK) {
		fprintf(stderr, "FAIL: imss_ctx_new\n");
		return 1;
	}
	if (strcmp(step, "tokens") == 0) {
		if (argc < 7)
			return 2;
		step_tokens(argv[5], argv[6]);
	} else if ((tok = open_and_login(argv[2], argv[3])) != NULL) {
		if (strcmp(step, "keys") == 0)
			step_keys(tok, argv[5]);
		else if (strcmp(step, "store") == 0)
			step_store(tok, argv[5]);
		else if (strcmp(step, "delete") == 0)
			step_delete(tok, argv[5]);
		else
			fprintf(stderr, "unknown step %s\n", step), failures++;
	}
	imss_token_close(tok);
	imss_pin_source_free(pin);
	imss_ctx_free(ctx);
	printf("%s\n", failures ? "FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
