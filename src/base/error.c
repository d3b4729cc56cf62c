/*
 * imss_strerror: one sentence per error code.  A switch without a default,
 * so the compiler names any code that lacks its message.
 */
#include "imss-renew/imss-renew.h"
#include "imss-renew/base.h"

const char *
imss_strerror(imss_err err)
{
	switch (err) {
	case IMSS_OK:
		return _("Success");
	case IMSS_ERR_NOMEM:
		return _("Out of memory");
	case IMSS_ERR_INVALID_ARG:
		return _("Invalid argument");
	case IMSS_ERR_MODULE_LOAD:
		return _("The PKCS#11 module could not be loaded");
	case IMSS_ERR_MODULE_INIT:
		return _("The PKCS#11 module could not be initialised");
	case IMSS_ERR_URI:
		return _("The PKCS#11 URI is not valid");
	case IMSS_ERR_NO_TOKEN:
		return _("No token matches");
	case IMSS_ERR_AMBIGUOUS_TOKEN:
		return _("More than one token matches");
	case IMSS_ERR_NO_OBJECT:
		return _("No matching object on the token");
	case IMSS_ERR_AMBIGUOUS_OBJECT:
		return _("More than one object matches");
	case IMSS_ERR_PIN_SOURCE:
		return _("The PIN could not be read");
	case IMSS_ERR_PIN_INCORRECT:
		return _("The PIN is incorrect");
	case IMSS_ERR_PIN_LOCKED:
		return _("The PIN is locked");
	case IMSS_ERR_PIN_FINAL_TRY:
		return _("Only one PIN try is left");
	case IMSS_ERR_TOKEN_REMOVED:
		return _("The token was removed");
	case IMSS_ERR_SESSION_LOST:
		return _("The session with the token was lost");
	case IMSS_ERR_DEVICE:
		return _("The token reported a device error");
	case IMSS_ERR_READ_ONLY:
		return _("The token or object cannot be written");
	case IMSS_ERR_UNSUPPORTED:
		return _("The token does not support this");
	case IMSS_ERR_KEY_PROTECTION:
		return _("The token would not protect the key");
	case IMSS_ERR_PKCS11:
		return _("The token refused the operation");
	case IMSS_ERR_CRYPTO:
		return _("A cryptographic operation failed");
	case IMSS_ERR_VERIFY:
		return _("Verification failed");
	case IMSS_ERR_MISMATCH:
		return _("The object is not the one expected");
	case IMSS_ERR_IO:
		return _("A file could not be read or written");
	case IMSS_ERR_NOT_LOGGED_IN:
		return _("Login required");
	case IMSS_ERR_PIN_CANCELLED:
		return _("No PIN was given");
	case IMSS_ERR_PASSWORD_INCORRECT:
		return _("The password is incorrect");
	case IMSS_ERR_FORMAT:
		return _("The file is not in the expected format");
	case IMSS_ERR_CERT_VALIDITY:
		return _("The certificate is not valid at this time");
	case IMSS_ERR_CHAIN:
		return _("The certificate does not chain to the expected CA");
	case IMSS_ERR_JOURNAL:
		return _("The renewal journal is damaged");
	case IMSS_ERR_BUSY:
		return _("Another renewal is using the token");
	case IMSS_ERR_NETWORK:
		return _("The renewal service cannot be reached");
	case IMSS_ERR_SERVICE:
		return _("The renewal service refused the request");
	case IMSS_ERR_TLS:
		return _("The renewal service's certificate is not trusted");
	case IMSS_ERR_PROTOCOL:
		return _("The renewal service sent an answer that makes no sense");
	case IMSS_ERR_REFUSED_CERT:
		return _("The certificate from the service failed its checks");
	case IMSS_ERR_ABORTED:
		return _("Stopped at the user's request");
	case IMSS_ERR_LABEL_IN_USE:
		return _("The label is already used on the token");
	case IMSS_ERR_EXISTS:
		return _("The file exists already");
	case IMSS_ERR_PENDING:
		return _("The certificate is not issued yet");
	case IMSS_ERR_INTERRUPTED:
		return _("Interrupted");
	case IMSS_ERR_NO_TERMINAL:
		return _("A question needs an answer and there is no terminal to ask on");
	}
	return _("Unknown error");
}
