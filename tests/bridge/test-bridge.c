/*
 * One token key, one EVP_PKEY, three uses: a PKCS#10 request
 * (X509_REQ_sign_ctx), a self-signed certificate (X509_sign_ctx), a CMS
 * SignedData (CMS_sign_ex), and TLS client authentication
 * (SSL_CTX_use_PrivateKey) -- all signatures made by C_Sign through the
 * token layer.  OpenSSL's command-line tools check the results (see
 * test-bridge.sh).
 *
 * usage: test-bridge MODULE TOKEN-URI PIN-FILE KEYTYPE|KEY-URI OUTDIR [PORT...]
 *   KEYTYPE (rsa:2048, ec:prime256v1, ...) generates a key labelled with
 *   OUTDIR's last component; with a KEY-URI (pkcs11:...) an existing key
 *   is used.
 *   With PORTs, a TLS 1.2 and then a TLS 1.3 handshake with client
 *   authentication are made to 127.0.0.1:PORT (one per port, in order).
 */
#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "imss-renew/imss-renew.h"

static int
fail(const char *what)
{
	fprintf(stderr, "FAIL: %s\n", what);
	ERR_print_errors_fp(stderr);
	return 0;
}

static X509_NAME *
test_subject(void)
{
	X509_NAME *n = X509_NAME_new();

	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	                           (const unsigned char *)"EMPRESA DE PRUEBA SA DE CV", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8, (const unsigned char *)"Y1234567890", -1,
	                           -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"bridge test", -1,
	                           -1, 0);
	return n;
}

static int
write_pem_req(const char *dir, X509_REQ *req)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/req.pem", dir);
	f = fopen(path, "w");
	ok = f && PEM_write_X509_REQ(f, req);
	if (f)
		fclose(f);
	return ok;
}

/* The request carries the plain public key; the token key signs it. */
static int
make_csr(OSSL_LIB_CTX *lib, EVP_PKEY *pub, EVP_PKEY *pkey, const char *dir)
{
	X509_REQ *req = X509_REQ_new_ex(lib, NULL);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	X509_NAME *name = test_subject();
	int ok = 0;

	if (!req || !md || !name || !X509_REQ_set_version(req, 0) ||
	    !X509_REQ_set_subject_name(req, name) || !X509_REQ_set_pubkey(req, pub))
		goto out;
	if (EVP_DigestSignInit_ex(md, NULL, "SHA256", lib, NULL, pkey, NULL) != 1 ||
	    X509_REQ_sign_ctx(req, md) <= 0) {
		fail("X509_REQ_sign_ctx with the token key");
		goto out;
	}
	ok = write_pem_req(dir, req);
out:
	X509_NAME_free(name);
	EVP_MD_CTX_free(md);
	X509_REQ_free(req);
	return ok;
}

static X509 *
make_selfsigned(OSSL_LIB_CTX *lib, EVP_PKEY *pub, EVP_PKEY *pkey, const char *dir)
{
	X509 *x = X509_new_ex(lib, NULL);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	X509_NAME *name = test_subject();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	char path[4096];
	FILE *f = NULL;
	int ok = 0;

	if (!x || !md || !name || !X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 4242) || !X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, name) || !X509_gmtime_adj(X509_getm_notBefore(x), -60) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 3600) || !X509_set_pubkey(x, pub))
		goto out;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	if (ext == NULL || !X509_add_ext(x, ext, -1)) {
		X509_EXTENSION_free(ext);
		goto out;
	}
	X509_EXTENSION_free(ext);
	if (EVP_DigestSignInit_ex(md, NULL, "SHA256", lib, NULL, pkey, NULL) != 1 ||
	    X509_sign_ctx(x, md) <= 0) {
		fail("X509_sign_ctx with the token key");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/cert.pem", dir);
	f = fopen(path, "w");
	ok = f && PEM_write_X509(f, x);
out:
	if (f)
		fclose(f);
	X509_NAME_free(name);
	EVP_MD_CTX_free(md);
	if (!ok) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

static int
make_cms(OSSL_LIB_CTX *lib, X509 *cert, EVP_PKEY *pkey, const char *dir)
{
	static const char letter[] =
	        "Carta de terminos y condiciones para la obtencion y uso del NPIE\n";
	BIO *in = BIO_new_mem_buf(letter, (int)sizeof(letter) - 1);
	BIO *out = NULL, *data = NULL;
	CMS_ContentInfo *cms;
	char path[4096];
	int ok = 0;

	cms = CMS_sign_ex(cert, pkey, NULL, in, CMS_DETACHED | CMS_BINARY, lib, NULL);
	if (cms == NULL)
		return fail("CMS_sign_ex with the token key");
	snprintf(path, sizeof(path), "%s/letter.txt", dir);
	data = BIO_new_file(path, "w");
	snprintf(path, sizeof(path), "%s/letter.p7s", dir);
	out = BIO_new_file(path, "w");
	ok = data && out && BIO_write(data, letter, (int)sizeof(letter) - 1) > 0 &&
	     i2d_CMS_bio(out, cms);
	BIO_free(data);
	BIO_free(out);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	return ok;
}

static int
connect_loopback(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Send a GET and look for a string in the whole answer. */
static int
https_get(SSL *ssl, const char *needle)
{
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	char page[65536];
	size_t len = 0;
	int n;

	if (SSL_write(ssl, req, (int)sizeof(req) - 1) <= 0)
		return 0;
	while (len < sizeof(page) - 1 &&
	       (n = SSL_read(ssl, page + len, (int)(sizeof(page) - 1 - len))) > 0)
		len += (size_t)n;
	page[len] = '\0';
	return strstr(page, needle) != NULL;
}

/* A TLS handshake authenticating with the token key. */
static int
tls_handshake(OSSL_LIB_CTX *lib, X509 *cert, EVP_PKEY *pkey, int port, int version)
{
	SSL_CTX *sctx = SSL_CTX_new_ex(lib, NULL, TLS_client_method());
	SSL *ssl = NULL;
	int fd = -1, ok = 0;

	if (sctx == NULL || !SSL_CTX_set_min_proto_version(sctx, version) ||
	    !SSL_CTX_set_max_proto_version(sctx, version) ||
	    SSL_CTX_use_certificate(sctx, cert) != 1 || SSL_CTX_use_PrivateKey(sctx, pkey) != 1 ||
	    SSL_CTX_check_private_key(sctx) != 1) {
		fail("SSL_CTX set-up with the token key");
		goto out;
	}
	SSL_CTX_set_verify(sctx, SSL_VERIFY_NONE, NULL);
	fd = connect_loopback(port);
	ssl = fd >= 0 ? SSL_new(sctx) : NULL;
	if (ssl == NULL || !SSL_set_fd(ssl, fd) || SSL_connect(ssl) != 1) {
		fail("TLS handshake");
		goto out;
	}
	/* s_server -www answers with a status page naming the client's
	 * certificate; in TLS 1.3 that also waits for the server's verdict. */
	if (!https_get(ssl, "Client certificate")) {
		fail("the server's page does not show our client certificate");
		goto out;
	}
	printf("ok TLS %s handshake with client authentication (%s)\n", SSL_get_version(ssl),
	       SSL_get_cipher(ssl));
	ok = 1;
	SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	SSL_CTX_free(sctx);
	return ok;
}

/* An existing key by URI, or a new one labelled after the output
 * directory (labels are unique on a token). */
static int
get_key(imss_token *tok, const char *what, const char *dir, imss_key **key)
{
	const char *label = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	imss_keyspec spec;

	if (strncmp(what, "pkcs11:", 7) == 0)
		return imss_token_find_key(tok, what, key) == IMSS_OK;
	return imss_keyspec_parse(what, &spec) == IMSS_OK &&
	       imss_token_generate_keypair(tok, &spec, label, key, NULL) == IMSS_OK;
}

int
main(int argc, char **argv)
{
	static const int versions[] = { TLS1_2_VERSION, TLS1_3_VERSION };
	imss_pin_source *pin = NULL;
	imss_token *tok = NULL;
	imss_ctx *ctx = NULL;
	imss_key *key = NULL;
	EVP_PKEY *pkey = NULL;
	OSSL_LIB_CTX *lib;
	X509 *cert = NULL;
	char src[4096];
	int ok = 0, i;

	if (argc < 6) {
		fprintf(stderr,
		        "usage: test-bridge MODULE TOKEN-URI PIN-FILE KEYTYPE|KEY-URI OUTDIR [PORT...]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(src, sizeof(src), "file:%s", argv[3]);
	if (imss_ctx_new(argv[1], &ctx) != IMSS_OK ||
	    imss_token_open(ctx, argv[2], 1, &tok) != IMSS_OK ||
	    imss_pin_source_parse(src, &pin) != IMSS_OK ||
	    imss_token_login(tok, pin, 0) != IMSS_OK || !get_key(tok, argv[4], argv[5], &key) ||
	    imss_key_get_evp(key, &pkey) != IMSS_OK || (lib = imss_ctx_libctx(ctx)) == NULL) {
		fprintf(stderr, "FAIL: set-up: %s\n", ctx ? imss_ctx_detail(ctx) : "");
		goto out;
	}
	printf("key %s (%s)\n", imss_key_get_uri(key), EVP_PKEY_get0_type_name(pkey));
	if (!make_csr(lib, imss_key_get_public(key), pkey, argv[5]) ||
	    (cert = make_selfsigned(lib, imss_key_get_public(key), pkey, argv[5])) == NULL ||
	    !make_cms(lib, cert, pkey, argv[5]))
		goto out;
	printf("ok request, certificate and CMS signature written to %s\n", argv[5]);
	for (i = 6; i < argc && i < 8; i++)
		if (!tls_handshake(lib, cert, pkey, atoi(argv[i]), versions[i - 6]))
			goto out;
	ok = 1;
out:
	X509_free(cert);
	EVP_PKEY_free(pkey);
	imss_key_free(key);
	imss_token_close(tok);
	imss_pin_source_free(pin);
	imss_ctx_free(ctx);
	return ok ? 0 : 1;
}
