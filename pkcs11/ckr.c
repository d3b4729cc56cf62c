/*
 * PKCS#11 return values in words a user understands, each naming what to
 * do next, and their mapping onto imss_err.
 */
#include <search.h>

#include "token-internal.h"

#define CKR_CASE(x) \
	case x:     \
		return #x

const char *
ckr_name(CK_RV rv)
{
	switch (rv) {
		CKR_CASE(CKR_OK);
		CKR_CASE(CKR_CANCEL);
		CKR_CASE(CKR_HOST_MEMORY);
		CKR_CASE(CKR_SLOT_ID_INVALID);
		CKR_CASE(CKR_GENERAL_ERROR);
		CKR_CASE(CKR_FUNCTION_FAILED);
		CKR_CASE(CKR_ARGUMENTS_BAD);
		CKR_CASE(CKR_ATTRIBUTE_READ_ONLY);
		CKR_CASE(CKR_ATTRIBUTE_SENSITIVE);
		CKR_CASE(CKR_ATTRIBUTE_TYPE_INVALID);
		CKR_CASE(CKR_ATTRIBUTE_VALUE_INVALID);
		CKR_CASE(CKR_ACTION_PROHIBITED);
		CKR_CASE(CKR_DATA_INVALID);
		CKR_CASE(CKR_DATA_LEN_RANGE);
		CKR_CASE(CKR_DEVICE_ERROR);
		CKR_CASE(CKR_DEVICE_MEMORY);
		CKR_CASE(CKR_DEVICE_REMOVED);
		CKR_CASE(CKR_FUNCTION_CANCELED);
		CKR_CASE(CKR_FUNCTION_NOT_SUPPORTED);
		CKR_CASE(CKR_KEY_HANDLE_INVALID);
		CKR_CASE(CKR_KEY_SIZE_RANGE);
		CKR_CASE(CKR_KEY_TYPE_INCONSISTENT);
		CKR_CASE(CKR_KEY_FUNCTION_NOT_PERMITTED);
		CKR_CASE(CKR_MECHANISM_INVALID);
		CKR_CASE(CKR_MECHANISM_PARAM_INVALID);
		CKR_CASE(CKR_OBJECT_HANDLE_INVALID);
		CKR_CASE(CKR_OPERATION_ACTIVE);
		CKR_CASE(CKR_OPERATION_NOT_INITIALIZED);
		CKR_CASE(CKR_PIN_INCORRECT);
		CKR_CASE(CKR_PIN_INVALID);
		CKR_CASE(CKR_PIN_LEN_RANGE);
		CKR_CASE(CKR_PIN_EXPIRED);
		CKR_CASE(CKR_PIN_LOCKED);
		CKR_CASE(CKR_SESSION_CLOSED);
		CKR_CASE(CKR_SESSION_COUNT);
		CKR_CASE(CKR_SESSION_HANDLE_INVALID);
		CKR_CASE(CKR_SESSION_READ_ONLY);
		CKR_CASE(CKR_SESSION_READ_ONLY_EXISTS);
		CKR_CASE(CKR_SIGNATURE_INVALID);
		CKR_CASE(CKR_SIGNATURE_LEN_RANGE);
		CKR_CASE(CKR_TEMPLATE_INCOMPLETE);
		CKR_CASE(CKR_TEMPLATE_INCONSISTENT);
		CKR_CASE(CKR_TOKEN_NOT_PRESENT);
		CKR_CASE(CKR_TOKEN_NOT_RECOGNIZED);
		CKR_CASE(CKR_TOKEN_WRITE_PROTECTED);
		CKR_CASE(CKR_USER_ALREADY_LOGGED_IN);
		CKR_CASE(CKR_USER_NOT_LOGGED_IN);
		CKR_CASE(CKR_USER_PIN_NOT_INITIALIZED);
		CKR_CASE(CKR_USER_TYPE_INVALID);
		CKR_CASE(CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
		CKR_CASE(CKR_USER_TOO_MANY_TYPES);
		CKR_CASE(CKR_DOMAIN_PARAMS_INVALID);
		CKR_CASE(CKR_CURVE_NOT_SUPPORTED);
		CKR_CASE(CKR_BUFFER_TOO_SMALL);
		CKR_CASE(CKR_RANDOM_NO_RNG);
		CKR_CASE(CKR_CRYPTOKI_NOT_INITIALIZED);
		CKR_CASE(CKR_CRYPTOKI_ALREADY_INITIALIZED);
		CKR_CASE(CKR_FUNCTION_REJECTED);
		CKR_CASE(CKR_PIN_TOO_WEAK);
	}
	return "CKR_VENDOR_OR_UNKNOWN";
}

/*
 * What a return value means: the imss_err it maps onto, what to do next
 * (the code the tool renders with its options), and the words a user reads
 * (what happened and what to do next).  A value not listed is
 * IMSS_ERR_PKCS11, with the words of unexpected, to be reported.
 */
struct ckr_meaning {
	CK_RV rv;
	imss_err err;
	imss_next next;
	const char *message; /* N_() */
};

static const struct ckr_meaning meanings[] = {
	{ CKR_OK, IMSS_OK, IMSS_NEXT_NONE, N_("no error") },
	{ CKR_HOST_MEMORY, IMSS_ERR_NOMEM, IMSS_NEXT_NONE,
	  N_("the computer ran out of memory; close other programs and try again") },
	{ CKR_DEVICE_MEMORY, IMSS_ERR_PKCS11, IMSS_NEXT_FREE_TOKEN,
	  N_("the token is full; see what is on it, delete what you no longer need with the token's own tool, and try again") },
	{ CKR_DEVICE_REMOVED, IMSS_ERR_TOKEN_REMOVED, IMSS_NEXT_NONE,
	  N_("the token was removed; insert it again and re-run the command (nothing was lost)") },
	{ CKR_TOKEN_NOT_PRESENT, IMSS_ERR_TOKEN_REMOVED, IMSS_NEXT_NONE,
	  N_("the token was removed; insert it again and re-run the command (nothing was lost)") },
	{ CKR_SESSION_HANDLE_INVALID, IMSS_ERR_SESSION_LOST, IMSS_NEXT_NONE,
	  N_("the session with the token was closed (token removed or reset); re-run the command") },
	{ CKR_SESSION_CLOSED, IMSS_ERR_SESSION_LOST, IMSS_NEXT_NONE,
	  N_("the session with the token was closed (token removed or reset); re-run the command") },
	{ CKR_DEVICE_ERROR, IMSS_ERR_DEVICE, IMSS_NEXT_DEVICE_ACCESS,
	  N_("the token or its reader did not answer; check that your user may use it (pcscd running, and the udev rules of imss-renew installed and loaded, then plug it in again), then re-run the command") },
	{ CKR_GENERAL_ERROR, IMSS_ERR_DEVICE, IMSS_NEXT_DEVICE_ACCESS,
	  N_("the token or its reader did not answer; check that your user may use it (pcscd running, and the udev rules of imss-renew installed and loaded, then plug it in again), then re-run the command") },
	{ CKR_FUNCTION_FAILED, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the token could not complete the operation; re-run the command, and if it fails again check the token with 'imss-renew doctor'") },
	{ CKR_PIN_INCORRECT, IMSS_ERR_PIN_INCORRECT, IMSS_NEXT_NONE,
	  N_("the PIN is wrong; check it before trying again, as each wrong try brings the token closer to locking") },
	{ CKR_PIN_INVALID, IMSS_ERR_PIN_INCORRECT, IMSS_NEXT_NONE,
	  N_("the PIN is wrong; check it before trying again, as each wrong try brings the token closer to locking") },
	{ CKR_PIN_LEN_RANGE, IMSS_ERR_PIN_INCORRECT, IMSS_NEXT_NONE,
	  N_("the PIN has the wrong length for this token; check the PIN") },
	{ CKR_PIN_LOCKED, IMSS_ERR_PIN_LOCKED, IMSS_NEXT_UNLOCK_PIN,
	  N_("the user PIN is locked; unlock it with the token's SO PIN or PUK, or ask your token administrator") },
	{ CKR_PIN_EXPIRED, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the PIN has expired; change it with the token's own tool and try again") },
	{ CKR_USER_PIN_NOT_INITIALIZED, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the token has no user PIN yet; initialise it with the token's own tool") },
	{ CKR_USER_NOT_LOGGED_IN, IMSS_ERR_NOT_LOGGED_IN, IMSS_NEXT_NONE,
	  N_("the token needs a login first") },
	{ CKR_USER_ANOTHER_ALREADY_LOGGED_IN, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("another user is logged in to the token; close other programs using it and try again") },
	{ CKR_USER_TOO_MANY_TYPES, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("another user is logged in to the token; close other programs using it and try again") },
	{ CKR_TOKEN_WRITE_PROTECTED, IMSS_ERR_READ_ONLY, IMSS_NEXT_NONE,
	  N_("the token is write-protected; use a token that allows writing") },
	{ CKR_SESSION_READ_ONLY, IMSS_ERR_READ_ONLY, IMSS_NEXT_NONE,
	  N_("the token is write-protected; use a token that allows writing") },
	{ CKR_MECHANISM_INVALID, IMSS_ERR_UNSUPPORTED, IMSS_NEXT_NONE,
	  N_("the token does not support this algorithm; choose another key type (see 'imss-renew doctor')") },
	{ CKR_MECHANISM_PARAM_INVALID, IMSS_ERR_UNSUPPORTED, IMSS_NEXT_NONE,
	  N_("the token does not support this algorithm; choose another key type (see 'imss-renew doctor')") },
	{ CKR_KEY_SIZE_RANGE, IMSS_ERR_UNSUPPORTED, IMSS_NEXT_OTHER_KEY_TYPE,
	  N_("the token does not support this key size or curve; choose another key type (see 'imss-renew doctor')") },
	{ CKR_CURVE_NOT_SUPPORTED, IMSS_ERR_UNSUPPORTED, IMSS_NEXT_OTHER_KEY_TYPE,
	  N_("the token does not support this key size or curve; choose another key type (see 'imss-renew doctor')") },
	{ CKR_DOMAIN_PARAMS_INVALID, IMSS_ERR_UNSUPPORTED, IMSS_NEXT_OTHER_KEY_TYPE,
	  N_("the token does not support this key size or curve; choose another key type (see 'imss-renew doctor')") },
	{ CKR_ATTRIBUTE_TYPE_INVALID, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the token does not accept the key attributes asked for") },
	{ CKR_ATTRIBUTE_VALUE_INVALID, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the token does not accept the key attributes asked for") },
	{ CKR_TEMPLATE_INCONSISTENT, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the token does not accept the key attributes asked for") },
	{ CKR_TEMPLATE_INCOMPLETE, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the token does not accept the key attributes asked for") },
	{ CKR_ATTRIBUTE_READ_ONLY, IMSS_ERR_READ_ONLY, IMSS_NEXT_NONE,
	  N_("the token does not allow changing this attribute") },
	{ CKR_ATTRIBUTE_SENSITIVE, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the token keeps this value secret (as it should for a private key)") },
	{ CKR_KEY_FUNCTION_NOT_PERMITTED, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("this key may not be used for signing; choose another key") },
	{ CKR_KEY_TYPE_INCONSISTENT, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("this key may not be used for signing; choose another key") },
	{ CKR_KEY_HANDLE_INVALID, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the object disappeared from the token; re-run the command") },
	{ CKR_OBJECT_HANDLE_INVALID, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the object disappeared from the token; re-run the command") },
	{ CKR_SESSION_COUNT, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the token has too many open sessions; close other programs using it and try again") },
	{ CKR_OPERATION_ACTIVE, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the token is busy with another operation; try again") },
	{ CKR_FUNCTION_CANCELED, IMSS_ERR_PIN_CANCELLED, IMSS_NEXT_NONE,
	  N_("the operation was cancelled on the token") },
	{ CKR_CANCEL, IMSS_ERR_PIN_CANCELLED, IMSS_NEXT_NONE,
	  N_("the operation was cancelled on the token") },
	{ CKR_ACTION_PROHIBITED, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the token refused the operation by its policy") },
	{ CKR_FUNCTION_REJECTED, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the token refused the operation by its policy") },
	{ CKR_RANDOM_NO_RNG, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the token has no random number generator") },
	{ CKR_TOKEN_NOT_RECOGNIZED, IMSS_ERR_PKCS11, IMSS_NEXT_CHECK_MODULE,
	  N_("the token is not recognised by its driver; check that the right PKCS#11 module is used") },
	{ CKR_CRYPTOKI_NOT_INITIALIZED, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the PKCS#11 module was not initialised; this is a bug, please report it") },
	{ CKR_FUNCTION_NOT_SUPPORTED, IMSS_ERR_UNSUPPORTED, IMSS_NEXT_NONE,
	  N_("the token's driver does not implement this function") },
	{ CKR_DATA_LEN_RANGE, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the token rejected the data to sign") },
	{ CKR_DATA_INVALID, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the token rejected the data to sign") },
	{ CKR_PIN_TOO_WEAK, IMSS_ERR_PKCS11, IMSS_NEXT_NONE,
	  N_("the new PIN is too weak for this token") },
};

/* The words of a value not listed. */
static const char unexpected[] = N_(
        "the token returned an unexpected error; re-run the command showing its progress, and report it if it persists");

static int
rv_differs(const void *rv, const void *meaning)
{
	return *(const CK_RV *)rv != ((const struct ckr_meaning *)meaning)->rv;
}

static const struct ckr_meaning *
ckr_meaning_of(CK_RV rv)
{
	size_t count = sizeof(meanings) / sizeof(meanings[0]);

	return lfind(&rv, meanings, &count, sizeof(meanings[0]), rv_differs);
}

/* What happened, and what to do next. */
const char *
ckr_message(CK_RV rv)
{
	const struct ckr_meaning *m = ckr_meaning_of(rv);

	return _(m ? m->message : unexpected);
}

/* What ckr_message() says to do next, as the code the tool renders with
 * its options; an unexpected value is to be reported. */
imss_next
ckr_next(CK_RV rv)
{
	const struct ckr_meaning *m = ckr_meaning_of(rv);

	return m ? m->next : IMSS_NEXT_REPORT;
}

imss_err
ckr_to_err(CK_RV rv)
{
	const struct ckr_meaning *m = ckr_meaning_of(rv);

	return m ? m->err : IMSS_ERR_PKCS11;
}
