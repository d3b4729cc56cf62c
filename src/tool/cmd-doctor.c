/*
 * imss-renew doctor: a read-only preflight of one token.  Each check shows
 * OK, WARN or FAIL with a sentence; the verdict is the worst of them.  The
 * exit status is 0 for OK or WARN and 1 for FAIL.
 */
#include <stddef.h>
#include <stdio.h>

#include "tool.h"

#define COMMAND "doctor"

struct doctor_args {
	const char *token;
};

static const struct tool_option options[] = {
	TOOL_OPTION_TOKEN(struct doctor_args, token),
	TOOL_OPTION_END,
};

static void
synopsis(void)
{
	printf(_("Usage: %s [GLOBAL OPTIONS] %s --token URI\n"
	         "Check, without logging in or changing anything, whether a token can\n"
	         "generate and keep the key for the renewal.  Each check shows OK, WARN\n"
	         "or FAIL; the verdict is the worst of them.  Exit status 0 for a verdict\n"
	         "of OK or WARN, 1 for FAIL.\n"),
	       TOOL_NAME, COMMAND);
}

static void
examples(void)
{
	printf(_("\nExamples:\n"
	         "  %s %s --token 'pkcs11:token=My%%20Token'\n"
	         "  %s --json %s --token 'pkcs11:serial=1234' | jq -r .verdict\n"),
	       TOOL_NAME, COMMAND, TOOL_NAME, COMMAND);
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

static void
print_text(const imss_doctor_report *report)
{
	size_t i;

	for (i = 0; i < report->count; i++) {
		const imss_check *check = &report->checks[i];

		printf("%-4s  %s: %s\n", status_word(check->status), check->name,
		       check->text ? check->text : "");
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
	    tool_json_str(obj, "text", check->text)) {
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

static imss_err
run_doctor(struct tool *t, const char *uri, imss_doctor_report *report)
{
	imss_token *tok = NULL;
	imss_err err;

	err = tool_open_token(t, uri, 0, &tok);
	if (err == IMSS_OK)
		err = imss_token_doctor(tok, report);
	if (tok)
		imss_token_close(tok);
	return err;
}

static int
run(struct tool *t, int argc, char **argv)
{
	imss_doctor_report report = { 0 };
	struct doctor_args a = { 0 };
	imss_err err;
	int done = 0;
	int rc;

	rc = tool_parse(t, &cmd_doctor, argc, argv, &a, &done);
	if (rc != TOOL_EXIT_OK || done)
		goto out;
	err = run_doctor(t, a.token, &report);
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
out:
	imss_doctor_report_clear(&report);
	return rc;
}

TOOL_COMMAND(cmd_doctor, N_("check, read-only, whether a token is fit for the renewal"));
