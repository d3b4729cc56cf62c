/*
 * --retire-old: only after the new certificate is stored and the journal
 * says done, and only with the user's yes, the old token credential is
 * relabelled "LABEL (retired DATE)" or, if asked, deleted after its
 * public key is checked.  A file credential is never touched.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "renew.h"

static imss_err
delete_old(struct renew *r, imss_key *old)
{
	/* The private key first: an EC private key is checked through its
	 * public key or certificate, which must still be there. */
	static const CK_OBJECT_CLASS classes[] = { CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE };
	imss_token *tok = imss_key_get_token(old);
	size_t id_len, i;
	const unsigned char *id = imss_key_get_id(old, &id_len);
	imss_err err = IMSS_OK;

	for (i = 0; err == IMSS_OK && i < sizeof(classes) / sizeof(classes[0]); i++) {
		char *uri = object_uri(tok, classes[i], id, id_len, NULL);

		err = uri ? imss_token_delete_object(tok, uri, imss_key_get_public(old))
		          : IMSS_ERR_NOMEM;
		if (err == IMSS_ERR_NO_OBJECT && classes[i] != CKO_PRIVATE_KEY)
			err = IMSS_OK; /* no public key or certificate kept */
		free(uri);
	}
	return err;
}

static imss_err
relabel_old(struct renew *r, imss_key *old, char *label)
{
	size_t id_len;
	const unsigned char *id = imss_key_get_id(old, &id_len);
	unsigned count = 0;

	(void)r;
	return token_relabel_id(imss_key_get_token(old), id, id_len, label, &count);
}

/* Retiring proves in reverse what the renewal proved of its new key: only
 * after the journal says done, and only a key that is not the new one (its
 * public key) and shares nothing with it on the same token (its ID: the
 * old objects are relabelled and deleted by ID). */
static imss_err
check_not_new(struct renew *r, imss_key *old)
{
	size_t old_len, new_len;
	const unsigned char *old_id = imss_key_get_id(old, &old_len), *new_id = NULL;
	int same = r->key == NULL || r->j.state != JOURNAL_DONE;

	if (!same) {
		new_id = imss_key_get_id(r->key, &new_len);
		same = EVP_PKEY_eq(imss_key_get_public(old), imss_key_get_public(r->key)) == 1 ||
		       (imss_key_get_token(old) == imss_key_get_token(r->key) &&
		        old_len == new_len && memcmp(old_id, new_id, old_len) == 0);
	}
	if (same)
		return ctx_fail(r->ctx, IMSS_ERR_MISMATCH,
		                _("The old key '%s' cannot be told apart from the new key of this renewal; it was left as it is."),
		                imss_key_get_label(old));
	return IMSS_OK;
}

imss_err
renew_retire_old(struct renew *r)
{
	imss_key *old = imss_credential_get_token_key(r->o->current);
	int delete = (r->o->flags & IMSS_RENEW_RETIRE_DELETE) != 0;
	char stamp[16], *label = NULL, *question = NULL;
	time_t now = time(NULL);
	struct tm tm;
	imss_err err = IMSS_OK;

	if (old == NULL) {
		renew_emit(r, "retire", 7, NULL,
		           _("The old credential is a file; it was left as it is."));
		return IMSS_OK;
	}
	err = check_not_new(r, old);
	if (err != IMSS_OK)
		return err;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d", &tm);
	label = str_printf(_("%s (retired %s)"), imss_key_get_label(old), stamp);
	question = delete ? str_printf(_("Delete the old key and certificate '%s' from the token?"),
	                               imss_key_get_label(old))
	                  : str_printf(_("Relabel the old key and certificate '%s' as '%s'?"),
	                               imss_key_get_label(old), label ? label : "");
	if (label == NULL || question == NULL) {
		err = IMSS_ERR_NOMEM;
		goto out;
	}
	if (!(r->o->flags & IMSS_RENEW_YES) &&
	    !(r->ui && r->ui->confirm && r->ui->confirm(r->ui->user, question) == 1)) {
		renew_emit(r, "retire", 7, NULL, _("The old credential was left as it is."));
		goto out;
	}
	err = delete ? delete_old(r, old) : relabel_old(r, old, label);
	if (err == IMSS_OK)
		renew_emit(r, "retire", 7, NULL,
		           delete ? _("The old key and certificate were deleted from the token.")
		                  : _("The old key and certificate were relabelled."));
out:
	free(label);
	free(question);
	return err;
}
