/*
 * Certificate objects: store one next to its key (checked against the
 * key, stored once, read back), and delete an object only once it is known
 * to be the one meant.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "token-internal.h"

/* DER of the certificate's subject, issuer and serial, for the object. */
struct cert_names {
	unsigned char *subject, *issuer, *serial;
	int subject_len, issuer_len, serial_len;
};

static void
cert_names_free(struct cert_names *c)
{
	OPENSSL_free(c->subject);
	OPENSSL_free(c->issuer);
	OPENSSL_free(c->serial);
}

static int
cert_names_get(X509 *x, struct cert_names *c)
{
	memset(c, 0, sizeof(*c));
	c->subject_len = i2d_X509_NAME(X509_get_subject_name(x), &c->subject);
	c->issuer_len = i2d_X509_NAME(X509_get_issuer_name(x), &c->issuer);
	c->serial_len = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &c->serial);
	return c->subject_len > 0 && c->issuer_len > 0 && c->serial_len > 0;
}

static imss_err
parse_certificate(imss_ctx *ctx, const unsigned char *der, size_t len, X509 **out)
{
	const unsigned char *p = der;

	*out = d2i_X509(NULL, &p, (long)len);
	if (*out == NULL || p != der + len) {
		X509_free(*out);
		*out = NULL;
		return ctx_fail(ctx, IMSS_ERR_INVALID_ARG,
		                _("The certificate is not a single well-formed DER X.509 certificate."));
	}
	return IMSS_OK;
}

/* Is this exact certificate already on the token?  Its handle if so. */
static imss_err
certificate_present(imss_token *tok, const unsigned char *der, size_t len, CK_OBJECT_HANDLE *h,
                    int *present)
{
	CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &klass, sizeof(klass) },
		{ CKA_VALUE, (void *)der, len },
	};
	CK_ULONG count = 0;
	imss_err err;

	err = token_find(tok, tmpl, 2, h, 1, &count);
	*present = count > 0;
	return err;
}

/* Read CKA_VALUE back and compare it with what was written. */
imss_err
token_certificate_read_back(imss_token *tok, CK_OBJECT_HANDLE h, const unsigned char *der, size_t len)
{
	unsigned char *buf = malloc(len);
	CK_ATTRIBUTE v = { CKA_VALUE, buf, len };
	imss_err err;

	if (buf == NULL)
		return IMSS_ERR_NOMEM;
	err = token_get_fixed(tok, h, &v, 1);
	if (err == IMSS_OK && (v.ulValueLen != len || memcmp(buf, der, len) != 0))
		err = ctx_fail(tok->ctx, IMSS_ERR_VERIFY,
		               _("The certificate read back from the token differs from the one written."));
	free(buf);
	return err;
}

/* C_CreateObject refused a certificate: say what such a token cannot do,
 * and what it still can. */
static imss_err
certificate_refused(imss_token *tok, CK_RV rv)
{
	imss_err err = token_fail(tok, "C_CreateObject", rv);

	if (rv == CKR_TOKEN_WRITE_PROTECTED)
		ctx_append_detail(tok->ctx,
		                  _(". Token '%s' is write-protected: it stores no certificate and no new key. Its keys still sign and its certificates can still be exported; keep the new certificate as a file, or use another token."),
		                  tok->info.label);
	else if (rv == CKR_FUNCTION_NOT_SUPPORTED || rv == CKR_TEMPLATE_INCONSISTENT ||
	         rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_VALUE_INVALID ||
	         rv == CKR_ATTRIBUTE_READ_ONLY)
		ctx_append_detail(tok->ctx,
		                  _(". Token '%s' does not store certificates written by other programs (a pre-personalized or read-only card): write it with the card's own tool, or keep the certificate as a file. Its keys still sign."),
		                  tok->info.label);
	return err;
}

imss_err
token_certificate_create(imss_token *tok, const unsigned char *id, size_t id_len, X509 *x,
                         const unsigned char *der, size_t len, const char *label, CK_OBJECT_HANDLE *h)
{
	CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ctype = CKC_X_509;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	struct cert_names names;
	imss_err err = IMSS_OK;
	CK_RV rv;

	if (!cert_names_get(x, &names)) {
		cert_names_free(&names);
		return ctx_fail_openssl(tok->ctx, _("certificate names"));
	}
	{
		CK_ATTRIBUTE tmpl[] = {
			{ CKA_CLASS, &klass, sizeof(klass) },
			{ CKA_CERTIFICATE_TYPE, &ctype, sizeof(ctype) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &no, sizeof(no) },
			{ CKA_LABEL, (void *)label, strlen(label) },
			{ CKA_ID, (void *)id, id_len },
			{ CKA_SUBJECT, names.subject, (CK_ULONG)names.subject_len },
			{ CKA_ISSUER, names.issuer, (CK_ULONG)names.issuer_len },
			{ CKA_SERIAL_NUMBER, names.serial, (CK_ULONG)names.serial_len },
			{ CKA_VALUE, (void *)der, len },
		};

		rv = tok->f->C_CreateObject(tok->session, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), h);
		if (rv != CKR_OK)
			err = certificate_refused(tok, rv);
	}
	cert_names_free(&names);
	return err;
}

imss_err
imss_token_store_certificate(imss_token *tok, const imss_key *key, const unsigned char *der,
                             size_t len, const char *label, char **uri_out)
{
	return token_store_certificate_ex(tok, key, der, len, label, 0, uri_out);
}

imss_err
token_store_certificate_ex(imss_token *tok, const imss_key *key, const unsigned char *der,
                           size_t len, const char *label, unsigned flags, char **uri_out)
{
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	X509 *x = NULL;
	int present = 0;
	imss_err err;

	if (uri_out != NULL)
		*uri_out = NULL;
	ctx_clear_detail(tok->ctx);
	if (label == NULL)
		label = key->label;
	err = parse_certificate(tok->ctx, der, len, &x);
	if (err != IMSS_OK)
		goto out;
	if (EVP_PKEY_eq(X509_get0_pubkey(x), key->pub) != 1) {
		err = ctx_fail(tok->ctx, IMSS_ERR_MISMATCH,
		               _("The certificate is for another key than '%s'; the token was not changed."),
		               key->label);
		goto out;
	}
	if (!(flags & TOKEN_STORE_NEW))
		err = certificate_present(tok, der, len, &h, &present);
	if (err != IMSS_OK || present)
		goto out;
	if ((flags & TOKEN_STORE_ONE_PER_KEY) && !(flags & TOKEN_STORE_NEW)) {
		int beside = 0;

		err = token_certificate_beside(tok, key->id, key->id_len, key->pub, &beside);
		if (err == IMSS_OK && beside)
			err = ctx_fail(tok->ctx, IMSS_ERR_REFUSED_CERT,
			               _("The key '%s' already has another certificate on the token; the one received was not stored, so that the key keeps the certificate it was issued. List them with the objects command."),
			               key->label);
		if (err != IMSS_OK)
			goto out;
	}
	err = token_certificate_create(tok, key->id, key->id_len, x, der, len, label, &h);
	if (err != IMSS_OK)
		goto out;
	err = token_certificate_read_back(tok, h, der, len);
	if (err != IMSS_OK && tok->session != CK_INVALID_HANDLE)
		tok->f->C_DestroyObject(tok->session, h);
out:
	if (err == IMSS_OK && uri_out != NULL) {
		*uri_out = object_uri(tok, CKO_CERTIFICATE, key->id, key->id_len, label);
		if (*uri_out == NULL)
			err = IMSS_ERR_NOMEM;
	}
	X509_free(x);
	return err;
}

imss_err
imss_token_delete_object(imss_token *tok, const char *uri, EVP_PKEY *expected)
{
	CK_OBJECT_HANDLE h;
	EVP_PKEY *actual = NULL;
	imss_err err;
	CK_RV rv;

	ctx_clear_detail(tok->ctx);
	if (expected == NULL)
		return ctx_fail(tok->ctx, IMSS_ERR_INVALID_ARG,
		                _("Refusing to delete without the public key to check against."));
	err = token_find_one(tok, uri, (CK_OBJECT_CLASS)-1, &h);
	if (err != IMSS_OK)
		return err;
	err = object_public_key(tok, h, &actual);
	if (err != IMSS_OK)
		return err;
	if (EVP_PKEY_eq(actual, expected) != 1) {
		EVP_PKEY_free(actual);
		return ctx_fail(tok->ctx, IMSS_ERR_MISMATCH,
		                _("'%s' holds another public key than expected; nothing was deleted."),
		                uri);
	}
	EVP_PKEY_free(actual);
	rv = tok->f->C_DestroyObject(tok->session, h);
	if (rv != CKR_OK)
		return token_fail(tok, "C_DestroyObject", rv);
	return IMSS_OK;
}

/* The certificate object h as an X509 into *(X509 **)out: the
 * token_object_reader of imss_token_find_certificate(). */
static imss_err
certificate_value(imss_token *tok, CK_OBJECT_HANDLE h, void *out)
{
	CK_ATTRIBUTE v = { CKA_VALUE, NULL, 0 };
	X509 **cert = out;
	const unsigned char *p;
	imss_err err;

	*cert = NULL;
	err = token_get_attrs(tok, h, &v, 1);
	if (err != IMSS_OK)
		return err;
	p = v.pValue;
	if (p != NULL)
		*cert = d2i_X509(NULL, &p, (long)v.ulValueLen);
	attrs_free_values(&v, 1);
	if (*cert == NULL)
		return ctx_fail(tok->ctx, IMSS_ERR_FORMAT,
		                _("A certificate object on token '%s' holds no valid X.509 certificate."),
		                tok->info.label);
	return IMSS_OK;
}

imss_err
imss_token_find_certificate(imss_token *tok, const char *uri, X509 **out)
{
	*out = NULL;
	return token_find_read(tok, uri, CKO_CERTIFICATE, certificate_value, out);
}

static void
token_cert_clear(imss_token_cert *c)
{
	STR_FREE_EACH(c->uri, c->key_uri);
	X509_free(c->cert);
}

void
imss_token_cert_free(imss_token_cert *certs, size_t count)
{
	ARRAY_FREE_EACH(certs, count, token_cert_clear);
}

/* The URI of the private key with this ID, if the session can see one. */
/*
 * The private keys' IDs and labels, read once for a listing (a search and
 * one C_GetAttributeValue per key) instead of a search per certificate.
 */
struct key_names {
	CK_ATTRIBUTE (*attrs)[2]; /* CKA_ID, CKA_LABEL of each key */
	CK_ULONG n;
};

static void
key_names_free(struct key_names *k)
{
	CK_ULONG i;

	for (i = 0; k->attrs && i < k->n; i++)
		attrs_free_values(k->attrs[i], 2);
	free(k->attrs);
}

static imss_err
key_names_read(imss_token *tok, struct key_names *k)
{
	CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl = { CKA_CLASS, &klass, sizeof(klass) };
	CK_OBJECT_HANDLE *found = NULL;
	CK_ULONG n = 0;
	imss_err err;

	memset(k, 0, sizeof(*k));
	err = token_find_all(tok, &tmpl, 1, &found, &n);
	if (err == IMSS_OK && (k->attrs = calloc(n ? n : 1, sizeof(*k->attrs))) == NULL)
		err = IMSS_ERR_NOMEM;
	for (; err == IMSS_OK && k->n < n; k->n++) {
		k->attrs[k->n][0] = (CK_ATTRIBUTE){ CKA_ID, NULL, 0 };
		k->attrs[k->n][1] = (CK_ATTRIBUTE){ CKA_LABEL, NULL, 0 };
		err = token_get_attrs(tok, found[k->n], k->attrs[k->n], 2);
	}
	free(found);
	return err;
}

/* The URI of the first private key whose ID is id, or *uri NULL. */
static imss_err
key_uri_for_id(imss_token *tok, const struct key_names *k, const CK_ATTRIBUTE *id, char **uri)
{
	const CK_ATTRIBUTE *kid, *label;
	char *text;
	CK_ULONG i;

	*uri = NULL;
	for (i = 0; i < k->n; i++) {
		kid = &k->attrs[i][0];
		if (kid->pValue != NULL && kid->ulValueLen == id->ulValueLen &&
		    memcmp(kid->pValue, id->pValue, id->ulValueLen) == 0)
			break;
	}
	if (i == k->n)
		return IMSS_OK;
	label = &k->attrs[i][1];
	text = label->pValue ? strndup(label->pValue, label->ulValueLen) : strdup("");
	if (text == NULL)
		return IMSS_ERR_NOMEM;
	*uri = object_uri(tok, CKO_PRIVATE_KEY, id->pValue, id->ulValueLen, text);
	free(text);
	return *uri ? IMSS_OK : IMSS_ERR_NOMEM;
}

/* One certificate object: its value, ID and label in one call. */
static imss_err
describe_certificate(imss_token *tok, CK_OBJECT_HANDLE h, const struct key_names *keys,
                     imss_token_cert *c)
{
	CK_ATTRIBUTE attrs[] = { { CKA_VALUE, NULL, 0 }, { CKA_ID, NULL, 0 }, { CKA_LABEL, NULL, 0 } };
	CK_ATTRIBUTE *id = &attrs[1], *label = &attrs[2];
	const unsigned char *p;
	char *text = NULL;
	imss_err err;

	memset(c, 0, sizeof(*c));
	err = token_get_attrs(tok, h, attrs, 3);
	if (err != IMSS_OK)
		return err;
	p = attrs[0].pValue;
	if (p != NULL)
		c->cert = d2i_X509(NULL, &p, (long)attrs[0].ulValueLen);
	if (c->cert == NULL)
		err = ctx_fail(tok->ctx, IMSS_ERR_FORMAT,
		               _("A certificate object on token '%s' holds no valid X.509 certificate."),
		               tok->info.label);
	if (err == IMSS_OK) {
		text = label->pValue ? strndup(label->pValue, label->ulValueLen) : strdup("");
		c->uri = text ? object_uri(tok, CKO_CERTIFICATE, id->pValue,
		                           id->pValue ? id->ulValueLen : 0, text)
		              : NULL;
		if (c->uri == NULL)
			err = IMSS_ERR_NOMEM;
	}
	free(text);
	c->key_known = tok->logged_in;
	if (err == IMSS_OK && id->pValue != NULL && tok->logged_in)
		err = key_uri_for_id(tok, keys, id, &c->key_uri);
	attrs_free_values(attrs, 3);
	return err;
}

imss_err
imss_token_list_certificates(imss_token *tok, imss_token_cert **out, size_t *count)
{
	CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ctype = CKC_X_509;
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &klass, sizeof(klass) },
		                { CKA_CERTIFICATE_TYPE, &ctype, sizeof(ctype) } };
	struct key_names keys = { NULL, 0 };
	CK_OBJECT_HANDLE *found = NULL;
	imss_token_cert *certs = NULL;
	CK_ULONG n = 0, i;
	imss_err err;

	*out = NULL;
	*count = 0;
	ctx_clear_detail(tok->ctx);
	/* Every one: a despacho's token holds hundreds (a fixed 256 cut the
	 * list short, and an employer's newest certificate with it). */
	err = token_find_all(tok, tmpl, 2, &found, &n);
	if (err == IMSS_OK && tok->logged_in)
		err = key_names_read(tok, &keys);
	if (err == IMSS_OK && (certs = calloc(n ? n : 1, sizeof(*certs))) == NULL)
		err = IMSS_ERR_NOMEM;
	for (i = 0; i < n && err == IMSS_OK; i++)
		err = describe_certificate(tok, found[i], &keys, &certs[i]);
	free(found);
	key_names_free(&keys);
	if (err != IMSS_OK) {
		imss_token_cert_free(certs, n);
		return err;
	}
	*out = certs;
	*count = n;
	return IMSS_OK;
}

/* Compare every private key's public half with pub. */
static imss_err
scan_keys_for(imss_token *tok, EVP_PKEY *pub, CK_OBJECT_HANDLE *match, int *found)
{
	CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl = { CKA_CLASS, &klass, sizeof(klass) };
	CK_OBJECT_HANDLE keys[256];
	CK_ULONG n = 0, i;
	imss_err err;

	*found = 0;
	err = token_find(tok, &tmpl, 1, keys, 256, &n);
	for (i = 0; err == IMSS_OK && i < n && !*found; i++) {
		EVP_PKEY *k = NULL;
		imss_err got = object_public_key(tok, keys[i], &k);

		if (got == IMSS_OK)
			*found = EVP_PKEY_eq(k, pub) == 1;
		else if (got == IMSS_ERR_NO_OBJECT) /* an EC key that keeps no public key */
			err = token_key_proves(tok, keys[i], pub, found);
		if (*found)
			*match = keys[i];
		EVP_PKEY_free(k);
	}
	ctx_clear_detail(tok->ctx);
	return err;
}

imss_err
imss_token_find_key_for(imss_token *tok, EVP_PKEY *pub, imss_key **out)
{
	CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
	unsigned char ski[20];
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &klass, sizeof(klass) }, { CKA_ID, ski, sizeof(ski) } };
	CK_OBJECT_HANDLE h;
	CK_ULONG count = 0;
	imss_key *key = NULL;
	int found = 0;
	imss_err err;

	*out = NULL;
	ctx_clear_detail(tok->ctx);
	if (!tok->logged_in)
		return ctx_fail(tok->ctx, IMSS_ERR_NOT_LOGGED_IN,
		                _("Log in to the token to look for the private key."));
	err = pubkey_key_identifier(pub, ski);
	if (err == IMSS_OK)
		err = token_find(tok, tmpl, 2, &h, 1, &count);
	if (err == IMSS_OK && count == 1) {
		err = key_from_handle(tok, h, &key);
		if (err == IMSS_OK && EVP_PKEY_eq(key->pub, pub) == 1) {
			*out = key;
			return IMSS_OK;
		}
		imss_key_free(key);
		if (err == IMSS_ERR_NO_OBJECT) { /* its public half is not on the token */
			ctx_clear_detail(tok->ctx);
			err = IMSS_OK;
		}
		if (err != IMSS_OK)
			return err;
	}
	if (err == IMSS_OK)
		err = scan_keys_for(tok, pub, &h, &found);
	if (err != IMSS_OK)
		return err;
	if (!found)
		return ctx_fail(tok->ctx, IMSS_ERR_NO_OBJECT,
		                _("Token '%s' holds no private key for this public key."),
		                tok->info.label);
	return key_from_handle_with(tok, h, pub, out);
}

imss_err
token_relabel_id(imss_token *tok, const unsigned char *id, size_t id_len, const char *label,
                 unsigned *count)
{
	CK_ATTRIBUTE tmpl = { CKA_ID, (void *)id, id_len };
	CK_ATTRIBUTE set = { CKA_LABEL, (void *)label, strlen(label) };
	CK_OBJECT_HANDLE found[8];
	CK_ULONG n = 0, i;
	imss_err err;
	CK_RV rv;

	*count = 0;
	err = token_find(tok, &tmpl, 1, found, 8, &n);
	for (i = 0; err == IMSS_OK && i < n; i++) {
		rv = tok->f->C_SetAttributeValue(tok->session, found[i], &set, 1);
		if (rv != CKR_OK)
			err = token_fail(tok, "C_SetAttributeValue", rv);
		else
			(*count)++;
	}
	return err;
}

/* One certificate object: does it carry id, or certify pub? */
static imss_err
certificate_matches(imss_token *tok, CK_OBJECT_HANDLE h, const unsigned char *id, size_t id_len,
                    const EVP_PKEY *pub, int *match)
{
	CK_ATTRIBUTE attrs[] = { { CKA_ID, NULL, 0 }, { CKA_VALUE, NULL, 0 } };
	CK_ATTRIBUTE *a;
	X509 *x = NULL;
	imss_err err;

	*match = 0;
	err = token_get_attrs(tok, h, attrs, 2);
	if (err != IMSS_OK)
		return err;
	a = attrs_find(attrs, 2, CKA_ID);
	if (a != NULL && id_len > 0 && a->ulValueLen == id_len && memcmp(a->pValue, id, id_len) == 0)
		*match = 1;
	a = attrs_find(attrs, 2, CKA_VALUE);
	if (!*match && a != NULL) {
		const unsigned char *p = a->pValue;

		x = d2i_X509(NULL, &p, (long)a->ulValueLen);
		*match = x != NULL && EVP_PKEY_eq(X509_get0_pubkey(x), pub) == 1;
	}
	X509_free(x);
	attrs_free_values(attrs, 2);
	return IMSS_OK;
}

imss_err
token_certificate_beside(imss_token *tok, const unsigned char *id, size_t id_len,
                         const EVP_PKEY *pub, int *beside)
{
	CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
	CK_ATTRIBUTE tmpl = { CKA_CLASS, &klass, sizeof(klass) };
	CK_OBJECT_HANDLE *found = NULL;
	CK_ULONG n = 0, i;
	imss_err err;

	*beside = 0;
	err = token_find_all(tok, &tmpl, 1, &found, &n);
	for (i = 0; err == IMSS_OK && i < n && !*beside; i++)
		err = certificate_matches(tok, found[i], id, id_len, pub, beside);
	free(found);
	return err;
}
