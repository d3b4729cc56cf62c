/*
 * Objects on a token: searching, reading attributes, listing, storing a
 * certificate next to its key, and deleting only what was meant.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "token-internal.h"

imss_err
token_find(imss_token *tok, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *found, CK_ULONG max,
           CK_ULONG *count)
{
	CK_RV rv, rv_final;

	*count = 0;
	rv = tok->f->C_FindObjectsInit(tok->session, tmpl, n);
	if (rv != CKR_OK)
		return token_fail(tok, "C_FindObjectsInit", rv);
	rv = tok->f->C_FindObjects(tok->session, found, max, count);
	rv_final = tok->f->C_FindObjectsFinal(tok->session);
	if (rv != CKR_OK)
		return token_fail(tok, "C_FindObjects", rv);
	if (rv_final != CKR_OK)
		return token_fail(tok, "C_FindObjectsFinal", rv_final);
	return IMSS_OK;
}

/* C_GetAttributeValue where "this object has no such attribute" and "the
 * value is secret" are answers, not failures. */
static imss_err
get_attribute_values(imss_token *tok, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *attrs, CK_ULONG n)
{
	CK_RV rv = tok->f->C_GetAttributeValue(tok->session, h, attrs, n);

	if (rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID)
		return IMSS_OK;
	return token_fail(tok, "C_GetAttributeValue", rv);
}

imss_err
token_get_fixed(imss_token *tok, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *attrs, CK_ULONG n)
{
	return get_attribute_values(tok, h, attrs, n);
}

/*
 * Values of unknown size: first one call with buffers that fit what keys
 * and certificates usually hold, and only when one is too small the
 * size query and a second call.  On a smart card every call costs.
 */
#define ATTR_GUESS 4096
#define ATTRS_MAX 32

/*
 * The buffers are ours: a module that writes pValue of an attribute it
 * cannot give (tpm2-pkcs11 does) must not make us lose or free what is not
 * ours.  After each call, an attribute whose pointer changed has no value,
 * and our buffer is freed through our own record of it.
 */
static void
attrs_reclaim(CK_ATTRIBUTE *attrs, void *const *own, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++) {
		if (attrs[i].pValue != own[i]) {
			free(own[i]);
			attrs[i].pValue = NULL;
			attrs[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
		}
	}
}

static void
attrs_record(const CK_ATTRIBUTE *attrs, void **own, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++)
		own[i] = attrs[i].pValue;
}

/* The size query and the second call, when a guessed buffer was too small. */
static imss_err
get_attrs_sized(imss_token *tok, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *attrs, void **own, CK_ULONG n)
{
	CK_ULONG i;
	imss_err err;

	attrs_free_values(attrs, n);
	for (i = 0; i < n; i++)
		attrs[i].ulValueLen = 0;
	attrs_record(attrs, own, n);
	err = get_attribute_values(tok, h, attrs, n);
	attrs_reclaim(attrs, own, n);
	for (i = 0; err == IMSS_OK && i < n; i++) {
		if (attrs[i].ulValueLen == CK_UNAVAILABLE_INFORMATION || attrs[i].ulValueLen == 0)
			continue;
		if ((attrs[i].pValue = malloc(attrs[i].ulValueLen)) == NULL)
			err = IMSS_ERR_NOMEM;
	}
	attrs_record(attrs, own, n);
	if (err == IMSS_OK) {
		err = get_attribute_values(tok, h, attrs, n);
		attrs_reclaim(attrs, own, n);
	}
	return err;
}

imss_err
token_get_attrs(imss_token *tok, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *attrs, CK_ULONG n)
{
	void *own[ATTRS_MAX];
	CK_ULONG i;
	CK_RV rv;
	imss_err err;

	if (n > ATTRS_MAX)
		return IMSS_ERR_INVALID_ARG;
	for (i = 0; i < n; i++) {
		attrs[i].ulValueLen = ATTR_GUESS;
		if ((attrs[i].pValue = malloc(ATTR_GUESS)) == NULL) {
			attrs_free_values(attrs, n);
			return IMSS_ERR_NOMEM;
		}
	}
	attrs_record(attrs, own, n);
	rv = tok->f->C_GetAttributeValue(tok->session, h, attrs, n);
	attrs_reclaim(attrs, own, n);
	if (rv == CKR_BUFFER_TOO_SMALL)
		err = get_attrs_sized(tok, h, attrs, own, n);
	else if (rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID)
		err = IMSS_OK;
	else
		err = token_fail(tok, "C_GetAttributeValue", rv);
	if (err != IMSS_OK) {
		attrs_free_values(attrs, n);
		return err;
	}
	/* What the object lacks has no value, whatever the buffer held. */
	for (i = 0; i < n; i++) {
		if (attrs[i].ulValueLen == CK_UNAVAILABLE_INFORMATION || attrs[i].ulValueLen == 0) {
			free(attrs[i].pValue);
			attrs[i].pValue = NULL;
		}
	}
	return IMSS_OK;
}

void
attrs_free_values(CK_ATTRIBUTE *attrs, CK_ULONG n)
{
	CK_ULONG i;

	for (i = 0; i < n; i++) {
		free(attrs[i].pValue);
		attrs[i].pValue = NULL;
	}
}

CK_ATTRIBUTE *
attrs_find(CK_ATTRIBUTE *attrs, CK_ULONG n, CK_ATTRIBUTE_TYPE t)
{
	CK_ULONG i;

	for (i = 0; i < n; i++)
		if (attrs[i].type == t)
			return attrs[i].pValue != NULL &&
			                       attrs[i].ulValueLen != CK_UNAVAILABLE_INFORMATION
			               ? &attrs[i]
			               : NULL;
	return NULL;
}

int
attr_bool(const CK_ATTRIBUTE *a)
{
	if (a == NULL || a->pValue == NULL || a->ulValueLen != sizeof(CK_BBOOL))
		return -1;
	return *(const CK_BBOOL *)a->pValue ? 1 : 0;
}

char *
object_uri(imss_token *tok, CK_OBJECT_CLASS klass, const unsigned char *id, size_t id_len,
           const char *label)
{
	P11KitUri *uri = p11_kit_uri_new();
	CK_ATTRIBUTE a;
	char *text = NULL;

	if (uri == NULL)
		return NULL;
	if (p11_kit_uri_parse(tok->info.uri, P11_KIT_URI_FOR_TOKEN, uri) != P11_KIT_URI_OK)
		goto out;
	a.type = CKA_CLASS;
	a.pValue = &klass;
	a.ulValueLen = sizeof(klass);
	p11_kit_uri_set_attribute(uri, &a);
	if (id_len > 0) {
		a.type = CKA_ID;
		a.pValue = (void *)id;
		a.ulValueLen = id_len;
		p11_kit_uri_set_attribute(uri, &a);
	}
	if (label != NULL && label[0] != '\0') {
		a.type = CKA_LABEL;
		a.pValue = (void *)label;
		a.ulValueLen = strlen(label);
		p11_kit_uri_set_attribute(uri, &a);
	}
	if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &text) != P11_KIT_URI_OK)
		text = NULL;
out:
	p11_kit_uri_free(uri);
	return text;
}

imss_err
token_id_in_use(imss_token *tok, const unsigned char *id, size_t len, int *in_use)
{
	CK_ATTRIBUTE tmpl = { CKA_ID, (void *)id, len };
	CK_OBJECT_HANDLE h;
	CK_ULONG count = 0;
	imss_err err;

	err = token_find(tok, &tmpl, 1, &h, 1, &count);
	*in_use = count > 0;
	return err;
}

static char *
attr_strdup(const CK_ATTRIBUTE *a)
{
	char *s;

	if (a == NULL)
		return strdup("");
	s = malloc(a->ulValueLen + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, a->pValue, a->ulValueLen);
	s[a->ulValueLen] = '\0';
	return s;
}

static char *
subject_oneline(const CK_ATTRIBUTE *a)
{
	const unsigned char *p;
	X509_NAME *name;
	char *s;

	if (a == NULL)
		return strdup("");
	p = a->pValue;
	name = d2i_X509_NAME(NULL, &p, (long)a->ulValueLen);
	if (name == NULL)
		return strdup("");
	s = X509_NAME_oneline(name, NULL, 0);
	X509_NAME_free(name);
	if (s == NULL)
		return strdup("");
	/* Hand back malloc'd memory, not OpenSSL's. */
	{
		char *copy = strdup(s);

		OPENSSL_free(s);
		return copy;
	}
}

static void
object_info_clear(imss_object_info *o)
{
	STR_FREE_EACH(o->uri, o->id_hex, o->label, o->subject);
	memset(o, 0, sizeof(*o));
}

void
imss_object_info_free(imss_object_info *infos, size_t count)
{
	ARRAY_FREE_EACH(infos, count, object_info_clear);
}

static imss_object_class
class_of(CK_OBJECT_CLASS c)
{
	switch (c) {
	case CKO_PRIVATE_KEY:
		return IMSS_OBJ_PRIVATE_KEY;
	case CKO_PUBLIC_KEY:
		return IMSS_OBJ_PUBLIC_KEY;
	case CKO_CERTIFICATE:
		return IMSS_OBJ_CERTIFICATE;
	default:
		return IMSS_OBJ_OTHER;
	}
}

/* Describe one object. */
static imss_err
object_describe(imss_token *tok, CK_OBJECT_HANDLE h, imss_object_info *o)
{
	CK_ATTRIBUTE attrs[] = {
		{ CKA_CLASS, NULL, 0 },
		{ CKA_KEY_TYPE, NULL, 0 },
		{ CKA_ID, NULL, 0 },
		{ CKA_LABEL, NULL, 0 },
		{ CKA_SUBJECT, NULL, 0 },
		{ CKA_MODULUS, NULL, 0 },
		{ CKA_EC_PARAMS, NULL, 0 },
		{ CKA_SENSITIVE, NULL, 0 },
		{ CKA_EXTRACTABLE, NULL, 0 },
		{ CKA_LOCAL, NULL, 0 },
		{ CKA_NEVER_EXTRACTABLE, NULL, 0 },
		{ CKA_ALWAYS_AUTHENTICATE, NULL, 0 },
	};
	const CK_ULONG n = sizeof(attrs) / sizeof(attrs[0]);
	CK_ATTRIBUTE *a;
	CK_OBJECT_CLASS klass = (CK_OBJECT_CLASS)-1;
	imss_err err;

	memset(o, 0, sizeof(*o));
	err = token_get_attrs(tok, h, attrs, n);
	if (err != IMSS_OK)
		return err;
	if ((a = attrs_find(attrs, n, CKA_CLASS)) && a->ulValueLen == sizeof(klass))
		klass = *(CK_OBJECT_CLASS *)a->pValue;
	o->klass = class_of(klass);
	if ((a = attrs_find(attrs, n, CKA_KEY_TYPE)) && a->ulValueLen == sizeof(CK_KEY_TYPE)) {
		CK_KEY_TYPE kt = *(CK_KEY_TYPE *)a->pValue;

		o->key_kind = kt == CKK_RSA ? IMSS_KEY_RSA : kt == CKK_EC ? IMSS_KEY_EC : 0;
	}
	if ((a = attrs_find(attrs, n, CKA_MODULUS)))
		o->bits = rsa_modulus_bits(a->pValue, a->ulValueLen);
	else if ((a = attrs_find(attrs, n, CKA_EC_PARAMS)))
		o->bits = ec_params_bits(a->pValue, a->ulValueLen);
	a = attrs_find(attrs, n, CKA_ID);
	o->id_hex = a ? hex_encode(a->pValue, a->ulValueLen) : strdup("");
	o->label = attr_strdup(attrs_find(attrs, n, CKA_LABEL));
	o->subject = klass == CKO_CERTIFICATE ? subject_oneline(attrs_find(attrs, n, CKA_SUBJECT))
	                                      : strdup("");
	o->uri = object_uri(tok, klass, a ? a->pValue : NULL, a ? a->ulValueLen : 0, o->label);
	o->sensitive = attr_bool(attrs_find(attrs, n, CKA_SENSITIVE));
	o->extractable = attr_bool(attrs_find(attrs, n, CKA_EXTRACTABLE));
	o->local = attr_bool(attrs_find(attrs, n, CKA_LOCAL));
	o->never_extractable = attr_bool(attrs_find(attrs, n, CKA_NEVER_EXTRACTABLE));
	o->always_authenticate = attr_bool(attrs_find(attrs, n, CKA_ALWAYS_AUTHENTICATE));
	attrs_free_values(attrs, n);
	if (!o->id_hex || !o->label || !o->subject || !o->uri) {
		object_info_clear(o);
		return IMSS_ERR_NOMEM;
	}
	return IMSS_OK;
}

/* Every object handle matching tmpl (n 0: every object visible to the
 * session). */
imss_err
token_find_all(imss_token *tok, CK_ATTRIBUTE *tmpl, CK_ULONG n_tmpl, CK_OBJECT_HANDLE **out,
               CK_ULONG *count)
{
	CK_OBJECT_HANDLE *list = NULL, *grown;
	CK_ULONG n = 0, got = 0;
	imss_err err = IMSS_OK;
	CK_RV rv;

	*out = NULL;
	*count = 0;
	rv = tok->f->C_FindObjectsInit(tok->session, n_tmpl ? tmpl : NULL, n_tmpl);
	if (rv != CKR_OK)
		return token_fail(tok, "C_FindObjectsInit", rv);
	do {
		grown = realloc(list, (n + 64) * sizeof(*list));
		if (grown == NULL) {
			err = IMSS_ERR_NOMEM;
			break;
		}
		list = grown;
		rv = tok->f->C_FindObjects(tok->session, list + n, 64, &got);
		if (rv != CKR_OK) {
			err = token_fail(tok, "C_FindObjects", rv);
			break;
		}
		n += got;
	} while (got == 64);
	if (tok->session != CK_INVALID_HANDLE)
		tok->f->C_FindObjectsFinal(tok->session);
	if (err != IMSS_OK) {
		free(list);
		return err;
	}
	*out = list;
	*count = n;
	return IMSS_OK;
}

static imss_err
all_objects(imss_token *tok, CK_OBJECT_HANDLE **out, CK_ULONG *count)
{
	return token_find_all(tok, NULL, 0, out, count);
}

imss_err
imss_token_list_objects(imss_token *tok, imss_object_info **out, size_t *count)
{
	CK_OBJECT_HANDLE *handles = NULL;
	imss_object_info *infos = NULL;
	CK_ULONG n = 0, i;
	size_t kept = 0;
	imss_err err;

	*out = NULL;
	*count = 0;
	ctx_clear_detail(tok->ctx);
	err = all_objects(tok, &handles, &n);
	if (err != IMSS_OK)
		return err;
	infos = calloc(n ? n : 1, sizeof(*infos));
	if (infos == NULL) {
		err = IMSS_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		err = object_describe(tok, handles[i], &infos[kept]);
		if (err == IMSS_OK && infos[kept].klass == IMSS_OBJ_OTHER) {
			object_info_clear(&infos[kept]);
			continue;
		}
		if (err != IMSS_OK)
			goto out;
		kept++;
	}
	*out = infos;
	*count = kept;
	infos = NULL;
out:
	imss_object_info_free(infos, kept);
	free(handles);
	return err;
}

imss_err
token_find_read(imss_token *tok, const char *uri, CK_OBJECT_CLASS klass, token_object_reader read,
                void *out)
{
	CK_OBJECT_HANDLE h;
	imss_err err;

	ctx_clear_detail(tok->ctx);
	err = token_find_one(tok, uri, klass, &h);
	return err == IMSS_OK ? read(tok, h, out) : err;
}

/* Find exactly one object matching the object attributes of a URI. */
imss_err
token_find_one(imss_token *tok, const char *text, CK_OBJECT_CLASS klass, CK_OBJECT_HANDLE *out)
{
	CK_ATTRIBUTE tmpl[3];
	CK_ATTRIBUTE *a;
	CK_OBJECT_HANDLE found[8];
	CK_ULONG n = 0, count = 0, i;
	P11KitUri *uri = NULL;
	imss_err err;

	err = token_parse_uri(tok->ctx, text, &uri);
	if (err != IMSS_OK)
		return err;
	if (klass != (CK_OBJECT_CLASS)-1) {
		tmpl[n].type = CKA_CLASS;
		tmpl[n].pValue = &klass;
		tmpl[n++].ulValueLen = sizeof(klass);
	} else if ((a = p11_kit_uri_get_attribute(uri, CKA_CLASS)) != NULL) {
		tmpl[n++] = *a;
	}
	if ((a = p11_kit_uri_get_attribute(uri, CKA_ID)) != NULL)
		tmpl[n++] = *a;
	if ((a = p11_kit_uri_get_attribute(uri, CKA_LABEL)) != NULL)
		tmpl[n++] = *a;
	if (n == 0 || (n == 1 && tmpl[0].type == CKA_CLASS)) {
		err = ctx_fail(tok->ctx, IMSS_ERR_INVALID_ARG,
		               _("'%s' names no object: add id= or object= (see 'imss-renew objects')."),
		               text);
		goto out;
	}
	err = token_find(tok, tmpl, n, found, 8, &count);
	if (err != IMSS_OK)
		goto out;
	if (count == 0) {
		err = ctx_fail_next(tok->ctx, IMSS_ERR_NO_OBJECT, IMSS_NEXT_LIST_OBJECTS,
		                    _("Nothing on token '%s' matches '%s'. List what is there (private keys show only after login)."),
		                    tok->info.label, text);
		goto out;
	}
	if (count > 1) {
		ctx_set_detail(tok->ctx, _("'%s' matches %lu objects; name one of them:"), text,
		               (unsigned long)count);
		for (i = 0; i < count; i++) {
			imss_object_info o;

			if (object_describe(tok, found[i], &o) == IMSS_OK) {
				ctx_append_detail(tok->ctx, "\n  %s", o.uri);
				object_info_clear(&o);
			}
		}
		err = IMSS_ERR_AMBIGUOUS_OBJECT;
		goto out;
	}
	*out = found[0];
out:
	p11_kit_uri_free(uri);
	return err;
}
