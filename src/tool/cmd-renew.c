/*
 * imss-renew renew / recover: the whole renewal against a renewal service
 * (the library's imss_renew, imss_renew_abandon, imss_recover), with the
 * steps shown as they happen, in words or as one JSON object per line.
 *
 * One PIN prompt for the run: when the current key is on the target
 * token, one session and one login serve both.  Non-interactive runs
 * (--yes, secrets from files or descriptors) never wait for an answer.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pkcs12.h>

#include "tool.h"

/* A wrong PIN typed on the terminal is asked again at most this often. */
#define PIN_TRIES 3

struct renew_args {
	const char *command;
	const char *server, *user, *current, *credential, *key_file, *token;
	const char *label, *email, *type, *ca, *pin_source, *idse_password_source;
	const char *password_source, *state_dir, *out_dir, *rp, *serial;
	const char *timeout_text, *retire_text, *protocol_text, *new_key;
	const char *challenge_source, *subject;
	imss_protocol protocol;
	long timeout;
	int yes, wait_lock, abandon, force;
	unsigned retire; /* IMSS_RENEW_RETIRE_* */
};

#define ARG(field) offsetof(struct renew_args, field)

/* What renew and recover share, in the order of their usage. */
#define CONNECT_OPTIONS                                                                    \
	{ "server", TOOL_ARG_REQUIRED, ARG(server), N_("URL"),                             \
	  N_("the renewal service or CA (https://; http://\nonly for scep and cmp)") },    \
	        { "user", TOOL_ARG_REQUIRED, ARG(user), N_("USER"), N_("the IDSE user") }, \
	        { "current", TOOL_ARG_REQUIRED, ARG(current), N_("URI"),                   \
		  N_("the current key on a token (PKCS#11 URI)") },                        \
	        { "credential", TOOL_ARG_REQUIRED, ARG(credential), N_("FILE"),            \
		  N_("or the current .pfx/.p12, or .cer (+ .key)") },                      \
	        { "key-file", TOOL_ARG_REQUIRED, ARG(key_file), N_("FILE"),                \
		  N_("the .key of a .cer with another name") },                            \
	{                                                                                  \
		"token", TOOL_ARG_REQUIRED, ARG(token), N_("URI"),                         \
		        N_("where the new key is made and kept")                           \
	}

/* The protocol (issue 13) and a key made before (issue 11). */
#define KEY_AND_PROTOCOL_OPTIONS                                                         \
	{ "new-key", TOOL_ARG_REQUIRED, ARG(new_key), N_("URI"),                         \
	  N_("an existing key pair on --token to certify\ninstead of generating one") }, \
	{                                                                                \
		"protocol", TOOL_ARG_REQUIRED, ARG(protocol_text), N_("PROTOCOL"),       \
		        N_("idse (IMSS, the default), scep or cmp")                      \
	}

#define SECRET_OPTIONS                                                                                                \
	{ "ca", TOOL_ARG_REQUIRED, ARG(ca), N_("FILE"),                                                               \
	  N_("the service's CA (PEM); without it the CA the\nservice publishes is pinned on first use") },            \
	        { "pin-source", TOOL_ARG_REQUIRED, ARG(pin_source), N_("SRC"),                                        \
		  N_("the token PIN: tty (default), file:PATH,\nfd:N or env:NAME") },                                 \
	        { "idse-password-source", TOOL_ARG_REQUIRED, ARG(idse_password_source), N_("SRC"),                    \
		  N_("the IDSE user's password (same forms)") },                                                      \
	        { "password-source", TOOL_ARG_REQUIRED, ARG(password_source), N_("SRC"),                              \
		  N_("the password of the .pfx or .key") },                                                           \
	        { "state-dir", TOOL_ARG_REQUIRED, ARG(state_dir), N_("DIR"),                                          \
		  N_("journals and pinned CAs (default\n$XDG_STATE_HOME/imss-renew)") },                              \
	        { "out-dir", TOOL_ARG_REQUIRED, ARG(out_dir), N_("DIR"),                                              \
		  N_("where the letter and the certificate copy go\n(default: the current directory)") },             \
	        { "wait", TOOL_ARG_NONE, ARG(wait_lock), NULL,                                                        \
		  N_("wait for another renewal of the token") },                                                      \
	        { "timeout", TOOL_ARG_REQUIRED, ARG(timeout_text), N_("SECONDS"),                                     \
		  N_("how long to wait for a delayed certificate\n(default 600; exit status 12 when it runs out)") }, \
	{                                                                                                             \
		"force", TOOL_ARG_NONE, ARG(force), NULL,                                                             \
		        N_("log in even on the token's last PIN try")                                                 \
	}

static const struct tool_option renew_options[] = {
	CONNECT_OPTIONS,
	KEY_AND_PROTOCOL_OPTIONS,
	{ "label", TOOL_ARG_REQUIRED, ARG(label), N_("LABEL"),
	  N_("of the new key and certificate (default\n'IMSS <registro patronal> <time> <random>')") },
	{ "email", TOOL_ARG_REQUIRED, ARG(email), N_("ADDRESS"),
	  N_("the new e-mail (the one editable field)") },
	TOOL_OPTION_KEY_TYPE(struct renew_args, type),
	{ "yes", TOOL_ARG_NONE, ARG(yes), NULL,
	  N_("ask nothing: keep the e-mail unless --email,\nand sign the terms letter") },
	SECRET_OPTIONS,
	{ "retire-old", TOOL_ARG_OPTIONAL, ARG(retire_text), "delete",
	  N_("after success, relabel the old token key and\ncertificate '... (retired DATE)', or delete\nthem (asks first unless --yes)") },
	{ "abandon", TOOL_ARG_NONE, ARG(abandon), NULL, N_("undo an unfinished renewal on --token") },
	{ "registro-patronal", TOOL_ARG_REQUIRED, ARG(rp), N_("RP"),
	  N_("which one, when several are unfinished") },
	{ "challenge-source", TOOL_ARG_REQUIRED, ARG(challenge_source), N_("SRC"),
	  N_("scep: the CA's challenge password, put in the\nrequest (same forms as --pin-source)") },
	TOOL_OPTION_END,
};

static const struct tool_option recover_options[] = {
	CONNECT_OPTIONS,
	KEY_AND_PROTOCOL_OPTIONS,
	{ "serial", TOOL_ARG_REQUIRED, ARG(serial), N_("SERIAL"),
	  N_("the serial number of the issued certificate") },
	{ "label", TOOL_ARG_REQUIRED, ARG(label), N_("LABEL"),
	  N_("of the certificate on the token (default: the\nlabel of its key)") },
	SECRET_OPTIONS,
	TOOL_OPTION_END,
};

/* enroll: a first certificate by SCEP, no current credential. */
static const struct tool_option enroll_options[] = {
	{ "protocol", TOOL_ARG_REQUIRED, ARG(protocol_text), N_("PROTOCOL"),
	  N_("scep (the only one for a first certificate)") },
	{ "server", TOOL_ARG_REQUIRED, ARG(server), N_("URL"),
	  N_("the CA's SCEP URL (http:// or https://)") },
	{ "ca", TOOL_ARG_REQUIRED, ARG(ca), N_("FILE"),
	  N_("the CA's certificate (PEM): the certificate\nmust chain to it") },
	{ "token", TOOL_ARG_REQUIRED, ARG(token), N_("URI"),
	  N_("where the new key is made and kept") },
	{ "subject", TOOL_ARG_REQUIRED, ARG(subject), N_("DN"),
	  N_("the subject wanted, as /CN=name/O=firm/C=MX") },
	{ "challenge-source", TOOL_ARG_REQUIRED, ARG(challenge_source), N_("SRC"),
	  N_("the CA's challenge password: tty, file:PATH,\nfd:N or env:NAME") },
	{ "type", TOOL_ARG_REQUIRED, ARG(type), N_("TYPE"),
	  N_("rsa:2048 (default), rsa:3072 or rsa:4096: the\nnew key also decrypts the CA's answer") },
	{ "label", TOOL_ARG_REQUIRED, ARG(label), N_("LABEL"), N_("of the new key and certificate") },
	{ "pin-source", TOOL_ARG_REQUIRED, ARG(pin_source), N_("SRC"),
	  N_("the token PIN: tty (default), file:PATH,\nfd:N or env:NAME") },
	{ "state-dir", TOOL_ARG_REQUIRED, ARG(state_dir), N_("DIR"),
	  N_("journals (default $XDG_STATE_HOME/imss-renew)") },
	{ "out-dir", TOOL_ARG_REQUIRED, ARG(out_dir), N_("DIR"),
	  N_("where the certificate copy goes (default: the\ncurrent directory)") },
	{ "timeout", TOOL_ARG_REQUIRED, ARG(timeout_text), N_("SECONDS"),
	  N_("how long to wait for a pending certificate\n(default 600; exit status 12 when it runs out)") },
	{ "wait", TOOL_ARG_NONE, ARG(wait_lock), NULL, N_("wait for another renewal of the token") },
	{ "force", TOOL_ARG_NONE, ARG(force), NULL, N_("log in even on the token's last PIN try") },
	TOOL_OPTION_END,
};

/* What the run holds open, closed in reverse. */
struct renew_run {
	imss_pin_source *pin, *idse_password, *file_password, *challenge;
	imss_token *tok, *current_tok;
	imss_credential *current;
	int tty_progress; /* a countdown line is being redrawn */
	int waiting;      /* in a countdown */
};

static void
recover_synopsis(void)
{
	printf(_("Usage: %s [GLOBAL OPTIONS] recover --server URL --user USER\n"
	         "         (--current URI | --credential FILE [--key-file FILE])\n"
	         "         --token URI --serial SERIAL [--label LABEL] [--ca FILE]\n"
	         "         [--pin-source SRC] [--idse-password-source SRC]\n"
	         "         [--password-source SRC] [--state-dir DIR] [--out-dir DIR]\n"
	         "Fetch a certificate the service issued (by its serial number), check\n"
	         "it, and store it on the token next to its key.\n"),
	       TOOL_NAME);
}

static void
recover_examples(void)
{
	printf(_("\nExample:\n"
	         "  %s recover --server https://idse.example:8443 --user EMPRESA01 \\\n"
	         "        --current 'pkcs11:token=IMSS;object=IMSS%%20Y1234567108' \\\n"
	         "        --token pkcs11:token=IMSS --serial 3A5F09C2D1 --ca imss-ca.pem\n"),
	       TOOL_NAME);
}

static void
enroll_synopsis(void)
{
	printf(_("Usage: %s [GLOBAL OPTIONS] enroll --protocol scep --server URL --ca FILE\n"
	         "         --token URI --subject DN --challenge-source SRC [--type TYPE]\n"
	         "         [--label LABEL] [--timeout SECONDS] [--out-dir DIR] [--json]\n"
	         "Enroll a first certificate by SCEP (RFC 8894), with no current\n"
	         "credential: make an RSA key pair inside the token, build the request\n"
	         "through the token with the CA's challenge password, sign it with a\n"
	         "self-signed certificate of the new key, check the certificate the CA\n"
	         "issues and store it next to its key.  SCEP has the CA encrypt its\n"
	         "answer to the new key, so this key (only this command's) may decrypt\n"
	         "as well as sign; EC keys cannot and are refused.  Run the same command\n"
	         "again after an interruption: it asks the CA for the same transaction.\n"),
	       TOOL_NAME);
}

static void
enroll_examples(void)
{
	printf(_("\nExample:\n"
	         "  %s enroll --protocol scep --server http://ca.empresa.mx:8080/scep \\\n"
	         "        --ca ca.pem --token pkcs11:token=IMSS --subject /CN=Empresa/O=Empresa \\\n"
	         "        --challenge-source file:challenge.txt --pin-source file:pin\n"),
	       TOOL_NAME);
}

static void
renew_synopsis(void)
{
	printf(_("Usage: %s [GLOBAL OPTIONS] renew --server URL --user USER\n"
	         "         (--current URI | --credential FILE [--key-file FILE])\n"
	         "         --token URI [--label LABEL] [--email ADDRESS] [--type TYPE]\n"
	         "         [--yes] [--ca FILE] [--pin-source SRC]\n"
	         "         [--idse-password-source SRC] [--password-source SRC]\n"
	         "         [--state-dir DIR] [--out-dir DIR] [--wait] [--timeout SECONDS]\n"
	         "         [--retire-old[=relabel|delete]] [--new-key URI]\n"
	         "       %s [GLOBAL OPTIONS] renew --protocol scep|cmp --server URL\n"
	         "         (--current URI | --credential FILE) --token URI --ca FILE\n"
	         "         [--new-key URI] [OPTIONS]\n"
	         "       %s [GLOBAL OPTIONS] renew --abandon --token URI\n"
	         "         [--registro-patronal RP] [--state-dir DIR] [--pin-source SRC]\n"
	         "Renew the IMSS certificate with a new key made inside the token: log in\n"
	         "with the current credential (even expired), show the company data and\n"
	         "change only the e-mail, generate the key in the token, build the request\n"
	         "through the token, sign the terms letter, submit, check the certificate\n"
	         "and store it next to its key.  The old credential is not touched.  Run\n"
	         "the same command again after any interruption: it continues where it\n"
	         "stopped.  --abandon undoes an unfinished renewal (it deletes only the\n"
	         "new key its journal records, after checking it).  --new-key certifies\n"
	         "a key pair already on the token instead of generating one.  --protocol\n"
	         "scep or cmp renews from the firm's own CA: no login, no letter.\n"),
	       TOOL_NAME, TOOL_NAME, TOOL_NAME);
}

static void
renew_examples(void)
{
	printf(_("\nExamples:\n"
	         "  %s renew --server https://idse.example:8443 --user EMPRESA01 \\\n"
	         "        --current 'pkcs11:token=IMSS;object=IMSS%%20Y1234567108' \\\n"
	         "        --token pkcs11:token=IMSS --ca imss-ca.pem\n"
	         "  %s --json renew --server https://idse.example:8443 --user EMPRESA01 \\\n"
	         "        --credential empresa.pfx --password-source file:pfx.pass \\\n"
	         "        --idse-password-source file:idse.pass --pin-source file:pin \\\n"
	         "        --token pkcs11:token=IMSS --email rh@empresa.mx --yes\n"
	         "  %s renew --abandon --token pkcs11:token=IMSS\n"),
	       TOOL_NAME, TOOL_NAME, TOOL_NAME);
}

static int
require(struct tool *t, const struct renew_args *a, const char *value, const char *option)
{
	if (value != NULL && *value != '\0')
		return TOOL_EXIT_OK;
	return tool_usage_error(t, a->command, _("%s is required"), option);
}

/* --timeout and --retire-old: numbers and words into what they mean. */
static int
parse_values(struct tool *t, struct renew_args *a)
{
	char *end = NULL;

	if (imss_protocol_parse(a->protocol_text, &a->protocol) != IMSS_OK)
		return tool_usage_error(t, a->command, "%s", _("--protocol takes idse, scep or cmp"));
	if (a->timeout_text) {
		a->timeout = strtol(a->timeout_text, &end, 10);
		if (*a->timeout_text == '\0' || *end != '\0' || a->timeout <= 0 || a->timeout > 86400)
			return tool_usage_error(t, a->command, "%s",
			                        _("--timeout takes seconds, from 1 to 86400"));
	}
	if (!a->retire_text)
		return TOOL_EXIT_OK;
	if (*a->retire_text == '\0' || strcmp(a->retire_text, "relabel") == 0)
		a->retire = IMSS_RENEW_RETIRE_OLD;
	else if (strcmp(a->retire_text, "delete") == 0)
		a->retire = IMSS_RENEW_RETIRE_OLD | IMSS_RENEW_RETIRE_DELETE;
	else
		return tool_usage_error(t, a->command, "%s",
		                        _("--retire-old takes relabel (the default) or delete"));
	return TOOL_EXIT_OK;
}

static int
check_server_url(struct tool *t, const struct renew_args *a)
{
	if (strncmp(a->server, "https://", 8) != 0 &&
	    (a->protocol == IMSS_PROTOCOL_IDSE || strncmp(a->server, "http://", 7) != 0))
		return tool_usage_error(t, a->command, "%s",
		                        a->protocol == IMSS_PROTOCOL_IDSE
		                                ? _("--server must be an https:// URL")
		                                : _("--server must be an http:// or https:// URL"));
	return TOOL_EXIT_OK;
}

static int
check_enroll_args(struct tool *t, struct renew_args *a)
{
	int rc = TOOL_EXIT_OK;

	if (a->protocol != IMSS_PROTOCOL_SCEP)
		return tool_usage_error(t, a->command, "%s",
		                        _("enroll needs --protocol scep (a first certificate by SCEP)"));
	if (rc == TOOL_EXIT_OK)
		rc = require(t, a, a->server, "--server");
	if (rc == TOOL_EXIT_OK)
		rc = require(t, a, a->ca, "--ca");
	if (rc == TOOL_EXIT_OK)
		rc = require(t, a, a->subject, "--subject");
	if (rc == TOOL_EXIT_OK)
		rc = require(t, a, a->challenge_source, "--challenge-source");
	return rc == TOOL_EXIT_OK ? check_server_url(t, a) : rc;
}

static int
check_args(struct tool *t, struct renew_args *a)
{
	int rc = parse_values(t, a);

	if (rc == TOOL_EXIT_OK)
		rc = require(t, a, a->token, "--token");

	if (rc != TOOL_EXIT_OK || a->abandon)
		return rc;
	if (strcmp(a->command, "enroll") == 0)
		return check_enroll_args(t, a);
	rc = require(t, a, a->server, "--server");
	if (rc == TOOL_EXIT_OK && a->protocol == IMSS_PROTOCOL_IDSE)
		rc = require(t, a, a->user, "--user");
	if (rc == TOOL_EXIT_OK && a->protocol != IMSS_PROTOCOL_IDSE)
		rc = require(t, a, a->ca, "--ca");
	if (rc == TOOL_EXIT_OK && strcmp(a->command, "recover") == 0)
		rc = require(t, a, a->serial, "--serial");
	if (rc != TOOL_EXIT_OK)
		return rc;
	if (!a->current == !a->credential)
		return tool_usage_error(t, a->command, "%s",
		                        _("give exactly one of --current URI and --credential FILE"));
	if (a->key_file && !a->credential)
		return tool_usage_error(t, a->command, "%s",
		                        _("--key-file goes with --credential FILE.cer"));
	if (a->password_source && !a->credential)
		return tool_usage_error(t, a->command, "%s",
		                        _("--password-source is for a .pfx or .key (--credential)"));
	if (a->challenge_source && a->protocol != IMSS_PROTOCOL_SCEP)
		return tool_usage_error(t, a->command, "%s",
		                        _("--challenge-source goes with --protocol scep"));
	rc = check_server_url(t, a);
	if (rc != TOOL_EXIT_OK)
		return rc;
	if (a->email && !imss_email_is_valid(a->email))
		return tool_usage_error(t, a->command,
		                        _("--email '%s' is not a valid e-mail address (like rh@empresa.mx)"),
		                        a->email);
	return TOOL_EXIT_OK;
}

/* ---- what the user sees ------------------------------------------- */

/* The names of the events' fields: the JSON keys, shown as they are in
 * English and translated in text output. */
static const char *const field_names[] = {
	/* TRANSLATORS: the names of the renewal's fields, as shown next to
	   their values; the untranslated names are the JSON keys. */
	N_("user"),
	N_("credential"),
	N_("registro_patronal"),
	N_("renewal_required"),
	N_("razon_social"),
	N_("rfc"),
	N_("address"),
	N_("email"),
	N_("editable"),
	N_("key_uri"),
	N_("id"),
	N_("sensitive"),
	N_("extractable"),
	N_("local"),
	N_("relaxed"),
	N_("relaxed_reason"),
	N_("request"),
	N_("letter"),
	N_("sha256"),
	N_("seconds"),
	N_("request_id"),
	N_("certificate_uri"),
	N_("ca_subject"),
	N_("ca_sha256"),
	N_("pinned"),
	N_("serial"),
	N_("certificate"),
	N_("origin"),
	N_("protocol"),
	N_("server"),
	N_("subject"),
};

static const char *
field_text(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(field_names) / sizeof(field_names[0]); i++)
		if (strcmp(key, field_names[i]) == 0)
			return _(field_names[i]);
	return _(key); /* a name marked elsewhere, or as it is */
}

/* true and false in words; "editable" names fields. */
static const char *
value_text(const char *key, const char *value)
{
	if (strcmp(value, "true") == 0)
		return _("true");
	if (strcmp(value, "false") == 0)
		return _("false");
	return strcmp(key, "editable") == 0 ? field_text(value) : value;
}

/* The types of the events' fields (docs/json.md); the rest are strings. */
static const char *const boolean_fields[] = {
	"renewal_required",
	"sensitive",
	"extractable",
	"local",
};
static const char *const number_fields[] = { "seconds" };
static const char *const list_fields[] = { "editable" };

static int
field_in(const char *key, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(key, names[i]) == 0)
			return 1;
	return 0;
}

#define FIELD_IN(key, names) field_in(key, names, sizeof(names) / sizeof(names[0]))

/* "a,b" as ["a","b"]. */
static json_object *
list_json(const char *value)
{
	json_object *array = json_object_new_array();
	const char *start = value, *comma;

	while (array && *start) {
		comma = strchr(start, ',');
		if (!comma)
			comma = start + strlen(start);
		if (tool_json_append(array, json_object_new_string_len(start, (int)(comma - start))))
			break;
		start = *comma ? comma + 1 : comma;
	}
	return array;
}

static int
add_field(json_object *o, const char *key, const char *value)
{
	if (FIELD_IN(key, boolean_fields))
		return tool_json_bool(o, key, strcmp(value, "true") == 0);
	if (FIELD_IN(key, number_fields))
		return tool_json_int(o, key, atoll(value));
	if (FIELD_IN(key, list_fields))
		return tool_json_add(o, key, list_json(value));
	return tool_json_str(o, key, value);
}

static void
event_json(const imss_renew_event *ev)
{
	json_object *o = json_object_new_object();
	size_t i;

	if (o == NULL || tool_json_str(o, "event", ev->step) ||
	    tool_json_int(o, "step", ev->number) || tool_json_str(o, "message", ev->message))
		goto fail;
	for (i = 0; ev->fields[i] && ev->fields[i + 1]; i += 2)
		if (add_field(o, ev->fields[i], ev->fields[i + 1]))
			goto fail;
	tool_json_print_line(o);
	return;
fail:
	json_object_put(o);
}

static void
event_text(struct renew_run *r, const imss_renew_event *ev)
{
	size_t i;

	if (strcmp(ev->step, "wait") == 0) {
		if (isatty(STDOUT_FILENO)) {
			printf("\r[%d/7] %s   ", ev->number, ev->message);
			r->tty_progress = 1;
		} else if (!r->waiting || atol(ev->fields[1]) % 10 == 0) {
			/* Not a terminal: the first line, then one every 10 s. */
			printf("[%d/7] %s\n", ev->number, ev->message);
		}
		r->waiting = 1;
		fflush(stdout);
		return;
	}
	if (r->tty_progress) {
		putchar('\n');
		r->tty_progress = 0;
	}
	r->waiting = 0;
	printf("[%d/7] %s\n", ev->number, ev->message);
	for (i = 0; ev->fields[i] && ev->fields[i + 1]; i += 2)
		tool_field(field_text(ev->fields[i]), value_text(ev->fields[i], ev->fields[i + 1]));
	fflush(stdout);
}

struct ui_state {
	struct tool *t;
	struct renew_run *run;
	const struct renew_args *args;
};

/* Does the secret come from the terminal (tty, the default)?  Only then
 * is a wrong one asked again: a file or a descriptor says the same twice. */
static int
from_terminal(const char *source)
{
	return source == NULL || strcmp(source, "tty") == 0;
}

static int
on_interrupted(void *user)
{
	(void)user;
	return tool_stop_requested();
}

static void
on_event(void *user, const imss_renew_event *ev)
{
	struct ui_state *u = user;

	if (u->t->json)
		event_json(ev);
	else
		event_text(u->run, ev);
}

/* A line from the terminal; NULL when there is none (never blocks on a
 * pipe: a script gets no prompt; *no_tty (may be NULL) then says so). */
static char *
ask_tty(const char *prompt, int *no_tty)
{
	char line[512];
	FILE *tty = fopen("/dev/tty", "r+");
	char *nl;

	if (no_tty != NULL)
		*no_tty = tty == NULL;
	if (tty == NULL)
		return NULL;
	fputs(prompt, tty);
	fflush(tty);
	if (fgets(line, sizeof(line), tty) == NULL) {
		fclose(tty);
		return NULL;
	}
	fclose(tty);
	if ((nl = strchr(line, '\n')) != NULL)
		*nl = '\0';
	return strdup(line);
}

static int
on_confirm(void *user, const char *question)
{
	char prompt[1024], *answer;
	int yes, no_tty;

	(void)user;
	snprintf(prompt, sizeof(prompt), "%s %s ", question, _("[y/N]"));
	answer = ask_tty(prompt, &no_tty);
	if (no_tty)
		return IMSS_CONFIRM_NO_TERMINAL;
	yes = answer &&
	      (answer[0] == 'y' || answer[0] == 'Y' || answer[0] == 's' || answer[0] == 'S');
	free(answer);
	return yes;
}

static char *
on_ask_email(void *user, const char *current)
{
	char prompt[512], *answer;

	(void)user;
	snprintf(prompt, sizeof(prompt),
	         _("E-mail for the new certificate [%s] (Enter keeps it): "), current);
	answer = ask_tty(prompt, NULL);
	if (answer != NULL && answer[0] == '\0') {
		free(answer);
		answer = NULL;
	}
	return answer;
}

/* A wrong IDSE password or e-mail typed on the terminal: say so, ask again. */
static int
on_ask_again(void *user, int what, int attempt)
{
	struct ui_state *u = user;

	if (what == IMSS_ASK_PASSWORD) {
		if (!from_terminal(u->args->idse_password_source))
			return 0;
		fprintf(stderr,
		        _("The service did not accept the IDSE user and password (try %d of %d). Type the password again.\n"),
		        attempt, IMSS_ASK_TRIES);
		return 1;
	}
	if (what == IMSS_ASK_EMAIL) {
		fprintf(stderr,
		        _("That is not a valid e-mail address (like rh@empresa.mx); nothing was sent (try %d of %d).\n"),
		        attempt, IMSS_ASK_TRIES);
		return 1;
	}
	return 0;
}

/* ---- opening what the renewal uses -------------------------------- */

static void
run_close(struct renew_run *r)
{
	imss_credential_free(r->current); /* before its token */
	if (r->current_tok && r->current_tok != r->tok)
		imss_token_close(r->current_tok);
	imss_token_close(r->tok);
	imss_pin_source_free(r->pin);
	imss_pin_source_free(r->idse_password);
	imss_pin_source_free(r->file_password);
	imss_pin_source_free(r->challenge);
}

/* Every source parsed before anything is opened: malformed is usage. */
static int
run_sources(struct tool *t, const struct renew_args *a, struct renew_run *r)
{
	int rc = tool_pin_source(t, a->command, "--pin-source", a->pin_source, &r->pin);

	if (rc == TOOL_EXIT_OK && !a->abandon && a->protocol == IMSS_PROTOCOL_IDSE)
		rc = tool_pin_source(t, a->command, "--idse-password-source",
		                     a->idse_password_source, &r->idse_password);
	if (rc == TOOL_EXIT_OK && a->credential)
		rc = tool_pin_source(t, a->command, "--password-source", a->password_source,
		                     &r->file_password);
	if (rc == TOOL_EXIT_OK && a->challenge_source && !a->abandon)
		rc = tool_pin_source(t, a->command, "--challenge-source", a->challenge_source,
		                     &r->challenge);
	return rc;
}

/*
 * The token login; a wrong PIN typed on the terminal is asked again while
 * the token does not report its final try (one C_Login per PIN typed).
 */
static imss_err
login_asking_again(const struct renew_args *a, struct renew_run *r)
{
	unsigned flags = a->force ? IMSS_LOGIN_FORCE : 0;
	imss_err err = imss_token_login(r->tok, r->pin, flags);
	int tries = 1;

	while (err == IMSS_ERR_PIN_INCORRECT && from_terminal(a->pin_source) && tries < PIN_TRIES &&
	       !imss_token_get_info(r->tok)->pin_final_try &&
	       !imss_token_get_info(r->tok)->pin_locked) {
		fprintf(stderr, _("The PIN is incorrect (try %d of %d). Type it again.\n"), tries,
		        PIN_TRIES);
		err = imss_token_login(r->tok, r->pin, flags);
		tries++;
	}
	return err;
}

/* The certificate file (or .pfx) of --credential, and the .key of a .cer:
 * readable and parseable. */
static int
check_credential_file(struct tool *t, const char *path, const char *key_file)
{
	char *derived = NULL;
	STACK_OF(X509) *certs = NULL;
	unsigned char *data = NULL;
	const unsigned char *p;
	PKCS12 *p12 = NULL;
	size_t len = 0;
	imss_ctx *ctx = NULL;
	int rc = tool_read_file(t, path, &data, &len);

	if (rc != TOOL_EXIT_OK)
		return rc;
	p = data;
	p12 = d2i_PKCS12(NULL, &p, (long)len);
	if (p12 == NULL && tool_ctx(t, &ctx) == IMSS_OK &&
	    imss_certs_load(ctx, path, &certs) != IMSS_OK)
		rc = tool_fail_detail(t, IMSS_ERR_FORMAT,
		                      _("'%s' is neither a .pfx/.p12 nor a certificate (.cer). Check the --credential file."),
		                      path);
	if (rc == TOOL_EXIT_OK && p12 == NULL && key_file == NULL)
		key_file = derived = imss_credential_key_path(path);
	PKCS12_free(p12);
	sk_X509_pop_free(certs, X509_free);
	free(data);
	data = NULL;
	if (rc == TOOL_EXIT_OK && key_file != NULL) {
		rc = tool_read_file(t, key_file, &data, &len);
		if (rc == TOOL_EXIT_OK)
			imss_wipe(data, len);
		free(data);
	}
	free(derived);
	return rc;
}

/* Every file named, opened and parsed before any secret is asked: a
 * mistyped name costs no PIN. */
static int
check_files(struct tool *t, const struct renew_args *a)
{
	STACK_OF(X509) *certs = NULL;
	imss_ctx *ctx = NULL;
	imss_err err;
	int rc = TOOL_EXIT_OK;

	if (a->credential)
		rc = check_credential_file(t, a->credential, a->key_file);
	if (rc != TOOL_EXIT_OK || a->ca == NULL)
		return rc;
	err = tool_ctx(t, &ctx);
	if (err == IMSS_OK)
		err = imss_certs_load(ctx, a->ca, &certs);
	sk_X509_pop_free(certs, X509_free);
	return err == IMSS_OK ? TOOL_EXIT_OK : tool_fail(t, err, 0);
}

/* The target token, logged in once; the current key on it or elsewhere. */
static int
run_open(struct tool *t, const struct renew_args *a, struct renew_run *r)
{
	imss_err err;

	err = tool_open_token(t, a->token, 1, &r->tok);
	if (err == IMSS_OK)
		err = login_asking_again(a, r);
	if (err != IMSS_OK || a->abandon || a->subject != NULL)
		return err == IMSS_OK ? TOOL_EXIT_OK : tool_fail(t, err, 0);
	if (a->credential)
		return tool_open_credential_files(t, a->credential, a->key_file, r->file_password,
		                                  &r->current);
	if (imss_token_uri_matches(r->tok, a->current)) {
		r->current_tok = r->tok;
	} else {
		err = tool_open_login(t, a->current, 0, r->pin, &r->current_tok);
		if (err != IMSS_OK)
			return tool_fail(t, err, 0);
	}
	err = imss_credential_from_token(r->current_tok, a->current, &r->current);
	return err == IMSS_OK ? TOOL_EXIT_OK : tool_fail(t, err, 0);
}

static void
options_fill(const struct renew_args *a, struct renew_run *r, const imss_keyspec *spec,
             imss_renew_options *o)
{
	memset(o, 0, sizeof(*o));
	o->server = a->server;
	o->user = a->user;
	o->password = r->idse_password;
	o->current = r->current;
	o->token = r->tok;
	o->label = a->label;
	o->email = a->email;
	o->keyspec = *spec;
	o->ca_file = a->ca;
	o->state_dir = a->state_dir;
	o->out_dir = a->out_dir;
	o->wait_seconds = a->timeout;
	o->flags = (a->yes ? IMSS_RENEW_YES : 0) | (a->wait_lock ? IMSS_RENEW_WAIT_LOCK : 0) |
	           a->retire;
	o->new_key_uri = a->new_key;
	o->protocol = a->protocol;
	o->challenge = r->challenge;
	o->subject = a->subject;
}

/* ---- the report ------------------------------------------------------ */

static void
report(struct tool *t, const imss_renew_result *res)
{
	char from[TOOL_TIME_SIZE], until[TOOL_TIME_SIZE];
	json_object *o;

	tool_time_text(res->not_before, from, sizeof(from));
	tool_time_text(res->not_after, until, sizeof(until));
	if (!t->json) {
		printf(_("[7/7] Done: the new certificate is on the token next to its key.\n"));
		tool_field(_("serial"), res->serial);
		tool_field(_("subject"), res->subject);
		tool_field(_("valid from"), from);
		tool_field(_("valid until"), until);
		tool_field(_("key"), res->key_uri);
		tool_field(_("certificate"), res->cert_uri);
		tool_field(_("certificate copy"), res->cert_path);
		if (res->letter_path)
			tool_field(_("terms letter"), res->letter_path);
		return;
	}
	o = json_object_new_object();
	if (o == NULL || tool_json_str(o, "event", "done") || tool_json_int(o, "step", 7) ||
	    tool_json_str(o, "serial", res->serial) || tool_json_str(o, "subject", res->subject) ||
	    tool_json_str(o, "not_before", from) || tool_json_str(o, "not_after", until) ||
	    tool_json_str(o, "key_uri", res->key_uri) ||
	    tool_json_str(o, "certificate_uri", res->cert_uri) ||
	    tool_json_str(o, "certificate_file", res->cert_path) ||
	    tool_json_str(o, "letter_file", res->letter_path)) {
		json_object_put(o);
		return;
	}
	tool_json_print_line(o);
}

static int
do_abandon(struct tool *t, const struct renew_args *a, struct renew_run *r)
{
	imss_renew_options o = { 0 };
	char *removed = NULL;
	json_object *j;
	imss_err err;

	o.token = r->tok;
	o.state_dir = a->state_dir;
	o.flags = (a->wait_lock ? IMSS_RENEW_WAIT_LOCK : 0) | (a->force ? IMSS_RENEW_FORCE : 0);
	err = imss_renew_abandon(t->ctx, &o, a->rp, &removed);
	if (err != IMSS_OK)
		return tool_fail(t, err, 0);
	if (t->json) {
		j = json_object_new_object();
		if (j && !tool_json_str(j, "event", "abandoned") &&
		    !tool_json_str(j, "removed", removed))
			tool_json_print_line(j);
		else
			json_object_put(j);
	} else {
		printf(_("The unfinished renewal was undone. Removed: %s.\n"), removed);
	}
	free(removed);
	return TOOL_EXIT_OK;
}

static int
run_command(struct tool *t, const struct tool_command *cmd, struct renew_args *a)
{
	const char *command = cmd->name;
	struct renew_run r = { 0 };
	struct ui_state u = { t, &r, a };
	imss_renew_ui ui = { on_event, on_confirm, on_ask_email, &u, on_ask_again, on_interrupted };
	imss_renew_result res = { 0 };
	imss_renew_options o;
	imss_keyspec spec;
	imss_err err;
	int rc;

	a->command = command;
	rc = check_args(t, a);
	if (rc != TOOL_EXIT_OK)
		return rc;
	if (imss_keyspec_parse(a->type, &spec) != IMSS_OK)
		return tool_usage_error(t, command, "%s",
		                        _("--type must be rsa:2048, rsa:3072, rsa:4096, ec:prime256v1 or ec:secp384r1"));
	rc = run_sources(t, a, &r);
	if (rc == TOOL_EXIT_OK && !a->abandon)
		rc = check_files(t, a);
	if (rc == TOOL_EXIT_OK)
		rc = run_open(t, a, &r);
	if (rc != TOOL_EXIT_OK)
		goto out;
	if (a->abandon) {
		rc = do_abandon(t, a, &r);
		goto out;
	}
	options_fill(a, &r, &spec, &o);
	if (strcmp(command, "recover") == 0) {
		err = imss_recover(t->ctx, &o, a->serial, &ui, &res);
	} else {
		tool_stop_signals(1); /* only renew stops between its steps */
		err = imss_renew(t->ctx, &o, &ui, &res);
		tool_stop_signals(0);
	}
	if (r.tty_progress)
		putchar('\n');
	if (err != IMSS_OK) {
		rc = tool_fail(t, err, 0);
		goto out;
	}
	report(t, &res);
out:
	imss_renew_result_clear(&res);
	run_close(&r);
	return rc;
}

static int
run_renew(struct tool *t, void *args)
{
	return run_command(t, &cmd_renew, args);
}

static int
run_enroll(struct tool *t, void *args)
{
	return run_command(t, &cmd_enroll, args);
}

static int
run_recover(struct tool *t, void *args)
{
	return run_command(t, &cmd_recover, args);
}

const struct tool_command cmd_renew = {
	"renew",
	N_("renew the IMSS certificate with a new key made in the token"),
	renew_options,
	renew_synopsis,
	renew_examples,
	run_renew,
	sizeof(struct renew_args),
	NULL,
	NULL,
};

const struct tool_command cmd_recover = {
	"recover",
	N_("fetch an issued certificate again and store it on the token"),
	recover_options,
	recover_synopsis,
	recover_examples,
	run_recover,
	sizeof(struct renew_args),
	NULL,
	NULL,
};

const struct tool_command cmd_enroll = {
	"enroll",
	N_("enroll a first certificate by SCEP with a key made in the token"),
	enroll_options,
	enroll_synopsis,
	enroll_examples,
	run_enroll,
	sizeof(struct renew_args),
	NULL,
	NULL,
};
