/*
 * PKCS#11 return values in words a user understands, each naming what to
 * do next, and their mapping onto imss_err.
 */
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

/* What happened, and what to do next. */
const char *
ckr_message(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return _("no error");
	case CKR_HOST_MEMORY:
		return _("the computer ran out of memory; close other programs and try again");
	case CKR_DEVICE_MEMORY:
		return _("the token is full; see what is on it, delete what you no longer need with the token's own tool, and try again");
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
		return _("the token was removed; insert it again and re-run the command (nothing was lost)");
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
		return _("the session with the token was closed (token removed or reset); re-run the command");
	case CKR_DEVICE_ERROR:
	case CKR_GENERAL_ERROR:
		return _("the token or its reader did not answer; check that your user may use it (pcscd running, and the udev rules of imss-renew installed and loaded, then plug it in again), then re-run the command");
	case CKR_FUNCTION_FAILED:
		return _("the token could not complete the operation; re-run the command, and if it fails again check the token with 'imss-renew doctor'");
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
		return _("the PIN is wrong; check it before trying again, as each wrong try brings the token closer to locking");
	case CKR_PIN_LEN_RANGE:
		return _("the PIN has the wrong length for this token; check the PIN");
	case CKR_PIN_LOCKED:
		return _("the user PIN is locked; unlock it with the token's SO PIN or PUK, or ask your token administrator");
	case CKR_PIN_EXPIRED:
		return _("the PIN has expired; change it with the token's own tool and try again");
	case CKR_USER_PIN_NOT_INITIALIZED:
		return _("the token has no user PIN yet; initialise it with the token's own tool");
	case CKR_USER_NOT_LOGGED_IN:
		return _("the token needs a login first");
	case CKR_USER_ANOTHER_ALREADY_LOGGED_IN:
	case CKR_USER_TOO_MANY_TYPES:
		return _("another user is logged in to the token; close other programs using it and try again");
	case CKR_TOKEN_WRITE_PROTECTED:
	case CKR_SESSION_READ_ONLY:
		return _("the token is write-protected; use a token that allows writing");
	case CKR_MECHANISM_INVALID:
	case CKR_MECHANISM_PARAM_INVALID:
		return _("the token does not support this algorithm; choose another key type (see 'imss-renew doctor')");
	case CKR_KEY_SIZE_RANGE:
	case CKR_CURVE_NOT_SUPPORTED:
	case CKR_DOMAIN_PARAMS_INVALID:
		return _("the token does not support this key size or curve; choose another key type (see 'imss-renew doctor')");
	case CKR_ATTRIBUTE_TYPE_INVALID:
	case CKR_ATTRIBUTE_VALUE_INVALID:
	case CKR_TEMPLATE_INCONSISTENT:
	case CKR_TEMPLATE_INCOMPLETE:
		return _("the token does not accept the key attributes asked for");
	case CKR_ATTRIBUTE_READ_ONLY:
		return _("the token does not allow changing this attribute");
	case CKR_ATTRIBUTE_SENSITIVE:
		return _("the token keeps this value secret (as it should for a private key)");
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
	case CKR_KEY_TYPE_INCONSISTENT:
		return _("this key may not be used for signing; choose another key");
	case CKR_KEY_HANDLE_INVALID:
	case CKR_OBJECT_HANDLE_INVALID:
		return _("the object disappeared from the token; re-run the command");
	case CKR_SESSION_COUNT:
		return _("the token has too many open sessions; close other programs using it and try again");
	case CKR_OPERATION_ACTIVE:
		return _("the token is busy with another operation; try again");
	case CKR_FUNCTION_CANCELED:
	case CKR_CANCEL:
		return _("the operation was cancelled on the token");
	case CKR_ACTION_PROHIBITED:
	case CKR_FUNCTION_REJECTED:
		return _("the token refused the operation by its policy");
	case CKR_RANDOM_NO_RNG:
		return _("the token has no random number generator");
	case CKR_TOKEN_NOT_RECOGNIZED:
		return _("the token is not recognised by its driver; check that the right PKCS#11 module is used");
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		return _("the PKCS#11 module was not initialised; this is a bug, please report it");
	case CKR_FUNCTION_NOT_SUPPORTED:
		return _("the token's driver does not implement this function");
	case CKR_DATA_LEN_RANGE:
	case CKR_DATA_INVALID:
		return _("the token rejected the data to sign");
	case CKR_PIN_TOO_WEAK:
		return _("the new PIN is too weak for this token");
	default:
		return _("the token returned an unexpected error; re-run the command showing its progress, and report it if it persists");
	}
}

/* What ckr_message() says to do next, as the code the tool renders with
 * its options. */
imss_next
ckr_next(CK_RV rv)
{
	switch (rv) {
	case CKR_DEVICE_MEMORY:
		return IMSS_NEXT_FREE_TOKEN;
	case CKR_DEVICE_ERROR:
	case CKR_GENERAL_ERROR:
		return IMSS_NEXT_DEVICE_ACCESS;
	case CKR_PIN_LOCKED:
		return IMSS_NEXT_UNLOCK_PIN;
	case CKR_KEY_SIZE_RANGE:
	case CKR_CURVE_NOT_SUPPORTED:
	case CKR_DOMAIN_PARAMS_INVALID:
		return IMSS_NEXT_OTHER_KEY_TYPE;
	case CKR_TOKEN_NOT_RECOGNIZED:
		return IMSS_NEXT_CHECK_MODULE;
	default:
		/* The unexpected ones: ckr_message()'s default answer. */
		return ckr_message(rv) == ckr_message(CKR_VENDOR_DEFINED) ? IMSS_NEXT_REPORT
		                                                          : IMSS_NEXT_NONE;
	}
}

imss_err
ckr_to_err(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return IMSS_OK;
	case CKR_HOST_MEMORY:
		return IMSS_ERR_NOMEM;
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
		return IMSS_ERR_TOKEN_REMOVED;
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
		return IMSS_ERR_SESSION_LOST;
	case CKR_DEVICE_ERROR:
	case CKR_GENERAL_ERROR:
		return IMSS_ERR_DEVICE;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
		return IMSS_ERR_PIN_INCORRECT;
	case CKR_PIN_LOCKED:
		return IMSS_ERR_PIN_LOCKED;
	case CKR_USER_NOT_LOGGED_IN:
		return IMSS_ERR_NOT_LOGGED_IN;
	case CKR_TOKEN_WRITE_PROTECTED:
	case CKR_SESSION_READ_ONLY:
	case CKR_ATTRIBUTE_READ_ONLY:
		return IMSS_ERR_READ_ONLY;
	case CKR_MECHANISM_INVALID:
	case CKR_MECHANISM_PARAM_INVALID:
	case CKR_KEY_SIZE_RANGE:
	case CKR_CURVE_NOT_SUPPORTED:
	case CKR_DOMAIN_PARAMS_INVALID:
	case CKR_FUNCTION_NOT_SUPPORTED:
		return IMSS_ERR_UNSUPPORTED;
	case CKR_FUNCTION_CANCELED:
	case CKR_CANCEL:
		return IMSS_ERR_PIN_CANCELLED;
	default:
		return IMSS_ERR_PKCS11;
	}
}
