/*
 * hostile-proxy: a hostile or broken renewal service, for the tests.
 *
 *   hostile-proxy --dir SERVICE_DIR --upstream https://127.0.0.1:PORT
 *                 --mode-file FILE [--listen 127.0.0.1:PORT] [--stall SECONDS]
 *
 * An HTTPS server (libmicrohttpd with GnuTLS, as the service) that
 * presents the service's own TLS key and certificate (SERVICE_DIR/tls.key,
 * tls.pem: 127.0.0.1, issued by the service's CA, so a client that pinned
 * that CA trusts it) and forwards every request to the real service with
 * libcurl.  The answers to POST /idse/v1/renewal and GET
 * /idse/v1/requests/{id} are tampered with as FILE says ("MODE", or
 * "MODE renewal" or "MODE poll" for one of the two; "MODE recover" for
 * GET /idse/v1/certificates/{serial} alone), read again at every request
 * (so a test switches modes without a new address):
 *
 *   pass           nothing changed
 *   other-key      the certificate re-made for another key (signed by the
 *                  service's CA, SERVICE_DIR/ca.key: only the key differs)
 *   other-subject  the certificate re-made for another registro patronal
 *   other-ca       the certificate re-signed by another CA of the same name
 *   expired        the certificate re-made with a validity that ended
 *   garbage        the certificate's base64 replaced by garbage
 *   truncated      the JSON answer cut in half
 *   oversized      a 9 MiB answer (over the client's 8 MiB cap)
 *   http-500       HTTP 500 with a body that is no error description
 *   stall          no answer for --stall seconds (default 30), then the
 *                  connection closed
 *   slow           the honest answer, --stall seconds late ("slow answer
 *                  sent" on stderr then): a slow link or service
 *   redirect       302 to the same path over plain http://
 *   cn-other       the certificate re-made with a CN that is not the
 *                  razon social (O unchanged)
 *   ca-true        the certificate re-made with basicConstraints CA:TRUE
 *   server-eku     the certificate re-made with an EKU of serverAuth only
 *   sha1           the certificate re-signed with SHA-1
 *   not-before-ahead  the certificate re-made valid from 30 s from now (a
 *                  service clock a little ahead: must be accepted)
 *
 * Modes that spoil other answers (the second word of FILE picks a variant
 * where noted):
 *
 *   other-company     GET and PATCH /company: another employer's
 *                     registro patronal, razon social and RFC
 *   login-other-rp    POST /session: another registro patronal
 *   empty-request-id  POST /renewal: request_id ""
 *   long-request-id   POST /renewal: a request_id of 4096 hex digits
 *   control-chars     GET /company: ESC sequences in the razon social;
 *                     "control-chars error": POST /challenge answered by
 *                     a 403 whose messages hold ESC and C1 sequences, a
 *                     BEL, a newline, invalid UTF-8 and 3000 bytes more
 *   letter-request    GET /letter: the "PDF" a PKCS#10 request (DER) of a
 *                     key of the proxy's, its sha256 to match: signed
 *                     detached, it would be that request's CMS
 *
 * The request always reaches the real service first: what the client
 * loses is the answer.  Prints "listening on https://127.0.0.1:PORT" when
 * ready and one line per tampered answer on stderr.  SIGTERM ends it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define BODY_MAX (2u << 20)
#define OVERSIZE (9u << 20)

static const char *upstream, *mode_file, *svc_dir;
static int stall_seconds = 30;
static unsigned short listen_port;
static EVP_PKEY *ca_key, *other_ca_key;
static X509 *ca_cert;

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("hostile-proxy: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static char *
read_file(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n)
		die("cannot read %s", path);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* The mode file: MODE [renewal|poll]; both answers when the second word
 * is missing. */
static void
current_mode(char *mode, char *which)
{
	FILE *f = fopen(mode_file, "r");

	strcpy(mode, "pass");
	strcpy(which, "both");
	if (f != NULL) {
		if (fscanf(f, "%63s %15s", mode, which) < 1)
			strcpy(mode, "pass");
		fclose(f);
	}
}

/* ---- forwarding ------------------------------------------------------ */

struct answer {
	long status;
	char *body;
	size_t len;
	char content_type[128], retry_after[32], location[512];
};

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	char *grown = realloc(a->body, a->len + size * n + 1);

	if (grown == NULL)
		return 0;
	memcpy(grown + a->len, data, size * n);
	a->body = grown;
	a->len += size * n;
	a->body[a->len] = '\0';
	return size * n;
}

static void
header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);

	if (len > n && strncasecmp(line, name, n) == 0) {
		line += n;
		len -= n;
		while (len > 0 && (*line == ' ' || *line == '\t')) {
			line++;
			len--;
		}
		while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
			len--;
		snprintf(out, size, "%.*s", (int)len, line);
	}
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;

	header_value(data, size * n, "Retry-After:", a->retry_after, sizeof(a->retry_after));
	header_value(data, size * n, "Location:", a->location, sizeof(a->location));
	return size * n;
}

static int
forward(struct MHD_Connection *conn, const char *method, const char *path, const char *body,
        size_t len, struct answer *a)
{
	static const char *const pass[] = { "Content-Type", "Authorization", "Accept" };
	struct curl_slist *h = NULL;
	char url[4096], line[1024], ca[4096];
	CURL *c = curl_easy_init();
	char *ct = NULL;
	CURLcode rc;
	size_t i;

	if (c == NULL)
		return -1;
	snprintf(url, sizeof(url), "%s%s", upstream, path);
	snprintf(ca, sizeof(ca), "%s/ca.pem", svc_dir);
	for (i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
		const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, pass[i]);

		if (v != NULL) {
			snprintf(line, sizeof(line), "%s: %s", pass[i], v);
			h = curl_slist_append(h, line);
		}
	}
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
	if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
		if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
			snprintf(a->content_type, sizeof(a->content_type), "%s", ct);
	} else {
		fprintf(stderr, "hostile-proxy: %s %s: %s\n", method, path, curl_easy_strerror(rc));
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc == CURLE_OK ? 0 : -1;
}

/* ---- tampering ------------------------------------------------------- */

static EVP_PKEY *
new_ec_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	if (k == NULL)
		die("EC key generation failed");
	return k;
}

/* Another CA's key, made at start; certificates it signs keep the service
 * CA's name as their issuer. */
static void
make_other_ca(void)
{
	other_ca_key = new_ec_key();
}

/* The extension nid of x set to value (in place of the one there). */
static int
replace_ext(X509 *x, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, nid, value);
	int i = X509_get_ext_by_NID(x, nid, -1), ok = e != NULL;

	if (ok && i >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
	ok = ok && X509_add_ext(x, e, i);
	X509_EXTENSION_free(e);
	return ok;
}

/* The subject's CN set to another name than the razon social. */
static int
other_cn(X509 *x)
{
	X509_NAME *n = X509_NAME_dup(X509_get_subject_name(x));
	int i = n ? X509_NAME_get_index_by_NID(n, NID_commonName, -1) : -1, ok = i >= 0;

	if (ok) {
		X509_NAME_ENTRY_free(X509_NAME_delete_entry(n, i));
		ok = X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
		                                (const unsigned char *)"OTRA EMPRESA SA DE CV", -1,
		                                i, 0) &&
		     X509_set_subject_name(x, n);
	}
	X509_NAME_free(n);
	return ok;
}

/* The certificate re-made as the mode says, or NULL. */
static X509 *
forge(const char *mode, X509 *orig)
{
	X509 *x = X509_dup(orig);
	EVP_PKEY *signer = ca_key, *other = NULL;
	const EVP_MD *md = EVP_sha256();
	time_t now = time(NULL);
	int ok = x != NULL;

	if (ok && strcmp(mode, "other-key") == 0) {
		other = new_ec_key();
		ok = X509_set_pubkey(x, other);
	} else if (ok && strcmp(mode, "other-subject") == 0) {
		X509_NAME *n = X509_NAME_dup(X509_get_subject_name(orig));
		int i = n ? X509_NAME_get_index_by_NID(n, NID_organizationalUnitName, -1) : -1;

		ok = i >= 0;
		if (ok) {
			X509_NAME_ENTRY_free(X509_NAME_delete_entry(n, i));
			ok = X509_NAME_add_entry_by_NID(n, NID_organizationalUnitName, MBSTRING_UTF8,
			                                (const unsigned char *)"X9999999999", -1, i,
			                                0) &&
			     X509_set_subject_name(x, n);
		}
		X509_NAME_free(n);
	} else if (ok && strcmp(mode, "other-ca") == 0) {
		signer = other_ca_key;
	} else if (ok && strcmp(mode, "expired") == 0) {
		ok = X509_time_adj_ex(X509_getm_notBefore(x), -200, 0, &now) != NULL &&
		     X509_time_adj_ex(X509_getm_notAfter(x), -1, 0, &now) != NULL;
	} else if (ok && strcmp(mode, "cn-other") == 0) {
		ok = other_cn(x);
	} else if (ok && strcmp(mode, "ca-true") == 0) {
		ok = replace_ext(x, NID_basic_constraints, "critical,CA:TRUE");
	} else if (ok && strcmp(mode, "server-eku") == 0) {
		ok = replace_ext(x, NID_ext_key_usage, "serverAuth");
	} else if (ok && strcmp(mode, "sha1") == 0) {
		md = EVP_sha1();
	} else if (ok && strcmp(mode, "not-before-ahead") == 0) {
		ok = X509_time_adj_ex(X509_getm_notBefore(x), 0, 30, &now) != NULL;
	}
	if (ok)
		ok = X509_sign(x, signer, md) > 0;
	EVP_PKEY_free(other);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static char *
b64(const unsigned char *p, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	return out;
}

/* Replace certificate.der (and .pem) in the answer; 0 when there was none. */
static int
tamper_certificate(const char *mode, struct answer *a)
{
	json_object *root = json_tokener_parse(a->body ? a->body : "");
	json_object *cert = NULL, *der = NULL;
	unsigned char *bin = NULL, *out = NULL;
	const unsigned char *p;
	X509 *orig = NULL, *x = NULL;
	const char *text;
	char *enc = NULL;
	int n, len, done = 0;

	if (root == NULL || !json_object_object_get_ex(root, "certificate", &cert) ||
	    !json_object_object_get_ex(cert, "der", &der))
		goto out;
	if (strcmp(mode, "garbage") == 0) {
		json_object_object_add(cert, "der", json_object_new_string("%%% not base64 ###=="));
	} else {
		text = json_object_get_string(der);
		bin = malloc(strlen(text));
		n = EVP_DecodeBlock(bin, (const unsigned char *)text, (int)strlen(text));
		p = bin; /* the padding's zero bytes trail the DER: d2i ignores them */
		if (n <= 0 || (orig = d2i_X509(NULL, &p, n)) == NULL ||
		    (x = forge(mode, orig)) == NULL || (len = i2d_X509(x, &out)) <= 0 ||
		    (enc = b64(out, (size_t)len)) == NULL)
			goto out;
		json_object_object_add(cert, "der", json_object_new_string(enc));
		json_object_object_del(cert, "pem");
	}
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	free(a->body);
	a->body = strdup(text);
	a->len = strlen(text);
	done = 1;
out:
	json_object_put(root);
	free(bin);
	OPENSSL_free(out);
	free(enc);
	X509_free(orig);
	X509_free(x);
	return done;
}

static int
is_target(const char *method, const char *path, const char *which)
{
	int renewal = strcmp(method, "POST") == 0 && strcmp(path, "/idse/v1/renewal") == 0;
	int poll = strcmp(method, "GET") == 0 && strncmp(path, "/idse/v1/requests/", 18) == 0;
	int recover = strcmp(method, "GET") == 0 && strncmp(path, "/idse/v1/certificates/", 22) == 0;

	if (strcmp(which, "renewal") == 0)
		return renewal;
	if (strcmp(which, "poll") == 0)
		return poll;
	if (strcmp(which, "recover") == 0)
		return recover;
	return renewal || poll;
}

/* ---- service strings: company, session, request id, error text -------- */

static const char *const string_modes[] = { "other-company",
	                                    "login-other-rp",
	                                    "empty-request-id",
	                                    "long-request-id",
	                                    "control-chars",
	                                    "letter-request",
	                                    NULL };

static int
is_string_mode(const char *mode)
{
	size_t i;

	for (i = 0; string_modes[i] != NULL; i++)
		if (strcmp(mode, string_modes[i]) == 0)
			return 1;
	return 0;
}

static int
string_target(const char *mode, const char *which, const char *method, const char *path)
{
	if (strcmp(mode, "other-company") == 0)
		return strcmp(path, "/idse/v1/company") == 0;
	if (strcmp(mode, "login-other-rp") == 0)
		return strcmp(method, "POST") == 0 && strcmp(path, "/idse/v1/session") == 0;
	if (strcmp(mode, "control-chars") == 0 && strcmp(which, "error") == 0)
		return strcmp(method, "POST") == 0 && strcmp(path, "/idse/v1/challenge") == 0;
	if (strcmp(mode, "control-chars") == 0)
		return strcmp(method, "GET") == 0 && strcmp(path, "/idse/v1/company") == 0;
	if (strcmp(mode, "letter-request") == 0)
		return strcmp(method, "GET") == 0 && strcmp(path, "/idse/v1/letter") == 0;
	return strcmp(method, "POST") == 0 && strcmp(path, "/idse/v1/renewal") == 0;
}

/* An error answer whose messages would paint a terminal. */
static void
hostile_error(struct answer *a)
{
	static const char msg[] = "\\u001b[2J\\u001b]0;pwned\\u0007\\u001b[31mROJO \\u009b31m"
	                          "\\nsegunda linea \xff\xfe\xc3";
	size_t pad = 3000, len = 2 * (sizeof(msg) + pad) + 200;
	char *body = malloc(len), *p;

	if (body == NULL)
		return;
	p = body +
	    snprintf(body, len, "{\"error\":{\"code\":\"LOGIN_FAILED\",\"message_es\":\"%s", msg);
	memset(p, 'x', pad);
	p += pad;
	p += snprintf(p, len - (size_t)(p - body), "\",\"message_en\":\"%s", msg);
	memset(p, 'y', pad);
	p += pad;
	p += snprintf(p, len - (size_t)(p - body), "\"}}");
	free(a->body);
	a->body = body;
	a->len = (size_t)(p - body);
	a->status = 403;
	snprintf(a->content_type, sizeof(a->content_type), "application/json");
	a->retry_after[0] = a->location[0] = '\0';
}

/* letter-request: the letter replaced by a request of the proxy's own key. */
static void
letter_as_request(json_object *root)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	unsigned char *der = NULL, md[32];
	char *b64 = NULL, hex[65];
	int len = -1, i;

	if (key != NULL && req != NULL && X509_REQ_set_pubkey(req, key) &&
	    X509_REQ_sign(req, key, EVP_sha256()) > 0)
		len = i2d_X509_REQ(req, &der);
	if (len > 0 && (b64 = malloc(4 * ((size_t)len / 3 + 1) + 1)) != NULL) {
		EVP_EncodeBlock((unsigned char *)b64, der, len);
		EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL);
		for (i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		json_object_object_add(root, "pdf", json_object_new_string(b64));
		json_object_object_add(root, "sha256", json_object_new_string(hex));
		json_object_object_add(root, "size", json_object_new_int(len));
	}
	free(b64);
	OPENSSL_free(der);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
}

/* The JSON answer's members changed as the mode says; 0 when it was no
 * JSON object. */
static int
tamper_members(const char *mode, struct answer *a)
{
	json_object *root = json_tokener_parse(a->body ? a->body : "");
	const char *text;
	char *id;

	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return 0;
	}
	if (strcmp(mode, "other-company") == 0) {
		json_object_object_add(root, "registro_patronal",
		                       json_object_new_string("X9999999999"));
		json_object_object_add(root, "razon_social",
		                       json_object_new_string("OTRA EMPRESA SA DE CV"));
		json_object_object_add(root, "rfc", json_object_new_string("OEM010101AB1"));
	} else if (strcmp(mode, "login-other-rp") == 0) {
		json_object_object_add(root, "registro_patronal",
		                       json_object_new_string("X9999999999"));
	} else if (strcmp(mode, "control-chars") == 0) {
		json_object_object_add(root, "razon_social",
		                       json_object_new_string(
		                               "EMPRESA \x1b[2J\x1b[31mROJA\x1b[0m SA"));
	} else if (strcmp(mode, "letter-request") == 0) {
		letter_as_request(root);
	} else if ((id = calloc(1, 4097)) != NULL) {
		if (strcmp(mode, "long-request-id") == 0)
			memset(id, 'a', 4096);
		json_object_object_add(root, "request_id", json_object_new_string(id));
		free(id);
	}
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	free(a->body);
	a->body = strdup(text);
	a->len = strlen(text);
	json_object_put(root);
	return 1;
}

/* -1: not one of these modes; 0: not this answer; 1: spoiled. */
static int
tamper_strings(const char *mode, const char *which, const char *method, const char *path,
               struct answer *a)
{
	if (!is_string_mode(mode))
		return -1;
	if (!string_target(mode, which, method, path))
		return 0;
	fprintf(stderr, "hostile-proxy: %s %s: %ld, answered as '%s'\n", method, path, a->status,
	        mode);
	if (strcmp(mode, "control-chars") == 0 && strcmp(which, "error") == 0)
		hostile_error(a);
	else if (!tamper_members(mode, a))
		fprintf(stderr, "hostile-proxy: %s %s: no JSON object to tamper with\n", method,
		        path);
	return 1;
}

/* ---- serving --------------------------------------------------------- */

struct conn {
	char *body;
	size_t len;
};

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct conn *c = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (c != NULL) {
		free(c->body);
		free(c);
	}
	*con_cls = NULL;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, long status, char *body, size_t len, const char *content_type,
      const char *retry_after, const char *location)
{
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	if (content_type && *content_type)
		MHD_add_response_header(r, "Content-Type", content_type);
	if (retry_after && *retry_after)
		MHD_add_response_header(r, "Retry-After", retry_after);
	if (location && *location)
		MHD_add_response_header(r, "Location", location);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct conn *c = *con_cls;
	struct answer a = { 0 };
	char mode[64], which[16], *text;

	(void)cls;
	(void)version;
	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return MHD_NO;
		*con_cls = c;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		char *grown;

		if (c->len + *upload_size > BODY_MAX ||
		    (grown = realloc(c->body, c->len + *upload_size + 1)) == NULL)
			return MHD_NO;
		memcpy(grown + c->len, upload, *upload_size);
		c->body = grown;
		c->len += *upload_size;
		c->body[c->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	if (forward(conn, method, url, c->body, c->len, &a) != 0)
		return MHD_NO;
	current_mode(mode, which);
	if (tamper_strings(mode, which, method, url, &a) >= 0)
		goto send;
	if (!is_target(method, url, which) || strcmp(mode, "pass") == 0)
		goto send;
	fprintf(stderr, "hostile-proxy: %s %s: %ld, answered as '%s'\n", method, url, a.status, mode);
	if (strcmp(mode, "truncated") == 0) {
		a.len /= 2;
	} else if (strcmp(mode, "oversized") == 0) {
		free(a.body);
		if ((a.body = malloc(OVERSIZE)) == NULL)
			return MHD_NO;
		memset(a.body, ' ', OVERSIZE);
		memcpy(a.body, "{\"pad\":\"", 8);
		memcpy(a.body + OVERSIZE - 2, "\"}", 2);
		a.len = OVERSIZE;
	} else if (strcmp(mode, "http-500") == 0) {
		free(a.body);
		a.body = strdup("<html><body>500 Internal Server Error</body></html>");
		a.len = strlen(a.body);
		a.status = 500;
		snprintf(a.content_type, sizeof(a.content_type), "text/html");
		a.retry_after[0] = a.location[0] = '\0';
	} else if (strcmp(mode, "stall") == 0) {
		sleep((unsigned)stall_seconds);
		free(a.body);
		return MHD_NO;
	} else if (strcmp(mode, "slow") == 0) {
		sleep((unsigned)stall_seconds);
		fprintf(stderr, "hostile-proxy: %s %s: slow answer sent\n", method, url);
	} else if (strcmp(mode, "redirect") == 0) {
		free(a.body);
		a.body = strdup("");
		a.len = 0;
		a.status = 302;
		snprintf(a.location, sizeof(a.location), "http://127.0.0.1:%u%s", listen_port, url);
	} else if (!tamper_certificate(mode, &a)) {
		fprintf(stderr, "hostile-proxy: %s %s: no certificate in the answer to tamper with\n",
		        method, url);
	}
send:
	text = a.body ? a.body : strdup("");
	return reply(conn, a.status, text, a.len, a.content_type, a.retry_after, a.location);
}

static int
listen_on(const char *addr)
{
	struct sockaddr_in sa = { 0 };
	socklen_t slen = sizeof(sa);
	char host[64];
	unsigned port;
	int fd, one = 1;

	if (sscanf(addr, "%63[^:]:%u", host, &port) != 2 || port > 65535)
		die("bad --listen %s", addr);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die("bad address %s", host);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 32) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &slen) != 0)
		die("cannot listen on %s", addr);
	listen_port = ntohs(sa.sin_port);
	return fd;
}

int
main(int argc, char **argv)
{
	const char *listen_addr = "127.0.0.1:0";
	struct MHD_Daemon *d;
	char *key_pem, *cert_pem, *ca_pem;
	BIO *bio;
	int i, fd;

	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--dir") == 0)
			svc_dir = argv[i + 1];
		else if (strcmp(argv[i], "--upstream") == 0)
			upstream = argv[i + 1];
		else if (strcmp(argv[i], "--mode-file") == 0)
			mode_file = argv[i + 1];
		else if (strcmp(argv[i], "--listen") == 0)
			listen_addr = argv[i + 1];
		else if (strcmp(argv[i], "--stall") == 0)
			stall_seconds = atoi(argv[i + 1]);
		else
			die("unknown argument %s", argv[i]);
	}
	if (i != argc || !svc_dir || !upstream || !mode_file)
		die("usage: hostile-proxy --dir SERVICE_DIR --upstream URL --mode-file FILE "
		    "[--listen ADDR:PORT] [--stall SECONDS]");
	key_pem = read_file(svc_dir, "tls.key");
	cert_pem = read_file(svc_dir, "tls.pem");
	ca_pem = read_file(svc_dir, "ca.key");
	bio = BIO_new_mem_buf(ca_pem, -1);
	ca_key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	free(ca_pem);
	ca_pem = read_file(svc_dir, "ca.pem");
	bio = BIO_new_mem_buf(ca_pem, -1);
	ca_cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	free(ca_pem);
	if (ca_key == NULL || ca_cert == NULL)
		die("cannot read the service's CA from %s", svc_dir);
	make_other_ca();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		die("curl_global_init");
	fd = listen_on(listen_addr);
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                             MHD_USE_TLS | MHD_USE_ERROR_LOG,
	                     0, NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
	                     MHD_OPTION_HTTPS_MEM_KEY, key_pem, MHD_OPTION_HTTPS_MEM_CERT, cert_pem,
	                     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	                     MHD_OPTION_CONNECTION_TIMEOUT, 600u, MHD_OPTION_END);
	if (d == NULL)
		die("cannot start the HTTPS server");
	printf("listening on https://127.0.0.1:%u\n", listen_port);
	fflush(stdout);
	for (;;)
		pause();
}
