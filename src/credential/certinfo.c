/*
 * Certificates in files and what users want to know of them: who (razon
 * social, registro patronal, RFC, CURP), which serial, until when.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "credential.h"

/* No certificate, key or .pfx file is this large: a bigger one (or
 * /dev/zero named x.cer) is refused rather than read into memory. */
#define CERT_FILE_MAX (8 << 20)

imss_err
file_to_bio(imss_ctx *ctx, const char *path, BIO **out)
{
	BIO *in = BIO_new_file(path, "rb");
	BIO *mem = BIO_new(BIO_s_mem());
	char buf[4096];
	size_t total = 0;
	int n;

	*out = NULL;
	if (in == NULL || mem == NULL) {
		BIO_free(in);
		BIO_free(mem);
		ERR_clear_error();
		return ctx_fail(ctx, IMSS_ERR_IO, _("Cannot open '%s'."), path);
	}
	/* Reset rewinds (a plain memory BIO would be emptied): the bytes
	 * are parsed in several formats in turn. */
	BIO_set_flags(mem, BIO_FLAGS_NONCLEAR_RST);
	while ((n = BIO_read(in, buf, sizeof(buf))) > 0 && total <= CERT_FILE_MAX) {
		total += (size_t)n;
		BIO_write(mem, buf, n);
	}
	BIO_free(in);
	if (total > CERT_FILE_MAX) {
		BIO_free(mem);
		return ctx_fail(ctx, IMSS_ERR_FORMAT,
		                _("'%s' is larger than %d MiB: it is no certificate file; it was not read."),
		                path, CERT_FILE_MAX >> 20);
	}
	*out = mem;
	return IMSS_OK;
}

static int
push_pkcs7_certs(STACK_OF(X509) * out, PKCS7 *p7)
{
	STACK_OF(X509) *certs = NULL;
	int i;

	if (p7 == NULL)
		return 0;
	if (PKCS7_type_is_signed(p7) && p7->d.sign != NULL)
		certs = p7->d.sign->cert;
	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		if (!X509_up_ref(x) || !sk_X509_push(out, x))
			return 0;
	}
	return sk_X509_num(out) > 0;
}

/* Try each format in turn on the same bytes. */
static int
parse_certs(BIO *mem, STACK_OF(X509) * out)
{
	const unsigned char *p;
	char *data;
	long len = BIO_get_mem_data(mem, &data);
	X509 *x;
	PKCS7 *p7;
	int ok;

	p = (const unsigned char *)data;
	x = d2i_X509(NULL, &p, len);
	if (x != NULL && p == (const unsigned char *)data + len)
		return sk_X509_push(out, x) > 0;
	X509_free(x);
	p = (const unsigned char *)data;
	p7 = d2i_PKCS7(NULL, &p, len);
	ok = push_pkcs7_certs(out, p7);
	PKCS7_free(p7);
	if (ok)
		return 1;
	(void)BIO_reset(mem);
	while ((x = PEM_read_bio_X509(mem, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(out, x)) {
			X509_free(x);
			return 0;
		}
	if (sk_X509_num(out) > 0)
		return 1;
	(void)BIO_reset(mem);
	p7 = PEM_read_bio_PKCS7(mem, NULL, NULL, NULL);
	ok = push_pkcs7_certs(out, p7);
	PKCS7_free(p7);
	return ok;
}

imss_err
imss_certs_load(imss_ctx *ctx, const char *path, STACK_OF(X509) * *out)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	BIO *mem = NULL;
	imss_err err;

	*out = NULL;
	ctx_clear_detail(ctx);
	if (certs == NULL)
		return IMSS_ERR_NOMEM;
	err = file_to_bio(ctx, path, &mem);
	if (err == IMSS_OK && !parse_certs(mem, certs))
		err = ctx_fail(ctx, IMSS_ERR_FORMAT,
		               _("'%s' holds no certificate (DER, PEM or PKCS#7 expected)."), path);
	BIO_free(mem);
	ERR_clear_error();
	if (err != IMSS_OK) {
		sk_X509_pop_free(certs, X509_free);
		return err;
	}
	*out = certs;
	return IMSS_OK;
}

static char *
name_entry(const X509_NAME *name, int nid)
{
	int i = X509_NAME_get_index_by_NID(name, nid, -1);
	unsigned char *utf8 = NULL;
	char *s;
	int len;

	if (i < 0)
		return NULL;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	if (len < 0)
		return NULL;
	/* Printed and compared: no escape sequence reaches a terminal, and a
	 * NUL does not cut "Y1234567108\0..." to a registro patronal. */
	s = str_text_dup((char *)utf8, (size_t)len);
	OPENSSL_free(utf8);
	return s;
}

static char *
name_text(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *s = NULL;
	long len;

	if (b == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		len = BIO_get_mem_data(b, &data);
		s = str_text_dup(data, (size_t)len);
	}
	BIO_free(b);
	return s;
}

static long long
asn1_time_epoch(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (long long)timegm(&tm);
}

static char *
serial_hex(X509 *cert)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	char *s = hex ? strdup(hex) : NULL;

	OPENSSL_free(hex);
	BN_free(bn);
	return s;
}

void
imss_cert_info_clear(imss_cert_info *i)
{
	if (i == NULL)
		return;
	STR_FREE_EACH(i->subject, i->issuer, i->serial, i->razon_social, i->registro_patronal,
	              i->rfc, i->curp, i->email, i->fingerprint);
	memset(i, 0, sizeof(*i));
}

imss_err
imss_cert_describe(X509 *cert, imss_cert_info *out)
{
	const X509_NAME *subj = X509_get_subject_name(cert);
	unsigned char md[32];
	unsigned int mdlen = 0;
	long long now = (long long)time(NULL);

	memset(out, 0, sizeof(*out));
	out->subject = name_text(subj);
	out->issuer = name_text(X509_get_issuer_name(cert));
	out->serial = serial_hex(cert);
	out->razon_social = name_entry(subj, NID_organizationName);
	out->registro_patronal = name_entry(subj, NID_organizationalUnitName);
	out->rfc = name_entry(subj, NID_x500UniqueIdentifier);
	out->curp = name_entry(subj, NID_serialNumber);
	out->email = name_entry(subj, NID_pkcs9_emailAddress);
	if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1)
		out->fingerprint = hex_encode(md, mdlen);
	out->not_before = asn1_time_epoch(X509_get0_notBefore(cert));
	out->not_after = asn1_time_epoch(X509_get0_notAfter(cert));
	out->expired = now > out->not_after;
	out->not_yet_valid = now < out->not_before;
	/* Whole days left, or (negative) whole days since expiry. */
	out->days_left = (long)((out->not_after - now) / 86400);
	if (!out->subject || !out->issuer || !out->serial || !out->fingerprint) {
		imss_cert_info_clear(out);
		return IMSS_ERR_NOMEM;
	}
	return IMSS_OK;
}

/* One "type=value" of a subject; value unescaped in place. */
static int
subject_add(X509_NAME *name, char *field)
{
	char *eq = strchr(field, '='), *r, *w;

	if (eq == NULL || eq == field || eq[1] == '\0')
		return 0;
	*eq = '\0';
	for (r = w = eq + 1; *r; r++) {
		if (*r == '\\' && r[1] != '\0')
			r++;
		*w++ = *r;
	}
	*w = '\0';
	return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, (unsigned char *)eq + 1, -1,
	                                  -1, 0) == 1;
}

imss_err
imss_subject_parse(const char *text, X509_NAME **out)
{
	X509_NAME *name = NULL;
	char *copy = NULL, *p, *start;
	imss_err err = IMSS_ERR_INVALID_ARG;

	*out = NULL;
	if (text == NULL || text[0] != '/' || (copy = strdup(text)) == NULL ||
	    (name = X509_NAME_new()) == NULL)
		goto out;
	start = copy + 1;
	for (p = start;; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (*p != '/' && *p != '\0')
			continue;
		{
			char end = *p;

			*p = '\0';
			if (!subject_add(name, start))
				goto out;
			if (end == '\0')
				break;
			start = p + 1;
		}
	}
	*out = name;
	name = NULL;
	err = IMSS_OK;
out:
	ERR_clear_error();
	X509_NAME_free(name);
	free(copy);
	return err;
}
