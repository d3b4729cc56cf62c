/*
 * Unit test of the tool's option parser (options.c): global options
 * before and after the command, a command's table (required, optional and
 * flag options, options that must be given), the refusals (unknown option,
 * missing value, value to a flag, --pin and --password, a positional
 * argument, what follows "--") with their messages, on stderr and as the
 * one-line JSON error.  main.c's part is stubbed: no command runs.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"
#include "unit.h"

/* ---- what main.c provides --------------------------------------------- */

const struct tool_command *const tool_commands[] = { NULL };
const size_t tool_command_count = 0;

int
tool_exit_code(imss_err err, int from_user_text)
{
	(void)from_user_text;
	return err == IMSS_OK ? TOOL_EXIT_OK : TOOL_EXIT_FAILURE;
}

static int version_printed, help_printed;

int
tool_print_version(const struct tool *t)
{
	(void)t;
	version_printed = 1;
	return TOOL_EXIT_OK;
}

void
tool_print_help(void)
{
	help_printed = 1;
}

/* ---- a command to parse for ------------------------------------------- */

struct demo_args {
	const char *token;
	const char *label;
	const char *wait;
	int force;
};

static const struct tool_option demo_options[] = {
	TOOL_OPTION_TOKEN(struct demo_args, token),
	{ "label", TOOL_ARG_REQUIRED, offsetof(struct demo_args, label), N_("LABEL"),
	  N_("the label") },
	{ "wait", TOOL_ARG_OPTIONAL, offsetof(struct demo_args, wait), "SECONDS", N_("wait") },
	{ "force", TOOL_ARG_NONE, offsetof(struct demo_args, force), NULL, N_("force") },
	TOOL_OPTION_END,
};

static void
demo_synopsis(void)
{
	puts("Usage: imss-renew demo --token URI");
}

static const struct tool_command demo = {
	"demo", "a command for the test", demo_options, demo_synopsis, NULL, NULL, 0, NULL, NULL,
};

/* ---- running the parser, its output captured -------------------------- */

struct run {
	int rc, done;
	struct tool t;
	struct demo_args args;
	char err[2048], out[4096];
};

/* Read back what went to fd since it was redirected to file. */
static void
take(FILE *file, int saved, int fd, char *buf, size_t size)
{
	size_t n;

	fflush(fd == 1 ? stdout : stderr);
	dup2(saved, fd);
	close(saved);
	rewind(file);
	n = fread(buf, 1, size - 1, file);
	buf[n] = '\0';
	fclose(file);
}

/* Parse argv (NULL-terminated) as the command's (global: as main's). */
static void
run(struct run *r, int global, int json, char **argv)
{
	FILE *err_file = tmpfile(), *out_file = tmpfile();
	int saved_err = dup(2), saved_out = dup(1), argc = 0;

	while (argv[argc])
		argc++;
	memset(r, 0, sizeof(*r));
	r->t.json = json;
	fflush(stdout);
	fflush(stderr);
	dup2(fileno(err_file), 2);
	dup2(fileno(out_file), 1);
	if (global)
		r->rc = tool_parse_global(&r->t, argc, argv, &r->done);
	else
		r->rc = tool_parse(&r->t, &demo, argc, argv, &r->args, &r->done);
	take(out_file, saved_out, 1, r->out, sizeof(r->out));
	take(err_file, saved_err, 2, r->err, sizeof(r->err));
}

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })

static void
test_command_options(void)
{
	struct run r;

	run(&r, 0, 0,
	    ARGV("demo", "--token", "pkcs11:token=a", "--label=IMSS 2026", "--force", "--wait=30"));
	CHECK_INT(r.rc, TOOL_EXIT_OK);
	CHECK_INT(r.done, 0);
	CHECK_STR(r.args.token, "pkcs11:token=a");
	CHECK_STR(r.args.label, "IMSS 2026");
	CHECK_STR(r.args.wait, "30");
	CHECK_INT(r.args.force, 1);
	CHECK_STR(r.err, "");
	/* An optional value given without one: "". */
	run(&r, 0, 0, ARGV("demo", "--wait", "--token=t"));
	CHECK_INT(r.rc, TOOL_EXIT_OK);
	CHECK_STR(r.args.wait, "");
	CHECK(r.args.label == NULL);
	CHECK_INT(r.args.force, 0);
}

/* The global options after the command, as before it. */
static void
test_global_after_command(void)
{
	struct run r;

	run(&r, 0, 0, ARGV("demo", "--token=t", "--json", "-v", "--module", "/m.so"));
	CHECK_INT(r.rc, TOOL_EXIT_OK);
	CHECK_INT(r.t.json, 1);
	CHECK_INT(r.t.verbose, 1);
	CHECK_STR(r.t.module_path, "/m.so");
	run(&r, 0, 0, ARGV("demo", "--verbose", "--module=/n.so", "--token=t"));
	CHECK_INT(r.rc, TOOL_EXIT_OK);
	CHECK_INT(r.t.verbose, 1);
	CHECK_STR(r.t.module_path, "/n.so");
}

/* Before the command: parsing stops at it, its options left to it. */
static void
test_global_before_command(void)
{
	struct run r;

	run(&r, 1, 0, ARGV("imss-renew", "--json", "--module", "/m.so", "-v", "demo", "--force"));
	CHECK_INT(r.rc, TOOL_EXIT_OK);
	CHECK_INT(r.done, 0);
	CHECK_INT(r.t.json, 1);
	CHECK_INT(r.t.verbose, 1);
	CHECK_STR(r.t.module_path, "/m.so");
	CHECK_INT(optind, 5);
	run(&r, 1, 0, ARGV("imss-renew", "--version"));
	CHECK_INT(r.done, 1);
	CHECK_INT(version_printed, 1);
	run(&r, 1, 0, ARGV("imss-renew", "-h"));
	CHECK_INT(r.done, 1);
	CHECK_INT(help_printed, 1);
	/* A command's option before the command is unknown there. */
	run(&r, 1, 0, ARGV("imss-renew", "--force", "demo"));
	CHECK_INT(r.rc, TOOL_EXIT_USAGE);
	CHECK_CONTAINS(r.err, "'--force'");
	CHECK_CONTAINS(r.err, "Try 'imss-renew --help'.");
}

static void
test_help(void)
{
	struct run r;

	/* --help answers even without the options that must be given. */
	run(&r, 0, 0, ARGV("demo", "--help"));
	CHECK_INT(r.rc, TOOL_EXIT_OK);
	CHECK_INT(r.done, 1);
	CHECK_CONTAINS(r.out, "Usage: imss-renew demo");
	CHECK_CONTAINS(r.out, "--token URI");
	CHECK_CONTAINS(r.out, "--wait[=SECONDS]");
	CHECK_CONTAINS(r.out, "Global options, before or after the command:");
	CHECK(strstr(r.out, "--pin ") == NULL);
	CHECK_STR(r.err, "");
}

/* A usage error: exit 2, the message and the hint on stderr. */
static void
check_usage(struct run *r, const char *message)
{
	CHECK_INT(r->rc, TOOL_EXIT_USAGE);
	CHECK_CONTAINS(r->err, message);
	CHECK_CONTAINS(r->err, "Try 'imss-renew demo --help'.");
}

static void
test_refusals(void)
{
	/* A command line and the start of what the usage error says. */
	const struct {
		char **argv;
		const char *message;
	} refusals[] = {
		{ ARGV("demo", "--token=t", "--colour"), "unknown or ambiguous option '--colour'" },
		{ ARGV("demo", "--token=t", "-x"), "unknown option '-x'" },
		{ ARGV("demo", "--token=t", "--label"), "option '--label' needs an argument" },
		{ ARGV("demo", "--token"), "option '--token' needs an argument" },
		{ ARGV("demo", "--token=t", "--force=yes"), "option '--force' takes no argument" },
		{ ARGV("demo", "--label", "x"), "--token URI is required" },
		{ ARGV("demo", "--token="), "--token URI is required" },
		{ ARGV("demo", "--token=t", "extra"), "unexpected argument 'extra'" },
	};
	struct run r;
	size_t i;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		run(&r, 0, 0, refusals[i].argv);
		check_usage(&r, refusals[i].message);
	}
}

/* --pin and --password, with a value or without, are refused without the
 * value ever reaching the output. */
static void
test_secrets_refused(void)
{
	struct run r;

	run(&r, 0, 0, ARGV("demo", "--token=t", "--pin=123456"));
	check_usage(&r, "there is no --pin option");
	CHECK_CONTAINS(r.err, "--pin-source");
	CHECK(strstr(r.err, "123456") == NULL);
	run(&r, 0, 0, ARGV("demo", "--pin", "--token=t"));
	check_usage(&r, "there is no --pin option");
	run(&r, 0, 0, ARGV("demo", "--token=t", "--password=secreto"));
	check_usage(&r, "there is no --password option");
	CHECK(strstr(r.err, "secreto") == NULL);
	run(&r, 1, 0, ARGV("imss-renew", "--pin=123456", "demo"));
	CHECK_INT(r.rc, TOOL_EXIT_USAGE);
	CHECK_CONTAINS(r.err, "there is no --pin option");
}

/* "--" ends the options: what follows is an argument, which demo refuses,
 * even when it looks like an option. */
static void
test_double_dash(void)
{
	struct run r;

	run(&r, 0, 0, ARGV("demo", "--token=t", "--"));
	CHECK_INT(r.rc, TOOL_EXIT_OK);
	run(&r, 0, 0, ARGV("demo", "--token=t", "--", "--force"));
	check_usage(&r, "unexpected argument '--force'");
	CHECK_INT(r.args.force, 0);
	/* A value may be "--" itself. */
	run(&r, 0, 0, ARGV("demo", "--token=t", "--label", "--"));
	CHECK_INT(r.rc, TOOL_EXIT_OK);
	CHECK_STR(r.args.label, "--");
}

/* With --json the error is also one line of JSON on stdout. */
static void
test_json_error(void)
{
	struct run r;

	run(&r, 0, 1, ARGV("demo", "--colour"));
	CHECK_INT(r.rc, TOOL_EXIT_USAGE);
	CHECK_CONTAINS(r.out, "{\"error\":{\"code\":\"USAGE\"");
	CHECK_CONTAINS(r.out, "\"exit\":2");
	CHECK(strchr(r.out, '\n') == r.out + strlen(r.out) - 1);
}

int
main(void)
{
	test_command_options();
	test_global_after_command();
	test_global_before_command();
	test_help();
	test_refusals();
	test_secrets_refused();
	test_double_dash();
	test_json_error();
	return unit_done("unit-options");
}
