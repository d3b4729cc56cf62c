/*
 * The steps of a renewal.  Each one looks at the journal first: what was
 * done is not done again, what may have been under way is looked for
 * before it is redone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "credential.h"
#include "renew.h"

/* ---- the employer, from the current certificate ------------------- */

/* What the service says of the employer is checked against this. */
struct employer {
	char *razon_social;      /* O (and CN) */
	char *registro_patronal; /* OU */
	char *rfc;               /* x500UniqueIdentifier */
};

static void
employer_clear(struct employer *e)
{
	STR_FREE_EACH(e->razon_social, e->registro_patronal, e->rfc);
	memset(e, 0, sizeof(*e));
}

static imss_err
current_employer(struct renew *r, struct employer *out)
{
	X509 *cert = imss_credential_get_certificate(r->o->current);
	const X509_NAME *n = cert ? X509_get_subject_name(cert) : NULL;

	memset(out, 0, sizeof(*out));
	if (n != NULL) {
		out->razon_social = renew_subject_entry(n, NID_organizationName);
		out->registro_patronal = renew_subject_entry(n, NID_organizationalUnitName);
		out->rfc = renew_subject_entry(n, NID_x500UniqueIdentifier);
	}
	if (out->razon_social && out->registro_patronal && out->rfc)
		return IMSS_OK;
	employer_clear(out);
	return ctx_fail(r->ctx, IMSS_ERR_FORMAT,
	                _("The current certificate (%s) does not name its employer: its subject needs exactly one O (razon social), OU (registro patronal) and x500UniqueIdentifier (RFC). Nothing was changed. Renew with the certificate IMSS issued to the employer."),
	                imss_credential_get_location(r->o->current));
}

static imss_err
disagree(struct renew *r, const char *field, const char *service, const char *cert)
{
	return ctx_fail_next(r->ctx, IMSS_ERR_MISMATCH, IMSS_NEXT_CHECK_SERVER,
	                     _("The service says the %s is '%s', but the current certificate says '%s'. The service may be wrong or hostile: the renewal stopped before changing the e-mail or making a key. Check the service's address and the user."),
	                     field, service, cert);
}

imss_err
renew_check_employer(struct renew *r)
{
	const struct idse_company *c = &r->company;
	struct employer e;
	imss_err err = current_employer(r, &e);

	if (err != IMSS_OK)
		return err;
	if (strcmp(c->registro_patronal, e.registro_patronal) != 0)
		err = disagree(r, _("registro patronal"), c->registro_patronal, e.registro_patronal);
	else if (strcmp(c->razon_social, e.razon_social) != 0)
		err = disagree(r, _("razon social"), c->razon_social, e.razon_social);
	else if (strcmp(c->rfc, e.rfc) != 0)
		err = disagree(r, "RFC", c->rfc, e.rfc);
	employer_clear(&e);
	return err;
}

/* ---- 1. log in ------------------------------------------------------ */

/* May a wrong answer be asked again?  Only the ui knows where it came from. */
int
renew_ask_again(struct renew *r, int what, int attempt)
{
	return attempt < IMSS_ASK_TRIES && r->ui != NULL && r->ui->ask_again != NULL &&
	       r->ui->ask_again(r->ui->user, what, attempt);
}

/* A password the service refuses is asked again (a new challenge each
 * time) while the ui says it came from a terminal. */
static imss_err
login_asking_again(struct renew *r)
{
	imss_err err;
	int attempt = 0;

	do {
		err = idse_login(r->ctx, r->http, r->o->current, r->o->user, r->o->password,
		                 &r->session);
	} while (err == IMSS_ERR_PASSWORD_INCORRECT &&
	         renew_ask_again(r, IMSS_ASK_PASSWORD, ++attempt));
	return err;
}

imss_err
renew_login(struct renew *r)
{
	const char *f[] = { "user", r->o->user, "credential",
		            imss_credential_get_location(r->o->current), NULL };
	struct employer e;
	imss_err err;

	/* Whose certificate it is, before it is used. */
	err = current_employer(r, &e);
	if (err != IMSS_OK)
		return err;
	renew_emit(r, "login", 1, f, _("Logging in to %s as %s with %s."), r->o->server, r->o->user,
	           imss_credential_get_location(r->o->current));
	err = login_asking_again(r);
	/* The session's registro patronal is the certificate's. */
	if (err == IMSS_OK && strcmp(r->session.registro_patronal, e.registro_patronal) != 0)
		err = disagree(r, _("registro patronal"), r->session.registro_patronal,
		               e.registro_patronal);
	employer_clear(&e);
	if (err != IMSS_OK)
		return err;
	{
		const char *g[] = { "registro_patronal", r->session.registro_patronal,
			            "renewal_required",
			            r->session.renewal_required ? "true" : "false", NULL };

		renew_emit(r, "login", 1, g,
		           r->session.renewal_required
		                   ? _("Logged in. The current certificate has expired: it must be renewed.")
		                   : _("Logged in."));
	}
	return IMSS_OK;
}

/* ---- 2. company data, e-mail ------------------------------------------ */

static void
emit_company(struct renew *r, const char *message)
{
	const struct idse_company *c = &r->company;
	const char *f[] = { "registro_patronal",
		            c->registro_patronal,
		            "razon_social",
		            c->razon_social,
		            "rfc",
		            c->rfc,
		            "address",
		            c->address,
		            "email",
		            c->email,
		            "editable",
		            "email",
		            NULL };

	renew_emit(r, "company", 2, f, "%s", message);
}

/* The e-mail typed (NULL: keep it), asked again while it is no address. */
static char *
ask_email(struct renew *r)
{
	char *answer = NULL;
	int attempt = 0;

	for (;;) {
		answer = r->ui->ask_email(r->ui->user, r->company.email);
		if (answer == NULL || answer[0] == '\0' || imss_email_is_valid(answer) ||
		    !renew_ask_again(r, IMSS_ASK_EMAIL, ++attempt))
			return answer;
		free(answer);
	}
}

/* The company data are believed only when they are the current
 * certificate's employer: checked before they are shown or used, and
 * again after the e-mail is changed. */
imss_err
renew_company(struct renew *r)
{
	char *asked = NULL;
	const char *wanted = r->o->email;
	imss_err err;

	err = idse_get_company(r->ctx, r->http, &r->company);
	if (err == IMSS_OK)
		err = renew_check_employer(r);
	if (err != IMSS_OK)
		return err;
	emit_company(r, _("Company data (only the e-mail can be changed)."));
	if (wanted == NULL && !(r->o->flags & IMSS_RENEW_YES) && r->ui && r->ui->ask_email)
		wanted = asked = ask_email(r);
	if (wanted != NULL && wanted[0] != '\0' && !imss_email_is_valid(wanted))
		err = ctx_fail_next(r->ctx, IMSS_ERR_INVALID_ARG, IMSS_NEXT_OTHER_EMAIL,
		                    _("'%s' is not a valid e-mail address (like rh@empresa.mx); nothing was sent to the service."),
		                    wanted);
	else if (wanted != NULL && wanted[0] != '\0' && strcmp(wanted, r->company.email) != 0) {
		err = idse_set_email(r->ctx, r->http, wanted, &r->company);
		if (err == IMSS_OK)
			err = renew_check_employer(r);
		if (err == IMSS_OK)
			emit_company(r, _("The e-mail was changed."));
	}
	free(asked);
	return err;
}

/* ---- 3. the new key ------------------------------------------------- */

static imss_err
spki_sha256(EVP_PKEY *pub, char **hex)
{
	unsigned char *der = NULL, md[32];
	int len = i2d_PUBKEY(pub, &der);

	*hex = NULL;
	if (len <= 0)
		return IMSS_ERR_CRYPTO;
	SHA256(der, (size_t)len, md);
	OPENSSL_free(der);
	*hex = hex_encode(md, sizeof(md));
	return *hex ? IMSS_OK : IMSS_ERR_NOMEM;
}

/* An EC key's SPKI DER in hex for the journal (*hex NULL for RSA: its
 * private key carries the modulus). */
static imss_err
ec_spki_hex(EVP_PKEY *pub, char **hex)
{
	unsigned char *der = NULL;
	int len;

	*hex = NULL;
	if (!EVP_PKEY_is_a(pub, "EC"))
		return IMSS_OK;
	if ((len = i2d_PUBKEY(pub, &der)) <= 0)
		return IMSS_ERR_CRYPTO;
	*hex = hex_encode(der, (size_t)len);
	OPENSSL_free(der);
	return *hex ? IMSS_OK : IMSS_ERR_NOMEM;
}

/* The journal's key fields: the public key's hash and, for EC, the key. */
static imss_err
journal_set_public(struct renew *r, EVP_PKEY *pub)
{
	char *hash = NULL, *spki = NULL;
	imss_err err = spki_sha256(pub, &hash);

	if (err == IMSS_OK)
		err = ec_spki_hex(pub, &spki);
	if (err == IMSS_OK)
		err = journal_set(&r->j.key_spki_sha256, hash);
	if (err == IMSS_OK)
		err = journal_set(&r->j.key_spki, spki);
	free(hash);
	free(spki);
	return err;
}

/* A URI naming one private key by id= or object=. */
static char *
key_uri(struct renew *r, const unsigned char *id, size_t id_len, const char *label)
{
	return object_uri(r->o->token, CKO_PRIVATE_KEY, id, id_len, id_len ? NULL : label);
}

static imss_err
hex_to_bytes(const char *hex, unsigned char *out, size_t max, size_t *len)
{
	size_t n = strlen(hex), i;

	if (n % 2 != 0 || n / 2 > max)
		return IMSS_ERR_JOURNAL;
	for (i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return IMSS_ERR_JOURNAL;
		out[i] = (unsigned char)v;
	}
	*len = n / 2;
	return IMSS_OK;
}

/* The journal names a key that fails the ownership tests: it is damaged
 * (or was edited), and nothing is done with that key. */
static imss_err
not_ours(struct renew *r, const imss_key *key, const char *why)
{
	return ctx_fail_next(r->ctx, IMSS_ERR_JOURNAL, IMSS_NEXT_LIST_OBJECTS,
	                     _("The renewal journal '%s' is damaged: it names the key '%s' (%s), which %s, not a key this renewal generated. Nothing was used or deleted. Keep a copy of the journal, compare it with the objects on the token, then move the journal aside and start again."),
	                     r->j.path, imss_key_get_label(key), imss_key_get_uri(key), why);
}

/* What may be wrong with a key the renewal is to certify. */
enum key_fault {
	KEY_FINE = 0,
	KEY_CURRENT,     /* it is the current credential's key */
	KEY_OTHER_LABEL, /* adopted after keygen, but not under the recorded label */
	KEY_CERTIFIED,   /* a certificate on the token carries its ID or public key */
	KEY_NOT_LOCAL,   /* the token says it was not generated there */
	KEY_EXPOSED,     /* not sensitive, or extractable (or once was) */
	KEY_UNCONFIRMED, /* made elsewhere: the token does not say it is not
	                  * extractable and never was */
};

/*
 * The ownership tests, the same for a key the journal names and for one
 * given with --new-key: not the current credential's key, one being
 * adopted carries the recorded label, no certificate on the token carries
 * its ID or its public key (unless certificate_ok: this renewal may have
 * stored its own), generated on the token where the token says
 * (CKA_LOCAL; *local says what it said), and protected.  A key made
 * elsewhere (--new-key) may be not CKA_LOCAL, but the token must say it
 * is not extractable and never was (CKA_EXTRACTABLE false and
 * CKA_NEVER_EXTRACTABLE true, as keygen's check_protection asks of a
 * generated key): an unreported value is not a promise.
 */
static imss_err
key_fault_of(struct renew *r, imss_key *key, int certificate_ok, int elsewhere,
             enum key_fault *fault, int *local)
{
	X509 *current = r->o->current ? imss_credential_get_certificate(r->o->current) : NULL;
	size_t id_len;
	const unsigned char *id = imss_key_get_id(key, &id_len);
	int sens, extr, never, beside = 0;
	imss_err err = IMSS_OK;

	*fault = KEY_FINE;
	*local = -1;
	if (current != NULL && EVP_PKEY_eq(X509_get0_pubkey(current), imss_key_get_public(key)) == 1)
		*fault = KEY_CURRENT;
	else if (r->j.state == JOURNAL_KEYGEN_STARTED &&
	         strcmp(imss_key_get_label(key), r->j.key_label) != 0)
		*fault = KEY_OTHER_LABEL;
	if (*fault == KEY_FINE && !certificate_ok)
		err = token_certificate_beside(r->o->token, id, id_len, imss_key_get_public(key),
		                               &beside);
	if (err == IMSS_OK && *fault == KEY_FINE && beside)
		*fault = KEY_CERTIFIED;
	if (err == IMSS_OK && *fault == KEY_FINE)
		err = imss_key_get_protection(key, &sens, &extr, local, &never);
	if (err == IMSS_OK && *fault == KEY_FINE && *local == 0 && !elsewhere)
		*fault = KEY_NOT_LOCAL;
	if (err == IMSS_OK && *fault == KEY_FINE &&
	    (sens != 1 || extr == 1 || (elsewhere && never == 0)))
		*fault = KEY_EXPOSED;
	if (err == IMSS_OK && *fault == KEY_FINE && elsewhere && (extr != 0 || never != 1))
		*fault = KEY_UNCONFIRMED;
	return err;
}

/* The tests every key the journal names must pass before it is adopted,
 * used as the new key or deleted (key_fault_of). */
static imss_err
check_candidate(struct renew *r, imss_key *key, int certificate_ok)
{
	enum key_fault fault;
	int local;
	imss_err err =
	        key_fault_of(r, key, certificate_ok, journal_key_elsewhere(&r->j), &fault, &local);

	if (err != IMSS_OK)
		return err;
	switch (fault) {
	case KEY_FINE:
		return IMSS_OK;
	case KEY_CURRENT:
		return not_ours(r, key, _("is the key of the current credential"));
	case KEY_OTHER_LABEL:
		return not_ours(r, key, _("carries another label than the one recorded"));
	case KEY_CERTIFIED:
		return not_ours(r, key, _("has a certificate on the token"));
	case KEY_NOT_LOCAL:
		return not_ours(r, key, _("was not generated on the token (CKA_LOCAL is false)"));
	case KEY_EXPOSED:
	case KEY_UNCONFIRMED:
		break;
	}
	return ctx_fail_next(r->ctx, IMSS_ERR_KEY_PROTECTION, IMSS_NEXT_ABANDON,
	                     _("The key '%s' of this renewal is not protected as it must be; undo the renewal."),
	                     imss_key_get_label(key));
}

/* Is this public key object the one whose hash the journal recorded? */
static imss_err
recorded_public_key(struct renew *r, EVP_PKEY *pub)
{
	char *hash = NULL;
	imss_err err;

	if (r->j.key_spki_sha256 == NULL)
		return IMSS_OK;
	err = spki_sha256(pub, &hash);
	if (err == IMSS_OK && strcmp(hash, r->j.key_spki_sha256) != 0)
		err = ctx_fail(r->ctx, IMSS_ERR_MISMATCH,
		               _("The public key labelled like this renewal's key is not the one it recorded; nothing was changed."));
	free(hash);
	return err;
}

/* Before the public key is given the private key's ID (token_rejoin_pair):
 * are they halves of one pair?  An RSA private key shows its public half;
 * an EC private key does not, but its ID is the pair's random ID or the key
 * identifier of its public half. */
static imss_err
same_public_key(void *user, EVP_PKEY *pub, EVP_PKEY *priv_pub, const unsigned char *priv_id,
                size_t priv_id_len)
{
	struct renew *r = user;
	unsigned char ski[20];
	int compared = priv_pub != NULL;
	char *hex = hex_encode(priv_id, priv_id_len);
	imss_err err = recorded_public_key(r, pub);

	if (err == IMSS_OK && !compared && pubkey_key_identifier(pub, ski) == IMSS_OK)
		compared = (priv_id_len == sizeof(ski) && memcmp(priv_id, ski, sizeof(ski)) == 0) ||
		           (hex != NULL && r->j.key_tmp_id != NULL &&
		            strcmp(hex, r->j.key_tmp_id) == 0);
	if (err == IMSS_OK && (!compared || (priv_pub != NULL && EVP_PKEY_eq(priv_pub, pub) != 1)))
		err = ctx_fail(r->ctx, IMSS_ERR_MISMATCH,
		               _("The public key labelled like this renewal's key is not its public half; nothing was changed."));
	free(hex);
	return err;
}

/*
 * The private key the journal names, found by what the journal knows
 * best: the pair's final ID; else the random ID it was generated with,
 * while its public key was not recorded yet (the ID has not been changed
 * then); else its label (generation cut short after the public key was
 * recorded, or a journal of an earlier version).
 */
static imss_err
find_named_key(struct renew *r, imss_key **out)
{
	const char *hex = r->j.key_id ? r->j.key_id : r->j.key_spki_sha256 ? NULL : r->j.key_tmp_id;
	unsigned char id[IMSS_ID_MAX] = { 0 };
	size_t id_len = 0;
	int have_priv = 0;
	char *uri;
	imss_err err;

	if (hex != NULL && hex_to_bytes(hex, id, sizeof(id), &id_len) != IMSS_OK)
		return ctx_fail(r->ctx, IMSS_ERR_JOURNAL, _("The journal's key ID is not valid."));
	uri = key_uri(r, id, id_len, r->j.key_label);
	if (uri == NULL)
		return IMSS_ERR_NOMEM;
	err = id_len == 0
	              ? token_rejoin_pair(r->o->token, r->j.key_label, same_public_key, r, &have_priv)
	              : IMSS_OK;
	if (err == IMSS_OK)
		err = imss_token_find_key(r->o->token, uri, out);
	free(uri);
	if (err == IMSS_ERR_NO_OBJECT && have_priv) /* not a reason to make another */
		err = ctx_fail_next(r->ctx, IMSS_ERR_AMBIGUOUS_OBJECT, IMSS_NEXT_ABANDON,
		                    _("The key pair '%s' of this renewal is incomplete on the token; nothing was changed. Delete the objects with that label, then undo the renewal."),
		                    r->j.key_label);
	return err;
}

/*
 * A renewal's EC key keeps no public key object (the public key was a
 * session object) and its private key does not carry the point: until
 * its certificate is stored beside it, its public half is the one the
 * journal recorded (key_spki, with its hash).  The token is told it for
 * the key's ID (final, else the random one it was generated with), so
 * that every lookup of the key finds it.
 */
static imss_err
know_public_from_journal(struct renew *r)
{
	const char *hex = r->j.key_id ? r->j.key_id : r->j.key_tmp_id;
	unsigned char id[IMSS_ID_MAX], *der = NULL;
	const unsigned char *p;
	long der_len = 0;
	size_t id_len = 0;
	EVP_PKEY *pub = NULL;
	char *hash = NULL;
	imss_err err = IMSS_OK;

	if (r->j.key_spki == NULL || hex == NULL)
		return IMSS_OK;
	der = OPENSSL_hexstr2buf(r->j.key_spki, &der_len);
	p = der;
	if (der != NULL)
		pub = d2i_PUBKEY(NULL, &p, der_len);
	if (pub == NULL || hex_to_bytes(hex, id, sizeof(id), &id_len) != IMSS_OK ||
	    spki_sha256(pub, &hash) != IMSS_OK || strcmp(hash, r->j.key_spki_sha256) != 0)
		err = ctx_fail(r->ctx, IMSS_ERR_JOURNAL,
		               _("The journal records a public key for the new key that does not have the recorded hash: the journal is damaged. Nothing was changed; keep the journal, look at the token, and move the journal aside to start again."));
	else
		token_know_public(r->o->token, id, id_len, pub);
	EVP_PKEY_free(pub);
	OPENSSL_free(der);
	free(hash);
	return err;
}

imss_err
renew_find_journal_key(struct renew *r, imss_key **out)
{
	imss_err err;

	*out = NULL;
	err = know_public_from_journal(r);
	if (err == IMSS_OK)
		err = find_named_key(r, out);
	if (err != IMSS_OK)
		return err;
	err = recorded_public_key(r, imss_key_get_public(*out));
	if (err == IMSS_ERR_MISMATCH)
		err = ctx_fail(r->ctx, IMSS_ERR_MISMATCH,
		               _("The key with the journal's ID has another public key than the one recorded; nothing was changed."));
	if (err == IMSS_OK)
		err = check_candidate(r, *out, r->j.state >= JOURNAL_STORE_STARTED);
	if (err != IMSS_OK) {
		imss_key_free(*out);
		*out = NULL;
	}
	return err;
}

/* The key's final ID and hash, state key-generated; written now (save),
 * or by the next save when nothing irreversible comes first. */
static imss_err
record_key(struct renew *r, int save)
{
	size_t id_len;
	const unsigned char *id = imss_key_get_id(r->key, &id_len);
	char *hex = hex_encode(id, id_len);
	imss_err err = hex ? journal_set(&r->j.key_id, hex) : IMSS_ERR_NOMEM;

	if (err == IMSS_OK)
		err = journal_set_public(r, imss_key_get_public(r->key));
	free(hex);
	if (err != IMSS_OK)
		return err;
	r->j.state = JOURNAL_KEY_GENERATED;
	r->j.unsaved = 1;
	return save ? journal_save(r->ctx, &r->j) : IMSS_OK;
}

/* The label of the new pair, before the journal records it: the user's
 * must be free on the token (a refused label never reaches the journal);
 * the default one (employer and time to the second, under the token's
 * lock) is new by construction. */
static imss_err
choose_label(struct renew *r)
{
	char stamp[32], *label = NULL;
	unsigned char nonce[4];
	time_t now = time(NULL);
	struct tm tm;
	int in_use = 0;
	imss_err err;

	if (r->o->label != NULL) {
		err = token_label_in_use(r->o->token, r->o->label, &in_use);
		if (err == IMSS_OK && in_use)
			err = ctx_fail_next(r->ctx, IMSS_ERR_LABEL_IN_USE, IMSS_NEXT_OTHER_LABEL,
			                    _("Label '%s' is already used on token '%s'; choose another label. Nothing was generated."),
			                    r->o->label, imss_token_get_info(r->o->token)->label);
		return err == IMSS_OK ? journal_set(&r->j.key_label, r->o->label) : err;
	}
	/* Two renewals of one employer on one token in the same second (a
	 * resumed run right after another) must not share it: 32 random bits
	 * follow the time, since the default label is not looked for. */
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H%M%SZ", &tm);
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return ctx_fail_openssl(r->ctx, _("the random part of the key's label"));
	label = str_printf("IMSS %s %s %02x%02x%02x%02x", r->company.registro_patronal, stamp,
	                   nonce[0], nonce[1], nonce[2], nonce[3]);
	if (label == NULL)
		return IMSS_ERR_NOMEM;
	err = journal_set(&r->j.key_label, label);
	free(label);
	return err;
}

/* Before the token is asked: a random, unguessable ID for the pair, so
 * that a run cut short finds exactly this pair by it. */
static imss_err
record_keygen_start(struct renew *r, unsigned char tmp_id[KEYGEN_TMP_ID_LEN])
{
	char *hex;
	imss_err err;

	if (RAND_bytes(tmp_id, KEYGEN_TMP_ID_LEN) != 1)
		return ctx_fail_openssl(r->ctx, "RAND_bytes");
	if ((hex = hex_encode(tmp_id, KEYGEN_TMP_ID_LEN)) == NULL)
		return IMSS_ERR_NOMEM;
	err = journal_set(&r->j.key_tmp_id, hex);
	free(hex);
	if (err == IMSS_OK)
		err = journal_set(&r->j.key_spki_sha256, NULL);
	if (err == IMSS_OK)
		err = journal_set(&r->j.key_spki, NULL);
	if (err == IMSS_OK)
		err = journal_set(&r->j.key_id, NULL);
	r->j.state = JOURNAL_KEYGEN_STARTED;
	return err == IMSS_OK ? journal_save(r->ctx, &r->j) : err;
}

/* keygen's anchor: the new public key's hash (and an EC key's public key,
 * which goes with the session) is recorded before the pair loses the
 * random ID it was generated with. */
static imss_err
record_generated(void *user, EVP_PKEY *pub)
{
	struct renew *r = user;
	imss_err err = journal_set_public(r, pub);

	return err == IMSS_OK ? journal_save(r->ctx, &r->j) : err;
}

static imss_err
generate_key(struct renew *r, const unsigned char *tmp_id, unsigned flags)
{
	const imss_token_info *ti = imss_token_get_info(r->o->token);
	struct keygen_anchor anchor = { tmp_id, record_generated, r };
	imss_keygen_report rep = { 0 };
	imss_keyspec spec = r->o->keyspec;
	imss_err err;

	/* A first SCEP enrollment: the CA encrypts its answer to the new key. */
	spec.decrypt = renew_is_first(r);
	/* The token keeps the private key only; the certificate stored
	 * beside it carries the public key (docs/design.md, "Key generation"). */
	spec.public_in_session = 1;
	renew_emit(r, "keygen", 3, NULL,
	           ti->has_rng
	                   ? _("Generating the new %s key inside token '%s' with the token's own random generator (it replaces the portal's mouse movements); a smart card may take a minute...")
	                   : _("Generating the new %s key inside token '%s'. Warning: the token reports no random generator of its own."),
	           r->o->keyspec.kind == IMSS_KEY_EC ? "EC" : "RSA", ti->label);
	err = token_generate_anchored(r->o->token, &spec, r->j.key_label, flags, &anchor, &r->key,
	                              &rep);
	if (err == IMSS_OK) {
		const char *f[] = { "key_uri",
			            rep.uri,
			            "id",
			            rep.id_hex,
			            "sensitive",
			            rep.sensitive == 1 ? "true" : "false",
			            "extractable",
			            rep.extractable == 0 ? "false" : "true",
			            "local",
			            rep.local == 1 ? "true" : "false",
			            "relaxed",
			            rep.refused,
			            "relaxed_reason",
			            rep.refused_reason,
			            NULL };

		renew_emit(r, "keygen", 3, f,
		           _("New key generated on the token: sensitive, not extractable; it never leaves the token."));
	}
	imss_keygen_report_clear(&rep);
	return err;
}

/* The key of an earlier run of this renewal.  IMSS_ERR_NO_OBJECT in state
 * keygen-started: it was not generated, and may be now. */
static imss_err
resume_key(struct renew *r)
{
	imss_err err = renew_find_journal_key(r, &r->key);

	if (err == IMSS_OK && r->j.state == JOURNAL_KEYGEN_STARTED)
		err = record_key(r, 1);
	if (err == IMSS_OK)
		renew_emit(r, "keygen", 3, NULL,
		           _("Using the key generated earlier for this renewal (%s)."),
		           imss_key_get_label(r->key));
	else if (err == IMSS_ERR_NO_OBJECT && r->j.state != JOURNAL_KEYGEN_STARTED) {
		ctx_append_detail(r->ctx,
		                  _(" The key of this renewal is gone from the token; undo the renewal and start again."));
		ctx_set_next(r->ctx, IMSS_NEXT_ABANDON);
	}
	return err;
}

/* Why a key given with --new-key cannot be the new key (NULL: it can). */
static const char *
new_key_refusal(enum key_fault fault)
{
	static const char *const why[] = {
		[KEY_CURRENT] = N_("it is the key of the current credential, the one being renewed"),
		[KEY_CERTIFIED] =
		        N_("a certificate on the token already carries its ID or its public key"),
		[KEY_EXPOSED] = N_(
		        "it is not sensitive, or it is or once was extractable (CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_NEVER_EXTRACTABLE): its private half may exist outside the token"),
		[KEY_UNCONFIRMED] = N_(
		        "the token does not confirm that it is not extractable and never was (CKA_EXTRACTABLE false, CKA_NEVER_EXTRACTABLE true): its private half may exist outside the token"),
	};

	return (size_t)fault < sizeof(why) / sizeof(why[0]) && why[fault] ? _(why[fault]) : NULL;
}

/* --new-key: the key pair is checked, then recorded like a generated one
 * (its ID and public key hash) with the flag that it was made elsewhere. */
static imss_err
adopt_new_key(struct renew *r)
{
	enum key_fault fault = KEY_FINE;
	const char *why = NULL;
	size_t id_len = 0;
	int local = -1;
	imss_err err = imss_token_find_key(r->o->token, r->o->new_key_uri, &r->key);

	if (err == IMSS_OK)
		err = key_fault_of(r, r->key, 0, 1, &fault, &local);
	if (err == IMSS_OK && (why = new_key_refusal(fault)) == NULL &&
	    (imss_key_get_id(r->key, &id_len) == NULL || id_len == 0))
		why = _("it has no CKA_ID, by which the renewal would find it again");
	if (err == IMSS_OK && why != NULL)
		err = ctx_fail(r->ctx,
		               fault == KEY_EXPOSED || fault == KEY_UNCONFIRMED
		                       ? IMSS_ERR_KEY_PROTECTION
		                       : IMSS_ERR_MISMATCH,
		               _("The key '%s' named as the new key cannot be it: %s. Nothing was changed. Name another key pair on the token, or let the renewal generate one."),
		               r->o->new_key_uri, why);
	if (err == IMSS_OK)
		err = imss_key_get_label(r->key)[0] != '\0'
		              ? journal_set(&r->j.key_label, imss_key_get_label(r->key))
		              : choose_label(r);
	if (err == IMSS_OK)
		err = journal_set(&r->j.key_origin, JOURNAL_KEY_ELSEWHERE);
	if (err == IMSS_OK)
		err = record_key(r, 1);
	if (err != IMSS_OK) {
		imss_key_free(r->key);
		r->key = NULL;
		return err;
	}
	{
		const char *f[] = { "key_uri", imss_key_get_uri(r->key),
			            "id",      r->j.key_id,
			            "origin",  "elsewhere",
			            "local",   local == 1 ? "true" : "false",
			            NULL };

		/* local: only when the token says (CKA_LOCAL); else absent */
		if (local < 0)
			f[6] = NULL;
		renew_emit(r, "keygen", 3, f,
		           _("Using the key pair '%s' made before the renewal: sensitive, never extractable, no certificate yet. The renewal will not delete it."),
		           imss_key_get_label(r->key));
	}
	if (local != 1)
		ctx_log(r->ctx, IMSS_LOG_WARN,
		        _("the token does not say the key '%s' was generated on it (CKA_LOCAL is %s): it may have been imported. Use it only if you know where it was made."),
		        imss_key_get_label(r->key), local == 0 ? "false" : _("not reported"));
	return IMSS_OK;
}

/* A resumed renewal given --new-key: it must be the key it recorded. */
static imss_err
same_new_key(struct renew *r)
{
	imss_key *named = NULL;
	imss_err err = imss_token_find_key(r->o->token, r->o->new_key_uri, &named);

	if (err == IMSS_OK &&
	    EVP_PKEY_eq(imss_key_get_public(named), imss_key_get_public(r->key)) != 1)
		err = ctx_fail_next(r->ctx, IMSS_ERR_BUSY, IMSS_NEXT_ABANDON,
		                    _("The unfinished renewal of this employer on this token uses the key '%s', not the one named now; finish it with that key, or undo it."),
		                    imss_key_get_label(r->key));
	imss_key_free(named);
	return err;
}

/*
 * A run stopped between C_GenerateKeyPair and the save of the request:
 * an EC private key this renewal made (the journal's random ID and label,
 * recorded before the token was asked) whose public key was a session
 * object, gone with that run.  No request can be made for it: it is
 * deleted (*dropped).  A key the token shows its public half for (RSA, a
 * token public key) is left to be resumed.
 */
imss_err
renew_drop_half_made(struct renew *r, int *dropped)
{
	unsigned char id[IMSS_ID_MAX];
	size_t id_len = 0;
	imss_err err;

	*dropped = 0;
	if (r->j.state != JOURNAL_KEYGEN_STARTED || r->j.key_tmp_id == NULL ||
	    r->j.key_label == NULL || journal_key_elsewhere(&r->j))
		return IMSS_OK;
	if (hex_to_bytes(r->j.key_tmp_id, id, sizeof(id), &id_len) != IMSS_OK)
		return ctx_fail(r->ctx, IMSS_ERR_JOURNAL, _("The journal's key ID is not valid."));
	/* A public key the journal recorded is known: that key is resumed. */
	err = know_public_from_journal(r);
	return err == IMSS_OK
	               ? token_drop_half_made(r->o->token, r->j.key_label, id, id_len, dropped)
	               : err;
}

/* The rerun of a run stopped so: the key is deleted and a new one made. */
static imss_err
drop_half_made_key(struct renew *r)
{
	int dropped = 0;
	imss_err err = renew_drop_half_made(r, &dropped);

	if (err == IMSS_OK && dropped)
		ctx_log(r->ctx, IMSS_LOG_WARN,
		        _("the key '%s' the interrupted run generated kept no public key, so no request can be made for it: it was deleted and a new one is generated"),
		        r->j.key_label);
	return err;
}

imss_err
renew_ensure_key(struct renew *r)
{
	unsigned char tmp_id[KEYGEN_TMP_ID_LEN];
	unsigned flags = KEYGEN_LABEL_IS_NEW | KEYGEN_KEEP_ID;
	imss_err err;

	if (r->j.state >= JOURNAL_KEYGEN_STARTED && r->o->new_key_uri != NULL &&
	    !journal_key_elsewhere(&r->j))
		/* Never a key of its own made instead of the one named. */
		return ctx_fail_next(r->ctx, IMSS_ERR_BUSY, IMSS_NEXT_ABANDON,
		                     _("The unfinished renewal of this employer on this token was started without a key made before it: it generates its own ('%s'), not the one named now. Nothing was changed; undo it, then renew again naming that key."),
		                     r->j.key_label);
	if (r->j.state >= JOURNAL_KEYGEN_STARTED) {
		err = drop_half_made_key(r);
		if (err == IMSS_OK)
			err = resume_key(r);
		if (err == IMSS_OK && r->o->new_key_uri != NULL)
			err = same_new_key(r);
		if (err != IMSS_ERR_NO_OBJECT || r->j.state != JOURNAL_KEYGEN_STARTED)
			return err;
		/* Not generated: now, under the recorded label, checked again. */
		ctx_clear_detail(r->ctx);
		flags = KEYGEN_KEEP_ID;
	} else if (r->o->new_key_uri != NULL) {
		return adopt_new_key(r);
	} else {
		err = choose_label(r);
		if (err != IMSS_OK)
			return err;
	}
	err = record_keygen_start(r, tmp_id);
	if (err == IMSS_OK)
		err = generate_key(r, tmp_id, flags);
	r->made_key = err == IMSS_OK;
	if (err == IMSS_ERR_LABEL_IN_USE) {
		ctx_append_detail(r->ctx,
		                  _(" This renewal recorded that label: undo the renewal, then run again."));
		ctx_set_next(r->ctx, IMSS_NEXT_ABANDON);
	}
	/* The pair keeps the random ID it was made with and its hash is
	 * written (record_generated): a run stopped before the request's
	 * save finds it by them, so key-generated waits for that save
	 * (docs/design.md, "Journal writes"). */
	if (err == IMSS_OK)
		err = record_key(r, 0);
	return err;
}

/* ---- 4. the request ------------------------------------------------- */

static X509_NAME *
subject_of(const struct employer *e, const char *email)
{
	const char *const entries[][2] = {
		{ "O", e->razon_social },           { "OU", e->registro_patronal },
		{ "x500UniqueIdentifier", e->rfc }, { "CN", e->razon_social },
		{ "emailAddress", email },
	};
	X509_NAME *name = X509_NAME_new();
	size_t i;

	for (i = 0; name != NULL && i < sizeof(entries) / sizeof(entries[0]); i++)
		if (!X509_NAME_add_entry_by_txt(name, entries[i][0], MBSTRING_UTF8,
		                                (const unsigned char *)entries[i][1], -1, -1, 0)) {
			X509_NAME_free(name);
			name = NULL;
		}
	return name;
}

/* The request's subject: the employer of the current certificate, the
 * e-mail of the company data. */
static imss_err
employer_subject(struct renew *r, X509_NAME **out)
{
	struct employer e;
	imss_err err;

	*out = NULL;
	if (r->o->protocol != IMSS_PROTOCOL_IDSE) { /* the CA's own subject, as it is */
		*out = X509_NAME_dup(renew_wanted_subject(r));
		return *out ? IMSS_OK : IMSS_ERR_NOMEM;
	}
	err = current_employer(r, &e);
	if (err != IMSS_OK)
		return err;
	*out = subject_of(&e, r->company.email);
	employer_clear(&e);
	return *out ? IMSS_OK : ctx_fail_openssl(r->ctx, _("the employer's subject"));
}

/* The saved request, if it is for this key and subject. */
static int
saved_request_fits(struct renew *r, const X509_NAME *subject, unsigned char **der, size_t *len)
{
	X509_REQ *req = NULL;
	FILE *f = r->j.request_path ? fopen(r->j.request_path, "rb") : NULL;
	int n, ok = 0;

	if (f == NULL)
		return 0;
	req = d2i_X509_REQ_fp(f, NULL);
	fclose(f);
	if (req != NULL && X509_NAME_cmp(X509_REQ_get_subject_name(req), subject) == 0 &&
	    EVP_PKEY_eq(X509_REQ_get0_pubkey(req), imss_key_get_public(r->key)) == 1 &&
	    (n = i2d_X509_REQ(req, der)) > 0) {
		*len = (size_t)n;
		ok = 1;
	}
	X509_REQ_free(req);
	return ok;
}

/* The request, signed by the new key; with the CA's challenge password
 * when one was given (SCEP). */
static imss_err
make_request(struct renew *r, const X509_NAME *subject, X509_REQ **req)
{
	char challenge[256];
	imss_err err;

	if (r->o->challenge == NULL)
		return imss_request_make(r->key, subject, req);
	imss_secrets_begin();
	err = imss_pin_source_read(r->o->challenge, _("Challenge password of the CA: "), challenge,
	                           sizeof(challenge));
	if (err == IMSS_OK)
		err = request_make_with_challenge(r->key, subject, challenge, req);
	else
		ctx_fail(r->ctx, err, _("No challenge password could be read."));
	imss_wipe(challenge, sizeof(challenge));
	imss_secrets_end();
	return err;
}

imss_err
renew_ensure_request(struct renew *r, unsigned char **der, size_t *len)
{
	X509_NAME *subject = NULL;
	X509_REQ *req = NULL;
	char *path = NULL;
	imss_err err;
	int n;

	*der = NULL;
	err = employer_subject(r, &subject);
	if (err != IMSS_OK || r->j.state >= JOURNAL_CERT_RECEIVED ||
	    saved_request_fits(r, subject, der, len))
		goto out;
	err = make_request(r, subject, &req);
	if (err != IMSS_OK)
		goto out;
	n = i2d_X509_REQ(req, der);
	path = renew_state_file(r, "request", "der");
	if (n <= 0 || path == NULL) {
		err = IMSS_ERR_NOMEM;
		goto out;
	}
	*len = (size_t)n;
	/* Files only from here on, and the send that follows needs no token. */
	renew_token_leave(r);
	/* A request holding the CA's challenge is kept from other users. */
	err = imss_write_file_atomic(r->ctx, path, *der, *len, r->o->challenge ? 0600 : 0644, 1);
	if (err == IMSS_OK)
		err = renew_journal_reached(r, &r->j.request_path, path, JOURNAL_REQUEST_BUILT);
	if (err == IMSS_OK) {
		const char *f[] = { "request", path, NULL };

		renew_emit(r, "request", 4, f,
		           _("Certificate request built and signed by the token; its signature was verified against the new key."));
	}
out:
	X509_REQ_free(req);
	X509_NAME_free(subject);
	free(path);
	return err;
}

/* ---- 5. the terms letter ------------------------------------------ */

static imss_err
save_letter(struct renew *r, const struct idse_letter *l, char **path)
{
	char *rp = renew_file_safe(r->company.registro_patronal);

	*path = NULL;
	if (rp == NULL ||
	    (*path = str_printf("%s/carta-terminos-NPIE-%s.pdf", r->out_dir, rp)) == NULL) {
		free(rp);
		return IMSS_ERR_NOMEM;
	}
	free(rp);
	return imss_write_file_atomic(r->ctx, *path, l->pdf, l->len, 0644, 1);
}

/*
 * One signature of the current key for the letter and the request: its
 * signed attributes hold the request's SHA-256 (docs/protocol.md).  The
 * request is then sent bare, if the service says it holds that binding;
 * a service that does not bind requests gets it wrapped as before.
 */
static imss_err
sign_letter(struct renew *r, const struct idse_letter *l, const unsigned char *req, size_t req_len)
{
	unsigned char *cms = NULL, md[SHA256_DIGEST_LENGTH];
	char bound[65], *mine = NULL;
	size_t len = 0;
	imss_err err;

	r->letter_binds = 0;
	if (req == NULL)
		err = imss_cms_sign(r->ctx, r->o->current, l->pdf, l->len, 0, &cms, &len);
	else
		err = cms_sign_binding(r->ctx, r->o->current, l->pdf, l->len,
		                       SHA256(req, req_len, md), &cms, &len);
	if (err == IMSS_OK)
		err = idse_sign_letter(r->ctx, r->http, cms, len, bound);
	if (err == IMSS_OK && req != NULL) {
		mine = hex_encode(md, sizeof(md));
		if (mine == NULL)
			err = IMSS_ERR_NOMEM;
		else
			r->letter_binds = strcasecmp(mine, bound) == 0;
	}
	free(mine);
	OPENSSL_free(cms);
	return err;
}

/* The user signs the letter, or the run stops saying what is kept. */
static imss_err
letter_confirm(struct renew *r, const char *question)
{
	const char *key = r->key ? imss_key_get_label(r->key) : "?";
	int answer = r->ui && r->ui->confirm ? r->ui->confirm(r->ui->user, question)
	                                     : IMSS_CONFIRM_NO_TERMINAL;

	if (answer == IMSS_CONFIRM_NO_TERMINAL)
		return ctx_fail_next(r->ctx, IMSS_ERR_NO_TERMINAL, IMSS_NEXT_SAY_YES,
		                     _("The letter was not signed: there is no terminal to ask whether to sign it. The new key '%s' on the token is kept for when it is signed."),
		                     key);
	if (r->ui && r->ui->interrupted && r->ui->interrupted(r->ui->user))
		return renew_check_interrupt(r, 4);
	if (answer == 0)
		return ctx_fail_next(r->ctx, IMSS_ERR_ABORTED, IMSS_NEXT_CONTINUE,
		                     _("The letter was not signed, so nothing was submitted. Kept: the new key '%s' on the token, for when you agree."),
		                     key);
	return IMSS_OK;
}

imss_err
renew_ensure_letter(struct renew *r, const unsigned char *req, size_t req_len)
{
	struct idse_letter l;
	char *path = NULL, question[512];
	int agreed;
	imss_err err;

	err = idse_get_letter(r->ctx, r->http, &l);
	if (err == IMSS_OK)
		err = save_letter(r, &l, &path);
	if (err != IMSS_OK)
		goto out;
	{
		const char *f[] = { "letter", path, "sha256", l.sha256, NULL };

		renew_emit(r, "letter", 5, f,
		           _("Terms letter (Carta de terminos y condiciones, NPIE) saved to %s, SHA-256 %s."),
		           path, l.sha256);
	}
	if (!l.signed_already) {
		agreed = (r->o->flags & IMSS_RENEW_YES) ||
		         (r->j.letter_sha256 && strcmp(r->j.letter_sha256, l.sha256) == 0);
		snprintf(question, sizeof(question),
		         _("Sign the terms letter %s (SHA-256 %s) with your current certificate?"),
		         path, l.sha256);
		if (!agreed) {
			err = letter_confirm(r, question);
			if (err != IMSS_OK)
				goto out;
		}
		err = sign_letter(r, &l, req, req_len);
		if (err != IMSS_OK)
			goto out;
		renew_emit(r, "letter", 5, NULL,
		           _("Terms letter signed with the current certificate."));
	}
	err = journal_set(&r->j.letter_sha256, l.sha256);
	if (err == IMSS_OK)
		err = renew_journal_reached(r, &r->j.letter_path, path, JOURNAL_LETTER_SIGNED);
	if (err == IMSS_OK && (r->result->letter_path = strdup(path)) == NULL)
		err = IMSS_ERR_NOMEM;
out:
	idse_letter_clear(&l);
	free(path);
	return err;
}

/* ---- 6. submit, wait, check, store --------------------------------- */

static imss_err
wait_for_certificate(struct renew *r, struct idse_result *res)
{
	long budget = r->o->wait_seconds > 0 ? r->o->wait_seconds : 600;
	time_t deadline = time(NULL) + budget;
	imss_err err = IMSS_OK;

	while (res->cert == NULL && err == IMSS_OK) {
		long wait = res->retry_after > 0 ? res->retry_after : 5;
		time_t now = time(NULL);

		if (now >= deadline)
			return ctx_fail(r->ctx, IMSS_ERR_PENDING,
			                _("The certificate was not issued within %ld seconds (request %s). Run the same command again later: it goes on waiting for this request."),
			                budget, r->j.request_id);
		if (now + wait > deadline)
			wait = (long)(deadline - now);
		for (; wait > 0; wait--) {
			char left[32];
			const char *f[] = { "seconds", left, "request_id", r->j.request_id, NULL };

			snprintf(left, sizeof(left), "%ld", wait);
			renew_emit(r, "wait", 6, f,
			           _("Waiting for the certificate: next check in %ld s"), wait);
			sleep(1);
			if (r->ui && r->ui->interrupted && r->ui->interrupted(r->ui->user))
				return renew_check_interrupt(r, 6);
		}
		idse_result_clear(res);
		err = idse_poll(r->ctx, r->http, r->j.request_id, res);
	}
	return err;
}

static imss_err
submit_request(struct renew *r, const unsigned char *req, size_t len, struct idse_result *res)
{
	unsigned char *cms = NULL;
	size_t cms_len = 0;
	imss_err err;

	r->j.state = JOURNAL_SUBMIT_STARTED;
	err = journal_save(r->ctx, &r->j);
	if (err == IMSS_OK && !r->letter_binds) /* the two-signature shape */
		err = imss_cms_sign(r->ctx, r->o->current, req, len, IMSS_CMS_ATTACHED, &cms,
		                    &cms_len);
	if (err == IMSS_OK)
		err = idse_submit(r->ctx, r->http, cms ? cms : req, cms ? cms_len : len, res);
	OPENSSL_free(cms);
	if (err != IMSS_OK)
		return err;
	err = journal_set(&r->j.request_id, res->request_id);
	r->j.state = JOURNAL_SUBMITTED;
	if (err == IMSS_OK)
		err = journal_save(r->ctx, &r->j);
	if (err == IMSS_OK) {
		const char *f[] = { "request_id", res->request_id, NULL };

		renew_emit(r, "submit", 6, f,
		           res->cert
		                   ? _("Request submitted; the certificate was issued at once.")
		                   : _("Request submitted; the service will issue the certificate shortly."));
	}
	return err;
}

/* The copy the journal names (in the state directory), in r->cert if it
 * passes the full check again; else NULL and the reason. */
static const char *
saved_certificate_problem(struct renew *r, char *buf, size_t size)
{
	FILE *f = r->j.cert_path ? fopen(r->j.cert_path, "rb") : NULL;
	const char *why;

	if (f != NULL) {
		r->cert = d2i_X509_fp(f, NULL);
		fclose(f);
	}
	if (r->cert == NULL)
		return _("it cannot be read");
	why = renew_certificate_problem(r, r->cert, imss_key_get_public(r->key), 0, buf, size);
	if (why != NULL) {
		X509_free(r->cert);
		r->cert = NULL;
	}
	return why;
}

/* Ask for the certificate of the journal's request, wait for it, check it
 * and save it.  with_email: a fresh request (else a resumed one, whose
 * e-mail may have changed since). */
static imss_err
fetch_checked(struct renew *r, struct idse_result *res, int with_email)
{
	imss_err err = wait_for_certificate(r, res);

	if (err == IMSS_OK)
		err = renew_check_certificate(r, res->cert, imss_key_get_public(r->key), with_email);
	if (err == IMSS_OK)
		err = renew_save_certificate(r, res->cert);
	if (err == IMSS_OK) {
		r->cert = res->cert;
		res->cert = NULL;
	}
	return err;
}

/*
 * A run resumed after the certificate was received: the saved copy passes
 * the full check again, or it is not used and the certificate is asked
 * for again by the journal's request id.  The user's copy is written
 * again from what was checked.
 */
static imss_err
resume_certificate(struct renew *r)
{
	struct idse_result res = { 0 };
	char buf[512], serial[128]; /* the journal's serial, which a save replaces */
	const char *why = saved_certificate_problem(r, buf, sizeof(buf));
	imss_err err;

	snprintf(serial, sizeof(serial), "%s", r->j.cert_serial ? r->j.cert_serial : "SERIAL");
	if (why == NULL)
		return renew_user_copy(r, r->cert);
	if (r->o->protocol != IMSS_PROTOCOL_IDSE) /* no fetch by request id */
		return ctx_fail_next(r->ctx, IMSS_ERR_REFUSED_CERT, IMSS_NEXT_ABANDON,
		                     _("The certificate saved earlier (%s) was refused: %s. Nothing was stored. Undo the renewal and renew again."),
		                     r->j.cert_path ? r->j.cert_path : "?", why);
	if (r->j.request_id == NULL)
		return ctx_fail_next(r->ctx, IMSS_ERR_REFUSED_CERT, IMSS_NEXT_RECOVER,
		                     _("The certificate saved earlier (%s) was refused: %s. Nothing was stored. Fetch it again from the service by its serial, %s."),
		                     r->j.cert_path ? r->j.cert_path : "?", why, serial);
	{
		const char *f[] = { "certificate", r->j.cert_path ? r->j.cert_path : "",
			            N_("reason"),  why,
			            "request_id",  r->j.request_id,
			            NULL };

		renew_emit(r, "resume", 6, f,
		           _("The certificate saved earlier (%s) is not used: %s. Asking the service again for request %s."),
		           r->j.cert_path ? r->j.cert_path : "?", why, r->j.request_id);
	}
	err = idse_poll(r->ctx, r->http, r->j.request_id, &res);
	if (err == IMSS_OK)
		err = fetch_checked(r, &res, 0);
	if (err != IMSS_OK && err != IMSS_ERR_NETWORK && err != IMSS_ERR_TLS) {
		ctx_append_detail(r->ctx, _(" Once the service has it, fetch it by its serial, %s."),
		                  serial);
		ctx_set_next(r->ctx, IMSS_NEXT_RECOVER);
	}
	idse_result_clear(&res);
	return err;
}

imss_err
renew_submit(struct renew *r, const unsigned char *req, size_t len)
{
	struct idse_result res = { 0 };
	imss_err err = IMSS_OK;

	if (r->j.state >= JOURNAL_CERT_RECEIVED)
		return resume_certificate(r);
	if (r->o->protocol != IMSS_PROTOCOL_IDSE)
		return renew_enroll(r, req, len);
	if (r->j.state >= JOURNAL_SUBMITTED && r->j.request_id != NULL) {
		renew_emit(r, "submit", 6, NULL, _("Asking again for request %s."), r->j.request_id);
		err = idse_poll(r->ctx, r->http, r->j.request_id, &res);
	} else {
		err = submit_request(r, req, len, &res);
	}
	if (err == IMSS_OK)
		err = fetch_checked(r, &res, 1);
	idse_result_clear(&res);
	return err;
}

imss_err
renew_store(struct renew *r)
{
	unsigned char *der = NULL;
	int len = i2d_X509(r->cert, &der);
	imss_err err = IMSS_OK;
	unsigned flags = TOKEN_STORE_ONE_PER_KEY;

	if (len <= 0)
		return IMSS_ERR_NOMEM;
	/* A store never begun needs no search for a copy; one that may have
	 * happened before an interruption does. */
	if (r->j.state < JOURNAL_STORE_STARTED) {
		flags |= TOKEN_STORE_NEW;
		r->j.state = JOURNAL_STORE_STARTED;
		err = journal_save(r->ctx, &r->j);
	}
	/* The token only for the store: the journal's writes before and
	 * after it (done) go to the disk while another renewal may use it. */
	renew_token_take(r);
	if (err == IMSS_OK)
		err = token_store_certificate_ex(r->o->token, r->key, der, (size_t)len,
		                                 r->j.key_label, flags, &r->result->cert_uri);
	renew_token_leave(r);
	OPENSSL_free(der);
	if (err != IMSS_OK)
		return err;
	/* Left to the next save, done (renew_steps): a run stopped before
	 * it is in store-started, whose store finds this copy. */
	r->j.state = JOURNAL_STORED;
	r->j.unsaved = 1;
	{
		const char *f[] = { "certificate_uri", r->result->cert_uri, NULL };

		renew_emit(r, "store", 6, f,
		           _("Certificate stored on the token next to its key, and read back."));
	}
	return IMSS_OK;
}
