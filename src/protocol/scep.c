/*
 * SCEP (RFC 8894) on OpenSSL's CMS and ASN.1 functions: nothing here is
 * encoded by hand.  A request is a SignedData (signed by the caller's
 * credential, its certificate included) whose content is an EnvelopedData
 * for the CA (or RA) certificate holding the PKCS#10 request (or, for
 * CertPoll, the IssuerAndSubject); the SCEP attributes are signed
 * attributes.  The answer (CertRep) is believed only after its signature
 * verifies, its signer chains to the trusted CA, and its transactionID and
 * recipientNonce are ours.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "enroll.h"
#include "http.h"
#include "imss-renew/base.h"
#include "scep.h"

/* The SCEP attributes (RFC 8894 3.2.1), under id-VeriSign 2.16.840.1.113733.1.9. */
enum scep_attr {
	ATTR_MESSAGE_TYPE,
	ATTR_PKI_STATUS,
	ATTR_FAIL_INFO,
	ATTR_SENDER_NONCE,
	ATTR_RECIPIENT_NONCE,
	ATTR_TRANSACTION_ID,
};

static const char *const attr_oid[] = {
	[ATTR_MESSAGE_TYPE] = "2.16.840.1.113733.1.9.2",
	[ATTR_PKI_STATUS] = "2.16.840.1.113733.1.9.3",
	[ATTR_FAIL_INFO] = "2.16.840.1.113733.1.9.4",
	[ATTR_SENDER_NONCE] = "2.16.840.1.113733.1.9.5",
	[ATTR_RECIPIENT_NONCE] = "2.16.840.1.113733.1.9.6",
	[ATTR_TRANSACTION_ID] = "2.16.840.1.113733.1.9.7",
};

#define SCEP_MAX_RESPONSE (1u << 20)
#define SCEP_POLL_SECONDS 5

/* IssuerAndSubject ::= SEQUENCE { issuer Name, subject Name } (CertPoll). */
typedef struct {
	X509_NAME *issuer;
	X509_NAME *subject;
} SCEP_ISSUER_AND_SUBJECT;

ASN1_SEQUENCE(SCEP_ISSUER_AND_SUBJECT) = {
	ASN1_SIMPLE(SCEP_ISSUER_AND_SUBJECT, issuer, X509_NAME),
	ASN1_SIMPLE(SCEP_ISSUER_AND_SUBJECT, subject, X509_NAME),
} static_ASN1_SEQUENCE_END(SCEP_ISSUER_AND_SUBJECT)

struct scep_client {
	imss_ctx *ctx;
	struct http_client *http; /* the caller's */
	unsigned caps;
	X509_STORE *trusted;       /* the caller's CA */
	STACK_OF(X509) * ca_certs; /* GetCACert, each chaining to trusted */
	X509 *recipient;           /* the RA, else the CA: requests are encrypted to it */
};

/* One request's own values. */
struct scep_message {
	enum scep_message_type type;
	const char *transaction_id;
	unsigned char sender_nonce[SCEP_NONCE_LEN];
};

const char *
scep_fail_info_text(int fail_info)
{
	switch (fail_info) {
	case 0:
		return _("unrecognized or unsupported algorithm (badAlg)");
	case 1:
		return _("integrity check failed (badMessageCheck)");
	case 2:
		return _("transaction not permitted or supported (badRequest)");
	case 3:
		return _("the message time was not close enough to the CA's time (badTime)");
	case 4:
		return _("no certificate could be identified matching the criteria (badCertId)");
	default:
		return _("no reason given");
	}
}

unsigned
scep_client_caps(const struct scep_client *c)
{
	return c->caps;
}

/* ---- GetCACaps, GetCACert ------------------------------------------- */

static unsigned
parse_caps(const unsigned char *body, size_t len)
{
	static const struct {
		const char *name;
		unsigned bit;
	} known[] = {
		{ "Renewal", SCEP_CAP_RENEWAL }, { "AES", SCEP_CAP_AES },
		{ "SHA-256", SCEP_CAP_SHA256 },  { "POSTPKIOperation", SCEP_CAP_POST },
		{ "DES3", SCEP_CAP_DES3 },       { "SCEPStandard", SCEP_CAP_STANDARD },
	};
	unsigned caps = 0;
	size_t i = 0;

	while (i < len) {
		size_t start = i, n, k;

		while (i < len && body[i] != '\n' && body[i] != '\r')
			i++;
		n = i - start;
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (n == strlen(known[k].name) &&
			    strncasecmp((const char *)body + start, known[k].name, n) == 0)
				caps |= known[k].bit;
		while (i < len && (body[i] == '\n' || body[i] == '\r'))
			i++;
	}
	if (caps & SCEP_CAP_STANDARD)
		caps |= SCEP_CAP_AES | SCEP_CAP_SHA256 | SCEP_CAP_POST;
	return caps;
}

static imss_err
get_operation(struct scep_client *c, const char *operation, struct http_response *resp)
{
	char path[64];
	imss_err err;

	snprintf(path, sizeof(path), "?operation=%s", operation);
	err = http_request(c->http, "GET", path, NULL, NULL, 0, 1, resp);
	if (err == IMSS_OK && resp->status != 200)
		err = ctx_fail(c->ctx, IMSS_ERR_SERVICE,
		               _("The SCEP server answered %s with HTTP %ld. Check the server's address (it usually ends in /scep or /cgi-bin/pkiclient.exe)."),
		               operation, resp->status);
	return err;
}

/* GetCACert: one DER certificate (the CA), or a degenerate PKCS#7 of the
 * RA and CA certificates. */
static imss_err
parse_ca_certs(imss_ctx *ctx, const struct http_response *resp, STACK_OF(X509) * *out)
{
	const unsigned char *p = resp->body;
	CMS_ContentInfo *cms = NULL;
	X509 *one = NULL;

	*out = NULL;
	if (strncasecmp(resp->content_type, "application/x-x509-ca-ra-cert", 29) == 0) {
		if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)resp->len)) != NULL &&
		    p == resp->body + resp->len)
			*out = CMS_get1_certs(cms);
		CMS_ContentInfo_free(cms);
	} else if ((one = d2i_X509(NULL, &p, (long)resp->len)) != NULL &&
	           p == resp->body + resp->len) {
		if ((*out = sk_X509_new_null()) != NULL && !sk_X509_push(*out, one)) {
			sk_X509_free(*out);
			*out = NULL;
		} else
			one = NULL;
	}
	X509_free(one);
	ERR_clear_error();
	if (*out == NULL || sk_X509_num(*out) == 0) {
		sk_X509_pop_free(*out, X509_free);
		*out = NULL;
		return ctx_fail(ctx, IMSS_ERR_PROTOCOL,
		                _("The SCEP server's CA certificates (GetCACert) cannot be read."));
	}
	return IMSS_OK;
}

/* cert chains to the trusted CA (untrusted: the server's other certificates). */
static int
chains_to_trusted(X509_STORE *trusted, STACK_OF(X509) * untrusted, X509 *cert)
{
	X509_STORE_CTX *sc = X509_STORE_CTX_new();
	int ok = 0;

	if (sc != NULL && X509_STORE_CTX_init(sc, trusted, cert, untrusted) == 1)
		ok = X509_verify_cert(sc) == 1;
	X509_STORE_CTX_free(sc);
	ERR_clear_error();
	return ok;
}

/* The RA (a certificate for key encipherment that is no CA), else the CA. */
static X509 *
pick_recipient(STACK_OF(X509) * certs)
{
	int i;

	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		if (!X509_check_ca(x) && (X509_get_key_usage(x) & KU_KEY_ENCIPHERMENT))
			return x;
	}
	for (i = 0; i < sk_X509_num(certs); i++)
		if (X509_check_ca(sk_X509_value(certs, i)))
			return sk_X509_value(certs, i);
	return NULL;
}

static imss_err
discover(struct scep_client *c)
{
	struct http_response resp = { 0 };
	imss_err err;

	err = get_operation(c, "GetCACaps", &resp);
	if (err != IMSS_OK)
		goto out;
	c->caps = parse_caps(resp.body, resp.len);
	http_response_clear(&resp);
	err = get_operation(c, "GetCACert", &resp);
	if (err == IMSS_OK)
		err = parse_ca_certs(c->ctx, &resp, &c->ca_certs);
	if (err != IMSS_OK)
		goto out;
	c->recipient = pick_recipient(c->ca_certs);
	if (c->recipient == NULL || !chains_to_trusted(c->trusted, c->ca_certs, c->recipient)) {
		err = ctx_fail_next(c->ctx, IMSS_ERR_CHAIN, IMSS_NEXT_GIVE_CA,
		                    _("The SCEP server's CA certificate does not chain to the CA given; nothing was sent. Give the CA that issues your certificates."));
		goto out;
	}
	ctx_log(c->ctx, IMSS_LOG_DEBUG, "scep: capabilities 0x%x, %d CA certificates", c->caps,
	        sk_X509_num(c->ca_certs));
out:
	http_response_clear(&resp);
	return err;
}

static X509_STORE *
store_of(STACK_OF(X509) * ca)
{
	X509_STORE *store = X509_STORE_new();
	int i;

	if (store == NULL)
		return NULL;
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
	for (i = 0; i < sk_X509_num(ca); i++)
		X509_STORE_add_cert(store, sk_X509_value(ca, i));
	return store;
}

imss_err
scep_client_new(imss_ctx *ctx, struct http_client *http, STACK_OF(X509) * ca, struct scep_client **out)
{
	struct scep_client *c;
	imss_err err;

	*out = NULL;
	if (ca == NULL || sk_X509_num(ca) == 0)
		return ctx_fail_next(ctx, IMSS_ERR_INVALID_ARG, IMSS_NEXT_GIVE_CA,
		                     _("SCEP needs the CA certificate that issues your certificates: the server's own cannot be trusted on its word."));
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return IMSS_ERR_NOMEM;
	c->ctx = ctx;
	c->http = http;
	c->trusted = store_of(ca);
	err = c->trusted ? discover(c) : IMSS_ERR_NOMEM;
	if (err != IMSS_OK) {
		scep_client_free(c);
		return err;
	}
	*out = c;
	return IMSS_OK;
}

imss_err
scep_http_new(imss_ctx *ctx, const char *url, STACK_OF(X509) * ca, struct http_client **out)
{
	struct http_options ho = { ca, 1, 15, 120, SCEP_MAX_RESPONSE, 3, 1 };

	return http_client_new(ctx, url, &ho, out);
}

void
scep_client_free(struct scep_client *c)
{
	if (c == NULL)
		return;
	X509_STORE_free(c->trusted);
	sk_X509_pop_free(c->ca_certs, X509_free);
	free(c);
}

/* ---- the request ----------------------------------------------------- */

imss_err
scep_check_signer(imss_ctx *ctx, const struct scep_signer *signer)
{
	if (signer->key == NULL || signer->cert == NULL)
		return ctx_fail(ctx, IMSS_ERR_INVALID_ARG, "scep: no signer");
	if (!EVP_PKEY_is_a(signer->key, "RSA"))
		return ctx_fail(ctx, IMSS_ERR_UNSUPPORTED,
		                _("The SCEP server encrypts its answer to the certificate that signs the request, and the current key is not RSA: it cannot decrypt it. Renew this certificate another way (a CMP server, or a new enrollment); nothing was sent."));
	return IMSS_OK;
}

imss_err
scep_transaction_id(imss_ctx *ctx, X509_REQ *req, char out[SCEP_TRANSACTION_ID_MAX])
{
	unsigned char *spki = NULL, md[32];
	int n = i2d_PUBKEY(X509_REQ_get0_pubkey(req), &spki);
	int i;

	out[0] = '\0';
	if (n <= 0 || SHA256(spki, (size_t)n, md) == NULL) {
		OPENSSL_free(spki);
		return ctx_fail_openssl(ctx, "scep: transactionID");
	}
	OPENSSL_free(spki);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return IMSS_OK;
}

/* The pkcsPKIEnvelope: content encrypted to the CA/RA (AES-128-CBC when
 * the CA offers AES, else 3DES). */
static imss_err
envelope_for(struct scep_client *c, const unsigned char *content, size_t len, unsigned char **der,
             int *derlen)
{
	const EVP_CIPHER *cipher = (c->caps & SCEP_CAP_AES) ? EVP_aes_128_cbc() : EVP_des_ede3_cbc();
	STACK_OF(X509) *to = sk_X509_new_null();
	CMS_ContentInfo *env = NULL;
	BIO *in = BIO_new_mem_buf(content, (int)len);
	imss_err err = IMSS_OK;

	*der = NULL;
	if (to == NULL || in == NULL || !sk_X509_push(to, c->recipient) ||
	    (env = CMS_encrypt_ex(to, in, cipher, CMS_BINARY, imss_ctx_libctx(c->ctx), NULL)) == NULL ||
	    (*derlen = i2d_CMS_ContentInfo(env, der)) <= 0)
		err = ctx_fail_openssl(c->ctx, _("cannot encrypt the SCEP request"));
	sk_X509_free(to);
	BIO_free(in);
	CMS_ContentInfo_free(env);
	return err;
}

static int
add_text_attr(CMS_SignerInfo *si, enum scep_attr which, int type, const void *data, int len)
{
	ASN1_OBJECT *oid = OBJ_txt2obj(attr_oid[which], 1);
	int ok = oid != NULL && CMS_signed_add1_attr_by_OBJ(si, oid, type, data, len) == 1;

	ASN1_OBJECT_free(oid);
	return ok;
}

static int
add_scep_attrs(CMS_SignerInfo *si, const struct scep_message *m)
{
	char type[8];

	snprintf(type, sizeof(type), "%d", (int)m->type);
	/* An explicit length: with -1, X509_ATTRIBUTE_set1_data takes data
	 * for an ASN1_STRING. */
	return add_text_attr(si, ATTR_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, type, (int)strlen(type)) &&
	       add_text_attr(si, ATTR_TRANSACTION_ID, V_ASN1_PRINTABLESTRING, m->transaction_id,
	                     (int)strlen(m->transaction_id)) &&
	       add_text_attr(si, ATTR_SENDER_NONCE, V_ASN1_OCTET_STRING, m->sender_nonce,
	                     SCEP_NONCE_LEN);
}

/* The pkiMessage: SignedData over the envelope, signed by the signer. */
static imss_err
pki_message(struct scep_client *c, const struct scep_signer *signer, const struct scep_message *m,
            const unsigned char *envelope, int envlen, unsigned char **der, int *derlen)
{
	const unsigned flags = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;
	const EVP_MD *md = (c->caps & SCEP_CAP_SHA256) ? EVP_sha256() : EVP_sha1();
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	BIO *in = BIO_new_mem_buf(envelope, envlen);
	imss_err err = IMSS_OK;

	*der = NULL;
	cms = in ? CMS_sign_ex(NULL, NULL, NULL, NULL, flags, imss_ctx_libctx(c->ctx), NULL) : NULL;
	si = cms ? CMS_add1_signer(cms, signer->cert, signer->key, md, flags) : NULL;
	if (si == NULL || !add_scep_attrs(si, m) || CMS_final(cms, in, NULL, flags) != 1 ||
	    (*derlen = i2d_CMS_ContentInfo(cms, der)) <= 0) {
		if (imss_ctx_detail(c->ctx)[0] == '\0')
			ctx_fail_openssl(c->ctx, _("cannot sign the SCEP request"));
		err = IMSS_ERR_CRYPTO;
	}
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	return err;
}

/* POST when the CA offers it, else GET with the message in base64. */
static imss_err
send_pki_message(struct scep_client *c, const unsigned char *msg, int len, struct http_response *resp)
{
	static const char prefix[] = "?operation=PKIOperation&message=";
	char *path = NULL, *b64 = NULL, *q;
	imss_err err;
	int n, i;

	if (c->caps & SCEP_CAP_POST)
		return http_request(c->http, "POST", "?operation=PKIOperation",
		                    "application/x-pki-message", msg, (size_t)len, 0, resp);
	b64 = malloc(4 * ((size_t)len / 3 + 1) + 1);
	path = malloc(sizeof(prefix) + 3 * (4 * ((size_t)len / 3 + 1)));
	if (b64 == NULL || path == NULL) {
		err = IMSS_ERR_NOMEM;
		goto out;
	}
	n = EVP_EncodeBlock((unsigned char *)b64, msg, len);
	q = path + sprintf(path, "%s", prefix);
	for (i = 0; i < n; i++)
		q += (b64[i] == '+' || b64[i] == '/' || b64[i] == '=')
		             ? sprintf(q, "%%%02X", (unsigned char)b64[i])
		             : sprintf(q, "%c", b64[i]);
	err = http_request(c->http, "GET", path, NULL, NULL, 0, 0, resp);
out:
	free(b64);
	free(path);
	return err;
}

/* ---- the answer ------------------------------------------------------ */

/* The attribute's value when it is of type; NULL when absent or another. */
static const ASN1_STRING *
attr_value(CMS_SignerInfo *si, enum scep_attr which, int type)
{
	ASN1_OBJECT *oid = OBJ_txt2obj(attr_oid[which], 1);
	int at = oid ? CMS_signed_get_attr_by_OBJ(si, oid, -1) : -1;
	X509_ATTRIBUTE *a = at >= 0 ? CMS_signed_get_attr(si, at) : NULL;
	const ASN1_STRING *v = NULL;

	ASN1_OBJECT_free(oid);
	if (a != NULL && X509_ATTRIBUTE_count(a) == 1)
		v = X509_ATTRIBUTE_get0_data(a, 0, type, NULL);
	ERR_clear_error();
	return v;
}

/* A PrintableString attribute holding one small number. */
static int
attr_number(CMS_SignerInfo *si, enum scep_attr which)
{
	const ASN1_STRING *v = attr_value(si, which, V_ASN1_PRINTABLESTRING);
	const unsigned char *d = v ? ASN1_STRING_get0_data(v) : NULL;
	int n = v ? ASN1_STRING_length(v) : 0;
	int value = 0, i;

	if (d == NULL || n < 1 || n > 3)
		return -1;
	for (i = 0; i < n; i++) {
		if (d[i] < '0' || d[i] > '9')
			return -1;
		value = value * 10 + (d[i] - '0');
	}
	return value;
}

static int
attr_equals(CMS_SignerInfo *si, enum scep_attr which, int type, const void *want, size_t len)
{
	const ASN1_STRING *v = attr_value(si, which, type);

	return v != NULL && (size_t)ASN1_STRING_length(v) == len &&
	       memcmp(ASN1_STRING_get0_data(v), want, len) == 0;
}

/* The attributes: a CertRep, ours, with a known status. */
static imss_err
read_attrs(imss_ctx *ctx, CMS_SignerInfo *si, const struct scep_expect *expect,
           struct scep_reply *reply)
{
	int status = attr_number(si, ATTR_PKI_STATUS);

	if (attr_number(si, ATTR_MESSAGE_TYPE) != SCEP_CERT_REP)
		return ctx_fail(ctx, IMSS_ERR_PROTOCOL,
		                _("The SCEP server's answer is not a CertRep; it was refused."));
	if (!attr_equals(si, ATTR_TRANSACTION_ID, V_ASN1_PRINTABLESTRING, expect->transaction_id,
	                 strlen(expect->transaction_id)) ||
	    !attr_equals(si, ATTR_RECIPIENT_NONCE, V_ASN1_OCTET_STRING, expect->sender_nonce,
	                 SCEP_NONCE_LEN))
		return ctx_fail(ctx, IMSS_ERR_PROTOCOL,
		                _("The SCEP server's answer is not for this request (another transactionID or nonce); it was refused."));
	if (status != SCEP_SUCCESS && status != SCEP_FAILURE && status != SCEP_PENDING)
		return ctx_fail(ctx, IMSS_ERR_PROTOCOL,
		                _("The SCEP server's answer has no valid pkiStatus; it was refused."));
	reply->status = (enum scep_status)status;
	reply->fail_info = status == SCEP_FAILURE ? attr_number(si, ATTR_FAIL_INFO) : -1;
	return IMSS_OK;
}

/* cert is one the server published (GetCACert): its CA or RA, not any
 * certificate the CA issued. */
static int
is_ca_certificate(STACK_OF(X509) * published, X509 *cert)
{
	int i;

	for (i = 0; i < sk_X509_num(published); i++)
		if (X509_cmp(sk_X509_value(published, i), cert) == 0)
			return 1;
	return 0;
}

/* The signature over the content, by a certificate of the server's
 * (GetCACert) that chains to trusted. */
static imss_err
verify_cert_rep(imss_ctx *ctx, CMS_ContentInfo *cms, X509_STORE *trusted,
                STACK_OF(X509) * untrusted, BIO *content)
{
	STACK_OF(X509) *signers = NULL;
	BIO *detached = NULL;
	imss_err err = IMSS_OK;

	if (CMS_is_detached(cms) && (detached = BIO_new_mem_buf("", 0)) == NULL)
		return IMSS_ERR_NOMEM;
	if (CMS_verify(cms, untrusted, NULL, detached, content,
	               CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) != 1 ||
	    (signers = CMS_get0_signers(cms)) == NULL || sk_X509_num(signers) != 1 ||
	    !is_ca_certificate(untrusted, sk_X509_value(signers, 0)) ||
	    !chains_to_trusted(trusted, untrusted, sk_X509_value(signers, 0)))
		err = ctx_fail(ctx, IMSS_ERR_VERIFY,
		               _("The SCEP server's answer is not signed by the CA given (or its signature is broken); it was refused."));
	sk_X509_free(signers);
	BIO_free(detached);
	ERR_clear_error();
	return err;
}

imss_err
scep_parse_cert_rep(imss_ctx *ctx, const unsigned char *der, size_t len,
                    const struct scep_expect *expect, X509_STORE *trusted,
                    STACK_OF(X509) * untrusted, struct scep_reply *reply)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(CMS_SignerInfo) * sis;
	BUF_MEM *content = NULL;
	BIO *out = NULL;
	imss_err err;

	memset(reply, 0, sizeof(*reply));
	reply->fail_info = -1;
	if (len > SCEP_MAX_RESPONSE || (cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL ||
	    p != der + len || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    (sis = CMS_get0_SignerInfos(cms)) == NULL || sk_CMS_SignerInfo_num(sis) != 1) {
		err = ctx_fail(ctx, IMSS_ERR_PROTOCOL,
		               _("The SCEP server's answer is not a signed PKCS#7 message; it was refused."));
		goto out;
	}
	err = read_attrs(ctx, sk_CMS_SignerInfo_value(sis, 0), expect, reply);
	if (err != IMSS_OK)
		goto out;
	if ((out = BIO_new(BIO_s_mem())) == NULL) {
		err = IMSS_ERR_NOMEM;
		goto out;
	}
	err = verify_cert_rep(ctx, cms, trusted, untrusted, out);
	if (err != IMSS_OK)
		goto out;
	BIO_get_mem_ptr(out, &content);
	if (reply->status == SCEP_SUCCESS) {
		if (content == NULL || content->length == 0 ||
		    (reply->envelope = OPENSSL_memdup(content->data, content->length)) == NULL) {
			err = ctx_fail(ctx, IMSS_ERR_PROTOCOL,
			               _("The SCEP server answered SUCCESS without a certificate; it was refused."));
			goto out;
		}
		reply->envelope_len = content->length;
	}
out:
	if (err != IMSS_OK)
		scep_reply_clear(reply);
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return err;
}

void
scep_reply_clear(struct scep_reply *reply)
{
	OPENSSL_free(reply->envelope);
	memset(reply, 0, sizeof(*reply));
	reply->fail_info = -1;
}

/* The certificates of a degenerate SignedData: the one for key, the rest. */
static imss_err
certs_for_key(imss_ctx *ctx, const BUF_MEM *degenerate, EVP_PKEY *key, X509 **issued,
              STACK_OF(X509) * *extra)
{
	const unsigned char *p = (const unsigned char *)degenerate->data;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)degenerate->length);
	STACK_OF(X509) *certs = cms ? CMS_get1_certs(cms) : NULL;
	imss_err err = IMSS_OK;
	int i;

	for (i = 0; i < sk_X509_num(certs) && *issued == NULL; i++)
		if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(certs, i)), key) == 1)
			*issued = sk_X509_delete(certs, i);
	if (*issued == NULL)
		err = ctx_fail(ctx, IMSS_ERR_REFUSED_CERT,
		               _("The SCEP server sent no certificate for the new key; nothing was stored."));
	else if (extra != NULL) {
		*extra = certs;
		certs = NULL;
	}
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return err;
}

/*
 * micromdm's server (and others on Go's pkcs7) encrypts its answer with
 * single DES, which OpenSSL 3 keeps in its legacy provider: loaded into
 * the library's own context (never the application's) for this answer
 * only.  The content is a public certificate; its integrity comes from
 * the CA's signature checked before, not from the cipher.
 */
static OSSL_PROVIDER *
legacy_ciphers(imss_ctx *ctx)
{
	OSSL_PROVIDER *legacy = OSSL_PROVIDER_try_load(imss_ctx_libctx(ctx), "legacy", 1);

	ERR_clear_error();
	return legacy;
}

imss_err
scep_open_envelope(imss_ctx *ctx, const struct scep_reply *reply, const struct scep_signer *signer,
                   X509_REQ *req, X509 **issued, STACK_OF(X509) * *extra)
{
	const unsigned char *p = reply->envelope;
	CMS_ContentInfo *env = CMS_ContentInfo_new_ex(imss_ctx_libctx(ctx), NULL);
	OSSL_PROVIDER *legacy = NULL;
	BUF_MEM *plain = NULL;
	BIO *out = BIO_new(BIO_s_mem());
	imss_err err = IMSS_OK;

	*issued = NULL;
	if (extra != NULL)
		*extra = NULL;
	if (env == NULL || out == NULL) {
		err = IMSS_ERR_NOMEM;
		goto out;
	}
	if (d2i_CMS_ContentInfo(&env, &p, (long)reply->envelope_len) == NULL ||
	    OBJ_obj2nid(CMS_get0_type(env)) != NID_pkcs7_enveloped) {
		err = ctx_fail(ctx, IMSS_ERR_PROTOCOL,
		               _("The SCEP server's answer holds no encrypted certificate; it was refused."));
		goto out;
	}
	legacy = legacy_ciphers(ctx);
	if (CMS_decrypt(env, signer->key, signer->cert, NULL, out, CMS_BINARY) != 1) {
		if (imss_ctx_detail(ctx)[0] == '\0')
			ctx_fail_openssl(ctx,
			                 _("the SCEP server's answer cannot be decrypted with the current key"));
		err = IMSS_ERR_CRYPTO;
		goto out;
	}
	BIO_get_mem_ptr(out, &plain);
	err = certs_for_key(ctx, plain, X509_REQ_get0_pubkey(req), issued, extra);
out:
	OSSL_PROVIDER_unload(legacy);
	BIO_free(out);
	CMS_ContentInfo_free(env);
	ERR_clear_error();
	return err;
}

/* ---- one exchange, and the loop -------------------------------------- */

/* The envelope's content: the request, or for CertPoll who asks what. */
static imss_err
message_content(struct scep_client *c, enum scep_message_type type, X509_REQ *req,
                unsigned char **der, int *len)
{
	SCEP_ISSUER_AND_SUBJECT ias;

	*der = NULL;
	if (type != SCEP_CERT_POLL)
		*len = i2d_X509_REQ(req, der);
	else {
		ias.issuer = X509_get_subject_name(c->recipient);
		ias.subject = X509_REQ_get_subject_name(req);
		if (X509_check_ca(c->recipient) == 0 && sk_X509_num(c->ca_certs) > 1)
			ias.issuer = X509_get_issuer_name(c->recipient);
		*len = ASN1_item_i2d((ASN1_VALUE *)&ias, der,
		                     ASN1_ITEM_rptr(SCEP_ISSUER_AND_SUBJECT));
	}
	return *len > 0 ? IMSS_OK : ctx_fail_openssl(c->ctx, "scep: message content");
}

static imss_err
exchange(struct scep_client *c, const struct scep_signer *signer, X509_REQ *req,
         const struct scep_message *m, struct scep_reply *reply)
{
	struct scep_expect expect = { m->transaction_id, m->sender_nonce };
	unsigned char *content = NULL, *env = NULL, *msg = NULL;
	struct http_response resp = { 0 };
	int content_len = 0, env_len = 0, msg_len = 0;
	imss_err err;

	err = message_content(c, m->type, req, &content, &content_len);
	if (err == IMSS_OK)
		err = envelope_for(c, content, (size_t)content_len, &env, &env_len);
	if (err == IMSS_OK)
		err = pki_message(c, signer, m, env, env_len, &msg, &msg_len);
	if (err == IMSS_OK)
		err = send_pki_message(c, msg, msg_len, &resp);
	if (err != IMSS_OK)
		goto out;
	if (resp.status != 200) {
		err = ctx_fail(c->ctx, IMSS_ERR_SERVICE,
		               _("The SCEP server refused the request (HTTP %ld). Its log says why; a server that allows no renewal this early says so there."),
		               resp.status);
		goto out;
	}
	err = scep_parse_cert_rep(c->ctx, resp.body, resp.len, &expect, c->trusted, c->ca_certs,
	                          reply);
out:
	http_response_clear(&resp);
	OPENSSL_free(content);
	OPENSSL_free(env);
	OPENSSL_free(msg);
	return err;
}

/* Send m's kind of message until the answer is not PENDING or the
 * deadline passes. */
static imss_err
until_issued(struct scep_client *c, const struct scep_signer *signer, X509_REQ *req,
             struct scep_message *m, time_t deadline, X509 **issued, STACK_OF(X509) * *extra)
{
	struct scep_reply reply = { 0 };
	imss_err err;

	for (;;) {
		if (RAND_bytes(m->sender_nonce, SCEP_NONCE_LEN) != 1)
			return ctx_fail_openssl(c->ctx, "RAND_bytes");
		err = exchange(c, signer, req, m, &reply);
		if (err != IMSS_OK || reply.status != SCEP_PENDING)
			break;
		scep_reply_clear(&reply);
		if (deadline == 0 || time(NULL) + SCEP_POLL_SECONDS > deadline)
			return ctx_fail(c->ctx, IMSS_ERR_PENDING,
			                _("The SCEP server has not issued the certificate yet (PENDING, transaction %s). Run the same command again later: it asks for it again."),
			                m->transaction_id);
		ctx_log(c->ctx, IMSS_LOG_INFO,
		        _("the CA has not issued the certificate yet; asking again in %d s"),
		        SCEP_POLL_SECONDS);
		sleep(SCEP_POLL_SECONDS);
		m->type = SCEP_CERT_POLL;
	}
	if (err == IMSS_OK && reply.status == SCEP_FAILURE)
		err = ctx_fail(c->ctx, IMSS_ERR_SERVICE,
		               _("The SCEP server refused the request: %s."),
		               scep_fail_info_text(reply.fail_info));
	if (err == IMSS_OK)
		err = scep_open_envelope(c->ctx, &reply, signer, req, issued, extra);
	scep_reply_clear(&reply);
	return err;
}

imss_err
scep_enroll(struct scep_client *c, const struct scep_signer *signer, X509_REQ *req, int renewal,
            const char *transaction_id, time_t deadline, X509 **issued, STACK_OF(X509) * *extra)
{
	struct scep_message m = { SCEP_PKCS_REQ, transaction_id, { 0 } };
	imss_err err = scep_check_signer(c->ctx, signer);

	*issued = NULL;
	if (err != IMSS_OK)
		return err;
	if (renewal && (c->caps & SCEP_CAP_RENEWAL))
		m.type = SCEP_RENEWAL_REQ;
	return until_issued(c, signer, req, &m, deadline, issued, extra);
}

imss_err
scep_poll(struct scep_client *c, const struct scep_signer *signer, X509_REQ *req,
          const char *transaction_id, time_t deadline, X509 **issued, STACK_OF(X509) * *extra)
{
	struct scep_message m = { SCEP_CERT_POLL, transaction_id, { 0 } };
	imss_err err = scep_check_signer(c->ctx, signer);

	*issued = NULL;
	if (err != IMSS_OK)
		return err;
	return until_issued(c, signer, req, &m, deadline, issued, extra);
}

/* ---- the engine's connector (enroll.h) ------------------------------- */

/*
 * A resumed transaction is asked for first (CertPoll): a CA that knows it
 * answers with its status.  A CA that does not poll (micromdm's answers
 * HTTP 500) or does not know the transaction (FAILURE) is sent the same
 * request again, under the same transactionID (RFC 8894 3.3.3).
 */
static imss_err
enroll_resumed(struct scep_client *c, const struct scep_signer *signer,
               const struct enroll_request *req, time_t deadline, X509 **issued)
{
	imss_err err = scep_poll(c, signer, req->request, req->transaction, deadline, issued, NULL);

	if (err != IMSS_ERR_SERVICE)
		return err;
	ctx_log(c->ctx, IMSS_LOG_INFO,
	        _("the CA does not answer for transaction %s; sending the request again"),
	        req->transaction);
	return scep_enroll(c, signer, req->request, 1, req->transaction, deadline, issued, NULL);
}

imss_err
enroll_scep(imss_ctx *ctx, const struct enroll_request *req, struct enroll_result *out)
{
	struct scep_signer signer = { req->current_cert, req->current_key };
	time_t deadline = time(NULL) + (req->timeout > 0 ? req->timeout : 0);
	struct scep_client *c = NULL;
	X509 *issued = NULL;
	imss_err err;

	memset(out, 0, sizeof(*out));
	err = scep_check_signer(ctx, &signer);
	if (err == IMSS_OK)
		err = scep_client_new(ctx, req->http, req->ca, &c);
	if (err == IMSS_OK)
		err = req->resumed ? enroll_resumed(c, &signer, req, deadline, &issued)
		                   : scep_enroll(c, &signer, req->request, 1, req->transaction,
		                                 deadline, &issued, NULL);
	if (err == IMSS_ERR_PENDING) { /* the engine journals it and says so */
		out->pending = 1;
		err = IMSS_OK;
	} else if (err == IMSS_OK) {
		out->cert = issued;
		issued = NULL;
	}
	X509_free(issued);
	scep_client_free(c);
	return err;
}
