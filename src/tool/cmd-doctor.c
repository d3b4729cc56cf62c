/*
 * imss-renew doctor: a read-only preflight of one token.  Each check shows
 * OK, WARN or FAIL with a sentence (ADVERTISED for an OK the token only
 * lists, not tried); the verdict is the worst of them.  --try logs in and
 * tries key generation and certificate storage with throwaway objects.
 * The exit status is 0 for OK or WARN and 1 for FAIL.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define COMMAND "doctor"

struct doctor_args {
	const char *token;
	int try;
	const char *types;      /* --type: a list; NULL: every listed type */
	const char *pin_source; /* NULL: tty */
};

/* At most this many key types in --type. */
#define DOCTOR_MAX_TYPES 8

static const struct tool_option options[] = {
	TOOL_OPTION_TOKEN(struct doctor_args, token),
	{ "try", TOOL_ARG_NONE, offsetof(struct doctor_args, try), NULL,
	  N_("log in, make a throwaway key pair of each type and a\nthrowaway certificate, check and delete them") },
	{ "type", TOOL_ARG_REQUIRED, offsetof(struct doctor_args, types), N_("TYPES"),
	  N_("with --try: the key types to try, comma-separated\n(default: every type the token lists)") },
	TOOL_OPTION_PIN_SOURCE(struct doctor_args, pin_source),
	TOOL_OPTION_END,
};

static void
synopsis(void)
{
	printf(_("Usage: %s [GLOBAL OPTIONS] %s --token URI\n"
	         "       %s [GLOBAL OPTIONS] %s --token URI --try [--type TYPES]\n"
	         "         [--pin-source SRC]\n"
	         "Check, without logging in or changing anything, whether a token can\n"
	         "generate and keep the key for the renewal.  Each check shows OK, WARN\n"
	         "or FAIL; ADVERTISED is what the token lists but the doctor did not\n"
	         "try.  With --try it logs in, makes a throwaway key pair of each type and\n"
	         "a throwaway certificate object under a random label, checks they are\n"
	         "its own, deletes them and shows the time each took; nothing else on\n"
	         "the token is touched.  The verdict is the worst status.  Exit status 0\n"
	         "for a verdict of OK or WARN, 1 for FAIL.\n"),
	       TOOL_NAME, COMMAND, TOOL_NAME, COMMAND);
}

static void
examples(void)
{
	printf(_("\nExamples:\n"
	         "  %s %s --token 'pkcs11:token=My%%20Token'\n"
	         "  %s --json %s --token 'pkcs11:serial=1234' | jq -r .verdict\n"
	         "  %s %s --token 'pkcs11:token=My%%20Token' --try --type rsa:2048,ec:prime256v1\n"),
	       TOOL_NAME, COMMAND, TOOL_NAME, COMMAND, TOOL_NAME, COMMAND);
}

/* The same words in text and JSON: they are part of the script interface. */
static const char *
status_word(imss_check_status status)
{
	switch (status) {
	case IMSS_CHECK_OK:
		return "OK";
	case IMSS_CHECK_WARN:
		return "WARN";
	case IMSS_CHECK_FAIL:
		break;
	}
	return "FAIL";
}

/* What a check rests on, in JSON (docs/json.md). */
static const char *
result_word(imss_check_result result)
{
	switch (result) {
	case IMSS_RESULT_OK:
		return "ok";
	case IMSS_RESULT_ADVERTISED:
		return "advertised";
	case IMSS_RESULT_FAILED:
		return "failed";
	case IMSS_RESULT_MISSING:
		break;
	}
	return "missing";
}

/* The first column: an OK that was only advertised does not say OK. */
static const char *
column_word(const imss_check *check)
{
	if (check->status == IMSS_CHECK_OK && check->result == IMSS_RESULT_ADVERTISED)
		return "ADVERTISED";
	return status_word(check->status);
}

static void
print_text(const imss_doctor_report *report)
{
	size_t i;

	for (i = 0; i < report->count; i++) {
		const imss_check *check = &report->checks[i];

		printf("%-10s  %s: ", column_word(check), check->name);
		tool_put_text(check->text ? check->text : "");
		if (check->ms >= 0)
			printf(_(" (%ld ms)"), check->ms);
		putchar('\n');
	}
	printf(_("Verdict: %s\n"), status_word(report->verdict));
}

static json_object *
check_json(const void *item)
{
	const imss_check *check = item;
	json_object *obj = json_object_new_object();

	if (!obj || tool_json_str(obj, "name", check->name) ||
	    tool_json_str(obj, "status", status_word(check->status)) ||
	    tool_json_str(obj, "result", result_word(check->result)) ||
	    tool_json_str(obj, "text", check->text) ||
	    (check->ms >= 0 ? tool_json_int(obj, "ms", check->ms)
	                    : json_object_object_add(obj, "ms", NULL) != 0)) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

static int
print_json(const imss_doctor_report *report)
{
	json_object *root = tool_json_list("checks", report->checks, report->count,
	                                   sizeof(*report->checks), check_json);

	if (!root || tool_json_str(root, "verdict", status_word(report->verdict)) != 0) {
		json_object_put(root);
		return -1;
	}
	return tool_json_print(root);
}

/* The read-only checks, then with --try the tries on a session opened
 * read-write and logged in.  A write-protected token refuses that session:
 * it gets the read-only checks (its "write" check fails) and no try. */
static imss_err
run_doctor(struct tool *t, const struct doctor_args *a, const imss_keyspec *types, size_t n_types,
           imss_pin_source *src, imss_doctor_report *report)
{
	imss_token *tok = NULL;
	int try = a->try;
	imss_err err;

	err = tool_open_token(t, a->token, try, &tok);
	if (err == IMSS_ERR_READ_ONLY && try) {
		tool_warn(_("nothing was tried, the token refuses to be written: %s"),
		          imss_ctx_detail(t->ctx));
		try = 0;
		err = tool_open_token(t, a->token, 0, &tok);
	}
	if (err == IMSS_OK)
		err = imss_token_doctor(tok, report);
	if (err == IMSS_OK && try)
		err = imss_token_login(tok, src, 0);
	if (err == IMSS_OK && try)
		err = imss_token_doctor_try(tok, types, n_types, report);
	if (tok)
		imss_token_close(tok);
	return err;
}

/* --type rsa:2048,ec:prime256v1 into types. */
static int
parse_types(struct tool *t, const char *list, imss_keyspec *types, size_t *n_types)
{
	char *copy = list ? strdup(list) : NULL, *save = NULL, *word;
	int rc = TOOL_EXIT_OK;

	*n_types = 0;
	if (list == NULL)
		return TOOL_EXIT_OK;
	if (copy == NULL)
		return tool_fail(t, IMSS_ERR_NOMEM, 0);
	for (word = strtok_r(copy, ",", &save); rc == TOOL_EXIT_OK && word != NULL;
	     word = strtok_r(NULL, ",", &save)) {
		if (*n_types == DOCTOR_MAX_TYPES ||
		    imss_keyspec_parse(word, &types[*n_types]) != IMSS_OK)
			rc = tool_usage_error(t, COMMAND,
			                      _("unknown key type '%s' in --type: use rsa:2048, rsa:3072, rsa:4096, ec:prime256v1 or ec:secp384r1, comma-separated"),
			                      word);
		else
			(*n_types)++;
	}
	if (rc == TOOL_EXIT_OK && *n_types == 0)
		rc = tool_usage_error(t, COMMAND, "%s", _("--type names no key type"));
	free(copy);
	return rc;
}

/* --type and --pin-source go with --try; the sources parsed before the
 * token is opened. */
static int
check_try_args(struct tool *t, const struct doctor_args *a, imss_keyspec *types, size_t *n_types,
               imss_pin_source **src)
{
	int rc;

	if (!a->try && (a->types || a->pin_source))
		return tool_usage_error(t, COMMAND, "%s",
		                        _("--type and --pin-source go with --try (the read-only doctor does not log in)"));
	rc = parse_types(t, a->types, types, n_types);
	if (rc == TOOL_EXIT_OK && a->try)
		rc = tool_pin_source(t, COMMAND, "--pin-source", a->pin_source, src);
	return rc;
}

static int
try_failed(const imss_doctor_report *report)
{
	size_t i;

	for (i = 0; i < report->count; i++)
		if (strncmp(report->checks[i].name, "try:", 4) == 0 &&
		    report->checks[i].status == IMSS_CHECK_FAIL)
			return 1;
	return 0;
}

static int
run(struct tool *t, void *args)
{
	imss_doctor_report report = { 0 };
	struct doctor_args *a = args;
	imss_keyspec types[DOCTOR_MAX_TYPES];
	imss_pin_source *src = NULL;
	size_t n_types = 0;
	imss_err err;
	int rc = TOOL_EXIT_OK;

	rc = check_try_args(t, a, types, &n_types, &src);
	if (rc != TOOL_EXIT_OK)
		goto out;
	err = run_doctor(t, a, types, n_types, src, &report);
	if (err != IMSS_OK) {
		rc = tool_fail(t, err, 0);
		goto out;
	}
	if (!t->json)
		print_text(&report);
	else if (print_json(&report) != 0) {
		rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
		goto out;
	}
	if (report.verdict == IMSS_CHECK_FAIL)
		rc = TOOL_EXIT_FAILURE;
	if (a->try && try_failed(&report))
		tool_warn("%s",
		          _("a try failed: the token cannot do what its FAIL line says; use another token or key type for the renewal"));
out:
	imss_doctor_report_clear(&report);
	if (src)
		imss_pin_source_free(src);
	return rc;
}

TOOL_COMMAND(cmd_doctor, struct doctor_args,
             N_("check whether a token is fit for the renewal (read-only, or --try)"));
