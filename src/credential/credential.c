/*
 * Credentials: a certificate and the key that signs for it.  A token key
 * signs through the token provider; the legacy files (.pfx, .cer + .key)
 * are opened with OpenSSL and their keys sign in memory, behind the same
 * EVP_PKEY interface.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "credential.h"

struct imss_credential {
	X509 *cert;
	EVP_PKEY *pkey;
	imss_key *token_key; /* owned, for token credentials */
	char *location;
	int secrets_held; /* a key in memory: no core dump until it is freed */
};

#define PASSWORD_MAX 256

void
imss_credential_free(imss_credential *cred)
{
	if (cred == NULL)
		return;
	EVP_PKEY_free(cred->pkey); /* before the token key it refers to */
	imss_key_free(cred->token_key);
	X509_free(cred->cert);
	free(cred->location);
	if (cred->secrets_held)
		imss_secrets_end();
	free(cred);
}

X509 *
imss_credential_get_certificate(const imss_credential *c)
{
	return c->cert;
}
EVP_PKEY *
imss_credential_get_key(const imss_credential *c)
{
	return c->pkey;
}
const char *
imss_credential_get_location(const imss_credential *c)
{
	return c->location;
}
imss_key *
imss_credential_get_token_key(const imss_credential *c)
{
	return c->token_key;
}

imss_err
imss_credential_from_token(imss_token *tok, const char *key_uri, imss_credential **out)
{
	imss_credential *cred;
	imss_err err;

	*out = NULL;
	cred = calloc(1, sizeof(*cred));
	if (cred == NULL)
		return IMSS_ERR_NOMEM;
	err = key_with_certificate(tok, key_uri, &cred->token_key, &cred->cert);
	if (err == IMSS_OK)
		err = imss_key_get_evp(cred->token_key, &cred->pkey);
	if (err == IMSS_OK && (cred->location = strdup(imss_key_get_uri(cred->token_key))) == NULL)
		err = IMSS_ERR_NOMEM;
	if (err != IMSS_OK) {
		imss_credential_free(cred);
		return err;
	}
	*out = cred;
	return IMSS_OK;
}

static imss_err
read_password(imss_ctx *ctx, imss_pin_source *src, const char *path, char *buf, size_t size)
{
	char prompt[512];
	imss_err err;

	if (src == NULL)
		return ctx_fail_next(ctx, IMSS_ERR_PIN_SOURCE, IMSS_NEXT_PASSWORD_SOURCE,
		                     _("'%s' needs a password and no source for it was given."),
		                     path);
	snprintf(prompt, sizeof(prompt), _("Password for %s: "), path);
	err = imss_pin_source_read(src, prompt, buf, size);
	if (err != IMSS_OK)
		return ctx_fail(ctx, err, _("No password could be read for '%s' from '%s'."), path,
		                imss_pin_source_describe(src));
	return IMSS_OK;
}

static imss_err
check_pair(imss_ctx *ctx, X509 *cert, EVP_PKEY *pkey, const char *path)
{
	if (cert == NULL || pkey == NULL)
		return ctx_fail(ctx, IMSS_ERR_FORMAT,
		                _("'%s' does not hold both a certificate and its private key."),
		                path);
	if (X509_check_private_key(cert, pkey) != 1) {
		ERR_clear_error();
		return ctx_fail(ctx, IMSS_ERR_MISMATCH,
		                _("The private key does not belong to the certificate in '%s'. Check that the .key and .cer are the pair you were given."),
		                path);
	}
	return IMSS_OK;
}

/*
 * A password-protected file names its own work factor: a tampered .pfx or
 * .key asking for 2^30 iterations would keep the tool busy for hours before
 * the password could even be checked.  Every count is read before it is
 * used, and one over the limit refuses the file.
 */
#define PBE_ITERATIONS_MAX 1000000L
#define SCRYPT_COST_MAX (1L << 20)

static long
asn1_long(const ASN1_INTEGER *v)
{
	long n = v != NULL ? ASN1_INTEGER_get(v) : -1;

	ERR_clear_error();
	return n;
}

/* The work factor of one encryption or MAC algorithm: 1 when it is sane,
 * 0 when it is too large or cannot be read. */
static int
pbe_algorithm_sane(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *oid;
	const void *param;
	int ptype, ok = 0;

	X509_ALGOR_get0(&oid, &ptype, &param, alg);
	if (ptype != V_ASN1_SEQUENCE)
		return 0;
	if (OBJ_obj2nid(oid) == NID_pbes2) {
		PBE2PARAM *pbe2 =
		        ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
		PBKDF2PARAM *kdf = NULL;
		SCRYPT_PARAMS *sc = NULL;
		int kdf_nid = pbe2 ? OBJ_obj2nid(pbe2->keyfunc->algorithm) : NID_undef;

		if (kdf_nid == NID_id_pbkdf2 &&
		    (kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM),
		                                     pbe2->keyfunc->parameter)) != NULL) {
			long iter = asn1_long(kdf->iter);

			ok = iter > 0 && iter <= PBE_ITERATIONS_MAX;
		} else if (kdf_nid == NID_id_scrypt &&
		           (sc = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SCRYPT_PARAMS),
		                                           pbe2->keyfunc->parameter)) != NULL) {
			long n = asn1_long(sc->costParameter), r = asn1_long(sc->blockSize);
			long p = asn1_long(sc->parallelizationParameter);

			ok = n > 0 && r > 0 && p > 0 && n <= SCRYPT_COST_MAX && r <= 32 && p <= 16;
		}
		PBKDF2PARAM_free(kdf);
		SCRYPT_PARAMS_free(sc);
		PBE2PARAM_free(pbe2);
	} else {
		PBEPARAM *pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter);
		long iter = pbe ? asn1_long(pbe->iter) : -1;

		ok = iter > 0 && iter <= PBE_ITERATIONS_MAX;
		PBEPARAM_free(pbe);
	}
	ERR_clear_error();
	return ok;
}

static imss_err
refuse_work_factor(imss_ctx *ctx, const char *path)
{
	return ctx_fail(ctx, IMSS_ERR_FORMAT,
	                _("'%s' asks for an unreasonable amount of password work (more than %ld iterations) or its protection cannot be read; it was not opened. Export the credential again from the program that made it."),
	                path, PBE_ITERATIONS_MAX);
}

/* The shrouded keys among a list of bags, and in the bags nested in it
 * (safeContentsBag, which PKCS12_parse follows too; a few levels at most). */
static int
pkcs12_bags_sane(const STACK_OF(PKCS12_SAFEBAG) * bags, int depth)
{
	int i;

	for (i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
		const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
		const X509_ALGOR *alg = NULL;

		if (PKCS12_SAFEBAG_get_nid(bag) == NID_safeContentsBag) {
			if (depth >= 4 ||
			    !pkcs12_bags_sane(PKCS12_SAFEBAG_get0_safes(bag), depth + 1))
				return 0;
			continue;
		}
		if (PKCS12_SAFEBAG_get_nid(bag) != NID_pkcs8ShroudedKeyBag)
			continue;
		X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
		if (alg == NULL || !pbe_algorithm_sane(alg))
			return 0;
	}
	return 1;
}

/* The MAC, each encrypted part, and each shrouded key (those inside an
 * encrypted part once that part, its own count checked, is decrypted). */
static imss_err
pkcs12_work_sane(imss_ctx *ctx, const PKCS12 *p12, const char *pass, const char *path)
{
	const ASN1_INTEGER *mac_iter = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	int i, ok = 1;

	PKCS12_get0_mac(NULL, NULL, NULL, &mac_iter, p12);
	/* An absent count is 1 (RFC 7292). */
	if (mac_iter != NULL && (asn1_long(mac_iter) <= 0 || asn1_long(mac_iter) > PBE_ITERATIONS_MAX))
		ok = 0;
	if (ok && (safes = PKCS12_unpack_authsafes(p12)) == NULL)
		ok = 0;
	for (i = 0; ok && i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
		int nid = OBJ_obj2nid(p7->type);

		if (nid == NID_pkcs7_encrypted) {
			ok = p7->d.encrypted != NULL && p7->d.encrypted->enc_data != NULL &&
			     pbe_algorithm_sane(p7->d.encrypted->enc_data->algorithm);
			if (ok)
				bags = PKCS12_unpack_p7encdata(p7, pass, -1);
		} else if (nid == NID_pkcs7_data) {
			bags = PKCS12_unpack_p7data(p7);
		}
		/* A part that cannot be unpacked is left to PKCS12_parse to report. */
		if (ok && bags != NULL)
			ok = pkcs12_bags_sane(bags, 0);
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	}
	sk_PKCS7_pop_free(safes, PKCS7_free);
	ERR_clear_error();
	return ok ? IMSS_OK : refuse_work_factor(ctx, path);
}

static imss_err
open_pkcs12(imss_ctx *ctx, BIO *mem, const char *path, imss_pin_source *pw, imss_credential *cred)
{
	char pass[PASSWORD_MAX];
	PKCS12 *p12;
	imss_err err;

	p12 = d2i_PKCS12_bio(mem, NULL);
	if (p12 == NULL) {
		ERR_clear_error();
		return ctx_fail(ctx, IMSS_ERR_FORMAT, _("'%s' is not a PKCS#12 (.pfx) file."), path);
	}
	imss_secrets_begin();
	err = read_password(ctx, pw, path, pass, sizeof(pass));
	if (err == IMSS_OK)
		err = pkcs12_work_sane(ctx, p12, pass, path);
	if (err == IMSS_OK && PKCS12_verify_mac(p12, pass, -1) != 1)
		err = ctx_fail(ctx, IMSS_ERR_PASSWORD_INCORRECT,
		               _("The password of '%s' is wrong. Nothing was changed; try again with the right one."),
		               path);
	if (err == IMSS_OK && PKCS12_parse(p12, pass, &cred->pkey, &cred->cert, NULL) != 1)
		err = ctx_fail_openssl(ctx, _("the .pfx file cannot be opened"));
	imss_wipe(pass, sizeof(pass));
	imss_secrets_end();
	PKCS12_free(p12);
	ERR_clear_error();
	if (err == IMSS_OK)
		err = check_pair(ctx, cred->cert, cred->pkey, path);
	return err;
}

/* A certificate in DER or PEM. */
static imss_err
load_certificate(imss_ctx *ctx, const char *path, X509 **out)
{
	STACK_OF(X509) *certs = NULL;
	imss_err err;

	*out = NULL;
	err = imss_certs_load(ctx, path, &certs);
	if (err != IMSS_OK)
		return err;
	*out = sk_X509_shift(certs);
	sk_X509_pop_free(certs, X509_free);
	return IMSS_OK;
}

/* A PKCS#8 key: encrypted DER (the SAT and IMSS .key), or PEM. */
static imss_err
load_pkcs8(imss_ctx *ctx, const char *path, imss_pin_source *pw, EVP_PKEY **out)
{
	char pass[PASSWORD_MAX];
	X509_SIG *p8 = NULL;
	PKCS8_PRIV_KEY_INFO *info = NULL;
	BIO *mem = NULL;
	imss_err err;

	*out = NULL;
	err = file_to_bio(ctx, path, &mem);
	if (err != IMSS_OK)
		return err;
	p8 = d2i_PKCS8_bio(mem, NULL);
	if (p8 == NULL) {
		(void)BIO_reset(mem);
		p8 = PEM_read_bio_PKCS8(mem, NULL, NULL, NULL);
	}
	if (p8 == NULL) {
		BIO_free(mem);
		ERR_clear_error();
		return ctx_fail(ctx, IMSS_ERR_FORMAT,
		                _("'%s' is not an encrypted PKCS#8 private key (.key)."), path);
	}
	{
		const X509_ALGOR *alg = NULL;

		X509_SIG_get0(p8, &alg, NULL);
		if (alg == NULL || !pbe_algorithm_sane(alg)) {
			X509_SIG_free(p8);
			BIO_free(mem);
			return refuse_work_factor(ctx, path);
		}
	}
	imss_secrets_begin();
	err = read_password(ctx, pw, path, pass, sizeof(pass));
	if (err == IMSS_OK && (info = PKCS8_decrypt(p8, pass, (int)strlen(pass))) == NULL)
		err = ctx_fail(ctx, IMSS_ERR_PASSWORD_INCORRECT,
		               _("The password of '%s' is wrong. Nothing was changed; try again with the right one."),
		               path);
	imss_wipe(pass, sizeof(pass));
	if (err == IMSS_OK && (*out = EVP_PKCS82PKEY(info)) == NULL)
		err = ctx_fail_openssl(ctx, _("the private key cannot be read"));
	imss_secrets_end();
	PKCS8_PRIV_KEY_INFO_free(info);
	X509_SIG_free(p8);
	BIO_free(mem);
	ERR_clear_error();
	return err;
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

char *
imss_credential_key_path(const char *cert_path)
{
	size_t n = strlen(cert_path);
	const char *dot = strrchr(cert_path, '.');
	size_t stem = dot && !strchr(dot, '/') ? (size_t)(dot - cert_path) : n;
	char *p = malloc(stem + 5);

	if (p != NULL) {
		memcpy(p, cert_path, stem);
		memcpy(p + stem, ".key", 5);
	}
	return p;
}

static imss_err
open_cer_key(imss_ctx *ctx, const char *path, const char *key_path, imss_pin_source *pw,
             imss_credential *cred)
{
	char *derived = NULL;
	imss_err err;

	if (key_path == NULL && (key_path = derived = imss_credential_key_path(path)) == NULL)
		return IMSS_ERR_NOMEM;
	err = load_certificate(ctx, path, &cred->cert);
	if (err == IMSS_OK)
		err = load_pkcs8(ctx, key_path, pw, &cred->pkey);
	if (err == IMSS_OK)
		err = check_pair(ctx, cred->cert, cred->pkey, key_path);
	free(derived);
	return err;
}

imss_err
imss_credential_from_files(imss_ctx *ctx, const char *path, const char *key_path,
                           imss_pin_source *password, imss_credential **out)
{
	imss_credential *cred;
	BIO *mem = NULL;
	imss_err err;

	*out = NULL;
	ctx_clear_detail(ctx);
	cred = calloc(1, sizeof(*cred));
	if (cred == NULL || (cred->location = strdup(path)) == NULL) {
		free(cred);
		return IMSS_ERR_NOMEM;
	}
	/* The decrypted key stays in memory for the credential's life: no
	 * core file may hold it (imss_credential_free ends this). */
	imss_secrets_begin();
	cred->secrets_held = 1;
	if (key_path == NULL && (has_suffix(path, ".pfx") || has_suffix(path, ".p12"))) {
		err = file_to_bio(ctx, path, &mem);
		if (err == IMSS_OK)
			err = open_pkcs12(ctx, mem, path, password, cred);
		BIO_free(mem);
	} else {
		err = open_cer_key(ctx, path, key_path, password, cred);
	}
	if (err != IMSS_OK) {
		imss_credential_free(cred);
		return err;
	}
	*out = cred;
	return IMSS_OK;
}
