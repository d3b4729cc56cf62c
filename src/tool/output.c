/*
 * Output of the imss-renew tool: the error printer, usage errors, and small
 * helpers for text and JSON results.
 *
 * Results go to stdout; errors, warnings and library messages to stderr.
 * In JSON mode stdout carries exactly one JSON object: the result, or
 * {"error":{"code":N,"message":"...","detail":"..."}}.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tool.h"

/* Width of the field names in text output, in characters (UTF-8). */
#define FIELD_WIDTH 20

static int add_error_fields(json_object *error, int code, const char *message,
                            const char *detail)
{
	if (tool_json_uint(error, "code", (unsigned long)code) ||
	    tool_json_str(error, "message", message) ||
	    tool_json_str(error, "detail", detail))
		return -1;
	return 0;
}

static void print_error_json(int code, const char *message, const char *detail)
{
	json_object *root = json_object_new_object();
	json_object *error = json_object_new_object();
	int ret;

	if (!root || !error || add_error_fields(error, code, message, detail) != 0)
		goto out;
	ret = tool_json_add(root, "error", error);  /* takes error */
	error = NULL;
	if (ret != 0)
		goto out;
	tool_json_print(root);  /* takes root */
	root = NULL;
out:
	json_object_put(error);
	json_object_put(root);
}

/* The detail on the lines after the message, ending with a newline. */
static void print_detail(const char *detail)
{
	size_t len = strlen(detail);

	if (len == 0)
		return;
	fputs(detail, stderr);
	if (detail[len - 1] != '\n')
		fputc('\n', stderr);
}

static void report_error(struct tool *t, imss_err err, const char *detail)
{
	const char *message = imss_strerror(err);

	if (!detail)
		detail = "";
	fprintf(stderr, "%s: %s\n", TOOL_NAME, message);
	print_detail(detail);
	if (t->json)
		print_error_json((int)err, message, detail);
}

int tool_fail(struct tool *t, imss_err err, int from_user_text)
{
	report_error(t, err, t->ctx ? imss_ctx_detail(t->ctx) : "");
	return tool_exit_code(err, from_user_text);
}

int tool_fail_detail(struct tool *t, imss_err err, const char *fmt, ...)
{
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	report_error(t, err, detail);
	return tool_exit_code(err, 0);
}

int tool_usage_error(struct tool *t, const char *command, const char *fmt, ...)
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
		print_error_json(IMSS_ERR_INVALID_ARG, message, hint);
	return TOOL_EXIT_USAGE;
}

int tool_refuse_pin(struct tool *t, const char *command)
{
	return tool_usage_error(t, command, "%s",
		_("there is no --pin option: a PIN on the command line is visible to "
		  "other users.  Use --pin-source tty|file:PATH|fd:N|env:NAME"));
}

int tool_refuse_password(struct tool *t, const char *command)
{
	return tool_usage_error(t, command, "%s",
		_("there is no --password option: a password on the command line is "
		  "visible to other users.  Use --password-source "
		  "tty|file:PATH|fd:N|env:NAME"));
}

void tool_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s", TOOL_NAME, _("warning: "));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Characters, not bytes, so that translated names with accents line up. */
static int text_width(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

void tool_field_name(const char *name)
{
	int pad = FIELD_WIDTH - text_width(name);

	printf("  %s:%*s ", name, pad > 0 ? pad : 0, "");
}

void tool_field(const char *name, const char *value)
{
	if (!value || !*value)
		value = "-";
	tool_field_name(name);
	printf("%s\n", value);
}

void tool_field_ulong(const char *name, unsigned long value)
{
	char text[32];

	snprintf(text, sizeof(text), "%lu", value);
	tool_field(name, text);
}

void tool_field_tristate(const char *name, int value)
{
	const char *word = _("unknown");

	if (value == 1)
		word = _("yes");
	else if (value == 0)
		word = _("no");
	tool_field(name, word);
}

void tool_list_word(int *first, const char *word)
{
	if (!*first)
		fputs(", ", stdout);
	fputs(word, stdout);
	*first = 0;
}

void tool_time_text(long long epoch, char *buf, size_t size)
{
	time_t when = (time_t)epoch;
	struct tm tm;

	if (size == 0)
		return;
	if (!gmtime_r(&when, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = '\0';
}

int tool_json_add(json_object *obj, const char *key, json_object *value)
{
	if (!value)
		return -1;
	if (json_object_object_add(obj, key, value) != 0) {
		json_object_put(value);
		return -1;
	}
	return 0;
}

int tool_json_append(json_object *array, json_object *value)
{
	if (!value)
		return -1;
	if (json_object_array_add(array, value) != 0) {
		json_object_put(value);
		return -1;
	}
	return 0;
}

int tool_json_str(json_object *obj, const char *key, const char *value)
{
	if (!value)
		return json_object_object_add(obj, key, NULL) == 0 ? 0 : -1;
	return tool_json_add(obj, key, json_object_new_string(value));
}

int tool_json_bool(json_object *obj, const char *key, int value)
{
	return tool_json_add(obj, key, json_object_new_boolean(value != 0));
}

int tool_json_tristate(json_object *obj, const char *key, int value)
{
	if (value < 0)
		return json_object_object_add(obj, key, NULL) == 0 ? 0 : -1;
	return tool_json_bool(obj, key, value);
}

int tool_json_uint(json_object *obj, const char *key, unsigned long value)
{
	return tool_json_add(obj, key, json_object_new_uint64(value));
}

int tool_json_int(json_object *obj, const char *key, long long value)
{
	return tool_json_add(obj, key, json_object_new_int64((int64_t)value));
}

int tool_json_print(json_object *obj)
{
	const char *text = json_object_to_json_string_ext(obj,
		JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		JSON_C_TO_STRING_NOSLASHESCAPE);
	int ret = -1;

	/* A failed write shows in ferror(stdout), checked before exit. */
	if (text) {
		puts(text);
		ret = 0;
	}
	json_object_put(obj);
	return ret;
}
