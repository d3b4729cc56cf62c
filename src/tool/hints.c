/*
 * What to do next after a library failure, in the tool's own words: the
 * library says it in words (imss_ctx_detail()) and as a code
 * (imss_ctx_get_next()); here the code becomes the option or command of
 * imss-renew that does it.  Printed after the detail, and the "hint" of
 * the JSON error.
 */
#include "tool.h"

const char *
tool_next_hint(imss_next next)
{
	switch (next) {
	case IMSS_NEXT_NONE:
		return NULL;
	case IMSS_NEXT_ABANDON:
		return _("Undo it with 'imss-renew renew --abandon' and the same --token and --registro-patronal.");
	case IMSS_NEXT_GIVE_CA:
		return _("Give the service's CA certificate with --ca FILE.");
	case IMSS_NEXT_WAIT:
		return _("Run again with --wait to wait for the other renewal.");
	case IMSS_NEXT_OTHER_LABEL:
		return _("Choose another label with --label.");
	case IMSS_NEXT_LIST_OBJECTS:
		return _("List what is on the token with 'imss-renew objects --token URI --login'.");
	case IMSS_NEXT_FORCE:
		return _("Run again with --force to do it anyway.");
	case IMSS_NEXT_PASSWORD_SOURCE:
		return _("Say where the password comes from with --password-source (tty, file:PATH, fd:N, env:NAME or cred:NAME).");
	case IMSS_NEXT_PIN_SOURCE:
		return _("Check --pin-source (tty, file:PATH, fd:N, env:NAME or cred:NAME).");
	case IMSS_NEXT_CHECK_SERVER:
		return _("Check --server and --user.");
	case IMSS_NEXT_RECOVER:
		return _("Fetch the certificate with 'imss-renew recover --serial SERIAL', with the serial above.");
	case IMSS_NEXT_NAME_EMPLOYER:
		return _("Name the employer with --registro-patronal.");
	case IMSS_NEXT_OTHER_STATE_DIR:
		return _("Give another state directory with --state-dir DIR.");
	case IMSS_NEXT_OTHER_OUT_DIR:
		return _("Give another output directory with --out-dir DIR.");
	case IMSS_NEXT_UNLOCK_PIN:
		return _("For example: 'pkcs11-tool --unlock-pin --login --login-type so'.");
	case IMSS_NEXT_FREE_TOKEN:
		return _("See what is on it with 'imss-renew objects --login'; delete objects with the token's own tool (for example 'pkcs11-tool --delete-object').");
	case IMSS_NEXT_DEVICE_ACCESS:
		return _("After installing the udev rules: 'sudo udevadm control --reload', then plug the token in again.");
	case IMSS_NEXT_OTHER_KEY_TYPE:
		return _("Choose another key type with --type (see 'imss-renew doctor').");
	case IMSS_NEXT_CHECK_MODULE:
		return _("Check the module given with --module, or the token URI's module-path=.");
	case IMSS_NEXT_REPORT:
		return _("Run again with --verbose, and report it if it persists.");
	case IMSS_NEXT_CONTINUE:
		return _("Run the same command again to continue, or undo it with 'imss-renew renew --abandon' and the same --token.");
	case IMSS_NEXT_SAY_YES:
		return _("Run the same command with --yes to sign the letter and continue, or undo it with 'imss-renew renew --abandon' and the same --token.");
	case IMSS_NEXT_USE_NEW_CERT:
		return _("Renew from the new certificate (give it with --current or --credential), or fetch it with 'imss-renew recover'.");
	case IMSS_NEXT_OTHER_EMAIL:
		return _("Give another address with --email.");
	}
	return NULL;
}
