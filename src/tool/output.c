/*
 * Output of the imss-renew tool: the error printer, usage errors, and small
 * helpers for text and JSON results.
 *
 * Results go to stdout; errors, warnings and library messages to stderr.
 * In JSON mode stdout carries the result (renew: one event a line), or an
 * error on one line, {"error":{"code":"PIN_INCORRECT","message":"...",
 * "detail":"...","exit":1}}: the contract is docs/json.md.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json-set.h"
#include "tool.h"

/* Width of the field names in text output, in characters (UTF-8). */
#define FIELD_WIDTH 20

const char *
tool_error_code(imss_err err)
{
	switch (err) {
	case IMSS_OK:
		return "OK";
	case IMSS_ERR_NOMEM:
		return "NOMEM";
	case IMSS_ERR_INVALID_ARG:
		return "INVALID_ARG";
	case IMSS_ERR_MODULE_LOAD:
		return "MODULE_LOAD";
	case IMSS_ERR_MODULE_INIT:
		return "MODULE_INIT";
	case IMSS_ERR_URI:
		return "URI";
	case IMSS_ERR_NO_TOKEN:
		return "NO_TOKEN";
	case IMSS_ERR_AMBIGUOUS_TOKEN:
		return "AMBIGUOUS_TOKEN";
	case IMSS_ERR_NO_OBJECT:
		return "NO_OBJECT";
	case IMSS_ERR_AMBIGUOUS_OBJECT:
		return "AMBIGUOUS_OBJECT";
	case IMSS_ERR_PIN_SOURCE:
		return "PIN_SOURCE";
	case IMSS_ERR_PIN_INCORRECT:
		return "PIN_INCORRECT";
	case IMSS_ERR_PIN_LOCKED:
		return "PIN_LOCKED";
	case IMSS_ERR_PIN_FINAL_TRY:
		return "PIN_FINAL_TRY";
	case IMSS_ERR_TOKEN_REMOVED:
		return "TOKEN_REMOVED";
	case IMSS_ERR_SESSION_LOST:
		return "SESSION_LOST";
	case IMSS_ERR_DEVICE:
		return "DEVICE";
	case IMSS_ERR_READ_ONLY:
		return "READ_ONLY";
	case IMSS_ERR_UNSUPPORTED:
		return "UNSUPPORTED";
	case IMSS_ERR_KEY_PROTECTION:
		return "KEY_PROTECTION";
	case IMSS_ERR_PKCS11:
		return "PKCS11";
	case IMSS_ERR_CRYPTO:
		return "CRYPTO";
	case IMSS_ERR_VERIFY:
		return "VERIFY";
	case IMSS_ERR_MISMATCH:
		return "MISMATCH";
	case IMSS_ERR_IO:
		return "IO";
	case IMSS_ERR_NOT_LOGGED_IN:
		return "NOT_LOGGED_IN";
	case IMSS_ERR_PIN_CANCELLED:
		return "PIN_CANCELLED";
	case IMSS_ERR_PASSWORD_INCORRECT:
		return "PASSWORD_INCORRECT";
	case IMSS_ERR_FORMAT:
		return "FORMAT";
	case IMSS_ERR_CERT_VALIDITY:
		return "CERT_VALIDITY";
	case IMSS_ERR_CHAIN:
		return "CHAIN";
	case IMSS_ERR_JOURNAL:
		return "JOURNAL";
	case IMSS_ERR_BUSY:
		return "BUSY";
	case IMSS_ERR_NETWORK:
		return "NETWORK";
	case IMSS_ERR_SERVICE:
		return "SERVICE";
	case IMSS_ERR_TLS:
		return "TLS";
	case IMSS_ERR_PROTOCOL:
		return "PROTOCOL";
	case IMSS_ERR_REFUSED_CERT:
		return "REFUSED_CERT";
	case IMSS_ERR_ABORTED:
		return "ABORTED";
	case IMSS_ERR_LABEL_IN_USE:
		return "LABEL_IN_USE";
	case IMSS_ERR_EXISTS:
		return "EXISTS";
	case IMSS_ERR_PENDING:
		return "PENDING";
	case IMSS_ERR_INTERRUPTED:
		return "INTERRUPTED";
	case IMSS_ERR_NO_TERMINAL:
		return "NO_TERMINAL";
	}
	return "UNKNOWN";
}

/* {"error":{"code","message","detail","hint","exit"}} on one line of
 * stdout; "hint" only when there is one. */
static void
print_error_json(const char *code, const char *message, const char *detail, const char *hint,
                 int exit_status)
{
	json_object *root = json_object_new_object();
	json_object *error = json_object_new_object();
	int ret;

	if (!root || !error || tool_json_str(error, "code", code) ||
	    tool_json_str(error, "message", message) || tool_json_str(error, "detail", detail) ||
	    (hint && tool_json_str(error, "hint", hint)) || tool_json_int(error, "exit", exit_status))
		goto out;
	ret = tool_json_add(root, "error", error); /* takes error */
	error = NULL;
	if (ret != 0)
		goto out;
	tool_json_print_line(root); /* takes root */
	root = NULL;
out:
	json_object_put(error);
	json_object_put(root);
}

/* text on stderr with each control character but newline and tab (C0,
 * DEL, and C1 as UTF-8) as '?': a detail may quote a server, a file or a
 * certificate, whose escape sequences must not reach the terminal. */
static void
put_text(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;

	for (; *p; p++) {
		if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			fputc('?', stderr);
			p++;
		} else if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) {
			fputc('?', stderr);
		} else {
			fputc(*p, stderr);
		}
	}
}

/* The detail on the lines after the message, ending with a newline. */
static void
print_detail(const char *detail)
{
	size_t len = strlen(detail);

	if (len == 0)
		return;
	put_text(detail);
	if (detail[len - 1] != '\n')
		fputc('\n', stderr);
}

static int
report_error(struct tool *t, imss_err err, const char *detail, const char *hint, int from_user_text)
{
	const char *message = imss_strerror(err);
	int exit_status = tool_exit_code(err, from_user_text);

	if (!detail)
		detail = "";
	fprintf(stderr, "%s: %s\n", TOOL_NAME, message);
	print_detail(detail);
	if (hint)
		fprintf(stderr, "%s\n", hint);
	if (t->json)
		print_error_json(tool_error_code(err), message, detail, hint, exit_status);
	return exit_status;
}

int
tool_fail(struct tool *t, imss_err err, int from_user_text)
{
	if (!t->ctx)
		return report_error(t, err, "", NULL, from_user_text);
	return report_error(t, err, imss_ctx_detail(t->ctx),
	                    tool_next_hint(imss_ctx_get_next(t->ctx)), from_user_text);
}

int
tool_fail_detail(struct tool *t, imss_err err, const char *fmt, ...)
{
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return report_error(t, err, detail, NULL, 0);
}

int
tool_usage_error(struct tool *t, const char *command, const char *fmt, ...)
{
	char message[512];
	char hint[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (command)
		snprintf(hint, sizeof(hint), _("Try '%s %s --help'."), TOOL_NAME, command);
	else
		snprintf(hint, sizeof(hint), _("Try '%s --help'."), TOOL_NAME);
	fprintf(stderr, "%s: %s\n%s\n", TOOL_NAME, message, hint);
	if (t->json)
		print_error_json(TOOL_USAGE_CODE, message, hint, NULL, TOOL_EXIT_USAGE);
	return TOOL_EXIT_USAGE;
}

int
tool_typed_result(struct tool *t, const char *command, imss_err err, const char *fmt, ...)
{
	char message[512];
	va_list ap;

	if (err == IMSS_OK)
		return TOOL_EXIT_OK;
	if (err != IMSS_ERR_INVALID_ARG)
		return tool_fail(t, err, 1);
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	return tool_usage_error(t, command, "%s", message);
}

int
tool_refuse_pin(struct tool *t, const char *command)
{
	return tool_usage_error(t, command, "%s",
	                        _("there is no --pin option: a PIN on the command line is visible to "
	                          "other users.  Use --pin-source tty|file:PATH|fd:N|env:NAME|cred:NAME"));
}

int
tool_refuse_password(struct tool *t, const char *command)
{
	return tool_usage_error(t, command, "%s",
	                        _("there is no --password option: a password on the command line is "
	                          "visible to other users.  Use --password-source "
	                          "tty|file:PATH|fd:N|env:NAME"));
}

void
tool_warn(const char *fmt, ...)
{
	char text[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s", TOOL_NAME, _("warning: "));
	put_text(text);
	fputc('\n', stderr);
}

/* Characters, not bytes, so that translated names with accents line up. */
static int
text_width(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

void
tool_field_name(const char *name)
{
	int pad = FIELD_WIDTH - text_width(name);

	printf("  %s:%*s ", name, pad > 0 ? pad : 0, "");
}

void
tool_put_text(const char *text)
{
	char *safe = imss_text_dup(text);

	fputs(safe ? safe : "?", stdout);
	free(safe);
}

void
tool_field(const char *name, const char *value)
{
	if (!value || !*value)
		value = "-";
	tool_field_name(name);
	tool_put_text(value);
	putchar('\n');
}

void
tool_field_ulong(const char *name, unsigned long value)
{
	char text[32];

	snprintf(text, sizeof(text), "%lu", value);
	tool_field(name, text);
}

void
tool_field_tristate(const char *name, int value)
{
	const char *word = _("unknown");

	if (value == 1)
		word = _("yes");
	else if (value == 0)
		word = _("no");
	tool_field(name, word);
}

void
tool_list_word(int *first, const char *word)
{
	if (!*first)
		fputs(", ", stdout);
	fputs(word, stdout);
	*first = 0;
}

void
tool_time_text(long long epoch, char *buf, size_t size)
{
	time_t when = (time_t)epoch;
	struct tm tm;

	if (size == 0)
		return;
	if (!gmtime_r(&when, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = '\0';
}

void
tool_text_list(const char *none, const void *items, size_t count, size_t size,
               void (*item)(const void *one, size_t number))
{
	size_t i;

	if (count == 0)
		puts(none);
	for (i = 0; i < count; i++) {
		if (i > 0)
			fputc('\n', stdout);
		item((const char *)items + i * size, i + 1);
	}
}

json_object *
tool_json_list(const char *key, const void *items, size_t count, size_t size,
               json_object *(*item)(const void *))
{
	json_object *root = json_object_new_object();
	json_object *array = json_object_new_array();
	size_t i;

	if (!root || tool_json_add(root, key, array) != 0)
		goto fail;
	for (i = 0; i < count; i++)
		if (tool_json_append(array, item((const char *)items + i * size)) != 0)
			goto fail;
	return root;
fail:
	json_object_put(root);
	return NULL;
}

int
tool_json_add(json_object *obj, const char *key, json_object *value)
{
	return json_set(obj, key, value);
}

int
tool_json_append(json_object *array, json_object *value)
{
	if (!value)
		return -1;
	if (json_object_array_add(array, value) != 0) {
		json_object_put(value);
		return -1;
	}
	return 0;
}

int
tool_json_str(json_object *obj, const char *key, const char *value)
{
	return json_set_str(obj, key, value);
}

int
tool_json_bool(json_object *obj, const char *key, int value)
{
	return tool_json_add(obj, key, json_object_new_boolean(value != 0));
}

int
tool_json_tristate(json_object *obj, const char *key, int value)
{
	if (value < 0)
		return json_object_object_add(obj, key, NULL) == 0 ? 0 : -1;
	return tool_json_bool(obj, key, value);
}

int
tool_json_key_flags(json_object *obj, int sensitive, int extractable, int local, int never_extractable)
{
	return tool_json_tristate(obj, "sensitive", sensitive) ||
	       tool_json_tristate(obj, "extractable", extractable) ||
	       tool_json_tristate(obj, "local", local) ||
	       tool_json_tristate(obj, "never_extractable", never_extractable);
}

int
tool_json_uint(json_object *obj, const char *key, unsigned long value)
{
	return tool_json_add(obj, key, json_object_new_uint64(value));
}

int
tool_json_int(json_object *obj, const char *key, long long value)
{
	return tool_json_add(obj, key, json_object_new_int64((int64_t)value));
}

int
tool_json_print_line(json_object *obj)
{
	const char *text =
	        json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
	                                                    JSON_C_TO_STRING_NOSLASHESCAPE);
	int ret = -1;

	if (text) {
		puts(text);
		ret = 0;
	}
	json_object_put(obj);
	fflush(stdout);
	return ret;
}

int
tool_json_answer(struct tool *t, json_object *root, int failed, imss_err err)
{
	if (failed || !root || err != IMSS_OK) {
		json_object_put(root);
		return tool_fail(t, err != IMSS_OK ? err : IMSS_ERR_NOMEM, 0);
	}
	tool_json_print(root);
	return TOOL_EXIT_OK;
}

int
tool_json_print(json_object *obj)
{
	const char *text =
	        obj ? json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
	                                                          JSON_C_TO_STRING_SPACED |
	                                                          JSON_C_TO_STRING_NOSLASHESCAPE)
	            : NULL;
	int ret = -1;

	/* A failed write shows in ferror(stdout), checked before exit. */
	if (text) {
		puts(text);
		ret = 0;
	}
	json_object_put(obj);
	return ret;
}
