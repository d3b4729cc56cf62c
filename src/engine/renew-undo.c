/*
 * Undoing an unfinished renewal (--abandon) and fetching an issued
 * certificate again (recover).  Abandon deletes only the candidate key
 * the journal records, after checking its public key; recover stores a
 * certificate only next to the key it certifies.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "renew.h"

/* Is name a journal of this token: renew-*<suffix>, or renew-*<legacy>
 * (older versions' name, by serial; legacy may be NULL)? */
static int
journal_of_token(const char *name, const char *suffix, const char *legacy)
{
	size_t n = strlen(name), m = strlen(suffix), l = legacy ? strlen(legacy) : 0;

	if (strncmp(name, "renew-", 6) != 0)
		return 0;
	return (n > m + 6 && strcmp(name + n - m, suffix) == 0) ||
	       (legacy && n > l + 6 && strcmp(name + n - l, legacy) == 0);
}

/* This employer's journal on this token, taking over one an older version
 * named by serial. */
static imss_err
employer_journal(struct renew *r, const char *rp, const char *token, char **path)
{
	char *safe = renew_file_safe(rp);
	imss_err err = IMSS_ERR_NOMEM;

	*path = safe ? str_printf("%s/renew-%s-%s.json", r->state_dir, safe, token) : NULL;
	if (*path != NULL)
		err = renew_journal_adopt_old(r, rp, *path);
	free(safe);
	return err;
}

/* The one unfinished journal of this token, or the employer's. */
static imss_err
find_journal(struct renew *r, const char *rp, char **path)
{
	char *token = renew_token_name(r, 0), *old_token = renew_token_name(r, 1);
	char *suffix = token ? str_printf("-%s.json", token) : NULL;
	char *legacy = old_token ? str_printf("-%s.json", old_token) : NULL;
	struct dirent *e;
	DIR *d = NULL;
	int found = 0;
	char *damaged = NULL;
	imss_err err = IMSS_OK;

	*path = NULL;
	if (suffix == NULL || (old_token != NULL && legacy == NULL)) {
		err = IMSS_ERR_NOMEM;
		goto out;
	}
	if (rp != NULL) {
		err = employer_journal(r, rp, token, path);
		goto out;
	}
	if ((d = opendir(r->state_dir)) == NULL)
		goto none;
	while ((e = readdir(d)) != NULL) {
		struct journal j = { 0 };
		char *p;
		int exists = 0, ours;

		if (!journal_of_token(e->d_name, suffix, legacy))
			continue;
		p = str_printf("%s/%s", r->state_dir, e->d_name);
		err = p != NULL ? journal_load(r->ctx, p, &j, &exists) : IMSS_ERR_NOMEM;
		ours = 1;
		if (err == IMSS_OK && exists && !journal_of_token(e->d_name, suffix, NULL))
			err = renew_journal_ours(r, &j, &ours); /* the serial's name */
		if (err == IMSS_OK && exists && ours && j.state != JOURNAL_DONE) {
			found++;
			free(*path);
			*path = p;
			p = NULL;
		} else if (err == IMSS_ERR_JOURNAL && damaged == NULL) {
			damaged = p;
			p = NULL;
		}
		err = IMSS_OK;
		journal_clear(&j);
		free(p);
	}
	/* A damaged journal may be the renewal meant: nothing is undone
	 * until it is looked at (its own message says why). */
	if (damaged != NULL) {
		struct journal bad;
		int exists = 0;

		err = journal_load(r->ctx, damaged, &bad, &exists);
		journal_clear(&bad);
	} else if (found > 1)
		err = ctx_fail_next(r->ctx, IMSS_ERR_AMBIGUOUS_OBJECT, IMSS_NEXT_NAME_EMPLOYER,
		                    _("Several renewals on this token are unfinished; name the employer (registro patronal) whose renewal to undo."));
none:
	if (err == IMSS_OK && found == 0)
		err = ctx_fail(r->ctx, IMSS_ERR_NO_OBJECT,
		               _("No unfinished renewal on this token; nothing to undo."));
out:
	if (d != NULL)
		closedir(d);
	if (err != IMSS_OK) {
		free(*path);
		*path = NULL;
	}
	free(damaged);
	free(token);
	free(old_token);
	free(suffix);
	free(legacy);
	return err;
}

/* The saved request of this renewal, by the name this program gives it
 * (never the path a journal names: a journal is not trusted to say what
 * to delete). */
static void
remove_saved_request(struct renew *r)
{
	char *rp = renew_file_safe(r->j.registro_patronal);
	char *token, *mine;
	int legacy;

	/* by the token's name, and by the serial older versions used */
	for (legacy = 0; legacy < 2; legacy++) {
		token = renew_token_name(r, legacy);
		mine = rp && token ? str_printf("%s/request-%s-%s.der", r->state_dir, rp, token)
		                   : NULL;
		if (mine != NULL)
			unlink(mine);
		free(mine);
		free(token);
	}
	free(rp);
}

/* A renewal cut short while storing: is its certificate on the token? */
static imss_err
refuse_if_stored(struct renew *r, const imss_key *key)
{
	size_t id_len;
	const unsigned char *id = imss_key_get_id(key, &id_len);
	int beside = 0;
	imss_err err =
	        token_certificate_beside(r->o->token, id, id_len, imss_key_get_public(key), &beside);

	if (err == IMSS_OK && beside)
		err = ctx_fail(r->ctx, IMSS_ERR_INVALID_ARG,
		               _("This renewal already stored its certificate on the token; run renew again to finish it. Nothing was removed."));
	return err;
}

/* Delete the candidate key pair after checking it is the one recorded and
 * passes the ownership tests (renew_find_journal_key). */
static imss_err
delete_candidate(struct renew *r, char **removed)
{
	imss_key *key = NULL;
	size_t id_len;
	const unsigned char *id;
	char *pub_uri = NULL;
	int dropped = 0;
	imss_err err;

	err = renew_drop_half_made(r, &dropped);
	if (err == IMSS_OK && dropped) {
		*removed =
		        str_printf(_("the new key '%s' (its public key went with the interrupted run)"),
		                   r->j.key_label);
		return *removed ? IMSS_OK : IMSS_ERR_NOMEM;
	}
	if (err == IMSS_OK)
		err = renew_find_journal_key(r, &key);
	if (err == IMSS_ERR_NO_OBJECT) {
		*removed = str_printf(_("no key (none had been generated, or it was gone)"));
		return *removed ? IMSS_OK : IMSS_ERR_NOMEM;
	}
	if (err == IMSS_OK && r->j.state >= JOURNAL_STORE_STARTED)
		err = refuse_if_stored(r, key);
	if (err != IMSS_OK) {
		imss_key_free(key);
		return err;
	}
	id = imss_key_get_id(key, &id_len);
	pub_uri = object_uri(r->o->token, CKO_PUBLIC_KEY, id, id_len, NULL);
	err = pub_uri ? imss_token_delete_object(r->o->token, imss_key_get_uri(key),
	                                         imss_key_get_public(key))
	              : IMSS_ERR_NOMEM;
	if (err == IMSS_OK) {
		err = imss_token_delete_object(r->o->token, pub_uri, imss_key_get_public(key));
		if (err == IMSS_ERR_NO_OBJECT)
			err = IMSS_OK; /* a token that keeps no public object */
	}
	if (err == IMSS_OK &&
	    (*removed = str_printf(_("the new key '%s' (%s) and its public key"),
	                           imss_key_get_label(key), imss_key_get_uri(key))) == NULL)
		err = IMSS_ERR_NOMEM;
	free(pub_uri);
	imss_key_free(key);
	return err;
}

imss_err
renew_undo_refused(struct renew *r)
{
	char *removed = NULL;
	imss_err err = IMSS_OK;

	if (!journal_key_elsewhere(&r->j) && r->j.state >= JOURNAL_KEYGEN_STARTED) {
		imss_key_free(r->key); /* deleted: found again and proven ours */
		r->key = NULL;
		err = delete_candidate(r, &removed);
	}
	if (err == IMSS_OK) {
		remove_saved_request(r);
		if (r->j.path != NULL && unlink(r->j.path) != 0)
			err = ctx_fail(r->ctx, IMSS_ERR_IO, _("Cannot remove the journal '%s'."),
			               r->j.path);
	}
	free(removed);
	return err;
}

imss_err
imss_renew_abandon(imss_ctx *ctx, const imss_renew_options *o, const char *rp, char **removed)
{
	struct renew r;
	char *path = NULL;
	int exists = 0;
	imss_err err;

	*removed = NULL;
	err = renew_setup(&r, ctx, o, NULL, NULL);
	if (err == IMSS_OK)
		err = renew_lock_token(&r, rp);
	if (err == IMSS_OK)
		err = find_journal(&r, rp, &path);
	if (err == IMSS_OK)
		err = journal_load(ctx, path, &r.j, &exists);
	if (err == IMSS_OK && (!exists || r.j.state == JOURNAL_DONE))
		err = ctx_fail(ctx, IMSS_ERR_NO_OBJECT, _("No unfinished renewal; nothing to undo."));
	if (err == IMSS_OK && r.j.state >= JOURNAL_STORED)
		err = ctx_fail(ctx, IMSS_ERR_INVALID_ARG,
		               _("This renewal already stored its certificate on the token; run renew again to finish it. Nothing was removed."));
	if (err == IMSS_OK && r.j.state >= JOURNAL_SUBMIT_STARTED && !(o->flags & IMSS_RENEW_FORCE))
		err = ctx_fail_next(ctx, IMSS_ERR_INVALID_ARG, IMSS_NEXT_FORCE,
		                    _("The request of this renewal was sent to the service, which may have issued its certificate already; the current certificate renews only once, so undoing now could leave the employer with no way to renew online. Nothing was removed: run renew again to finish it, or recover the certificate."));
	if (err == IMSS_OK && journal_key_elsewhere(&r.j))
		/* Never deleted: the renewal did not make it; only forgotten. */
		*removed =
		        str_printf(_("no key (the key '%s' was made before the renewal and is kept on the token)"),
		                   r.j.key_label);
	else if (err == IMSS_OK && r.j.state >= JOURNAL_KEYGEN_STARTED)
		err = delete_candidate(&r, removed);
	else if (err == IMSS_OK)
		*removed = str_printf(_("no key (none had been generated)"));
	if (err == IMSS_OK) {
		remove_saved_request(&r);
		if (unlink(path) != 0)
			err = ctx_fail(ctx, IMSS_ERR_IO, _("Cannot remove the journal '%s'."), path);
	}
	free(path);
	renew_free(&r);
	if (err != IMSS_OK) {
		free(*removed);
		*removed = NULL;
	}
	return err;
}

/* Is the journal of this employer and token an unfinished renewal of key?
 * (A damaged journal stops the recovery before anything is stored.) */
static imss_err
recover_journal_load(struct renew *r, const imss_key *key, int *ours)
{
	char *hex;
	const unsigned char *id;
	size_t id_len;
	int exists = 0;
	imss_err err = renew_journal_load(r, &exists);

	*ours = 0;
	if (err != IMSS_OK || !exists || r->j.state == JOURNAL_DONE || r->j.key_id == NULL)
		return err;
	id = imss_key_get_id(key, &id_len);
	if ((hex = hex_encode(id, id_len)) == NULL)
		return IMSS_ERR_NOMEM;
	*ours = strcmp(hex, r->j.key_id) == 0;
	free(hex);
	return IMSS_OK;
}

/* That renewal learns that its certificate is on the token and where its
 * copy is (in the state directory, checked again when read): `renew` then
 * finds it there instead of storing it twice. */
static imss_err
recover_journal_update(struct renew *r, X509 *cert)
{
	imss_cert_info info;
	char *kept = NULL;
	imss_err err = imss_cert_describe(cert, &info);

	if (err != IMSS_OK)
		return err;
	err = renew_keep_certificate(r, cert, &kept);
	if (err == IMSS_OK)
		err = journal_set(&r->j.cert_path, kept);
	if (err == IMSS_OK)
		err = journal_set(&r->j.cert_serial, info.serial);
	free(kept);
	imss_cert_info_clear(&info);
	if (err == IMSS_OK && r->j.state < JOURNAL_STORE_STARTED)
		r->j.state = JOURNAL_STORE_STARTED;
	if (err == IMSS_OK)
		err = journal_save(r->ctx, &r->j);
	return err;
}

static imss_err
recover_store(struct renew *r, X509 *cert)
{
	unsigned char *der = NULL;
	imss_key *key = NULL;
	imss_err err;
	int len, ours = 0;

	err = r->o->new_key_uri ? imss_token_find_key(r->o->token, r->o->new_key_uri, &key)
	                        : imss_token_find_key_for(r->o->token, X509_get0_pubkey(cert), &key);
	if (err == IMSS_OK && r->o->new_key_uri &&
	    EVP_PKEY_eq(imss_key_get_public(key), X509_get0_pubkey(cert)) != 1)
		err = ctx_fail(r->ctx, IMSS_ERR_MISMATCH, "%s",
		               _("The certificate is not for the key named as its key; nothing was stored."));
	if (err == IMSS_ERR_NO_OBJECT)
		ctx_append_detail(r->ctx,
		                  _(" The certificate's key is not on this token; nothing was stored."));
	/* The full check of a new certificate, all but the e-mail (changed
	 * since, maybe). */
	if (err == IMSS_OK)
		err = renew_check_certificate(r, cert, imss_key_get_public(key), 0);
	if (err == IMSS_OK)
		err = recover_journal_load(r, key, &ours);
	if (err == IMSS_OK)
		err = renew_write_certificate(r, cert, &r->result->cert_path);
	len = err == IMSS_OK ? i2d_X509(cert, &der) : 0;
	if (err == IMSS_OK && len <= 0)
		err = IMSS_ERR_NOMEM;
	if (err == IMSS_OK)
		err = token_store_certificate_ex(r->o->token, key, der, (size_t)len, r->o->label,
		                                 TOKEN_STORE_ONE_PER_KEY, &r->result->cert_uri);
	if (err == IMSS_OK && ours)
		err = recover_journal_update(r, cert);
	if (err == IMSS_OK && (r->result->key_uri = strdup(imss_key_get_uri(key))) == NULL)
		err = IMSS_ERR_NOMEM;
	OPENSSL_free(der);
	imss_key_free(key);
	return err;
}

imss_err
imss_recover(imss_ctx *ctx, const imss_renew_options *o, const char *serial,
             const imss_renew_ui *ui, imss_renew_result *result)
{
	struct idse_result res = { 0 };
	imss_renew_options quiet = *o;
	imss_cert_info info;
	struct renew r;
	imss_err err;

	quiet.flags |= IMSS_RENEW_YES;
	quiet.email = NULL;
	err = renew_setup(&r, ctx, &quiet, ui, result);
	if (err == IMSS_OK && o->protocol != IMSS_PROTOCOL_IDSE)
		err = ctx_fail(ctx, IMSS_ERR_UNSUPPORTED,
		               _("recover fetches a certificate from the IDSE service by its serial; %s has no such request here. Run renew again: it continues the unfinished renewal."),
		               imss_protocol_name(o->protocol));
	if (err == IMSS_OK && (o->server == NULL || o->user == NULL || o->current == NULL ||
	                       o->password == NULL || serial == NULL))
		err = ctx_fail(ctx, IMSS_ERR_INVALID_ARG,
		               _("Recovery needs the server, the user, the current credential, the token and the serial."));
	if (err == IMSS_OK)
		err = renew_lock_token(&r, NULL);
	if (err == IMSS_OK)
		err = renew_connect(&r);
	if (err == IMSS_OK)
		err = renew_login(&r);
	if (err == IMSS_OK)
		err = idse_get_company(ctx, r.http, &r.company);
	if (err == IMSS_OK)
		err = renew_check_employer(&r);
	if (err == IMSS_OK)
		err = idse_get_certificate(ctx, r.http, serial, &res);
	if (err == IMSS_OK)
		err = recover_store(&r, res.cert);
	if (err == IMSS_OK && imss_cert_describe(res.cert, &info) == IMSS_OK) {
		result->serial = info.serial;
		result->subject = info.subject;
		result->not_before = info.not_before;
		result->not_after = info.not_after;
		info.serial = info.subject = NULL;
		imss_cert_info_clear(&info);
	}
	idse_result_clear(&res);
	renew_free(&r);
	if (err != IMSS_OK)
		imss_renew_result_clear(result);
	return err;
}
