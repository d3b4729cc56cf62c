/*
 * The options of imss-renew: one parser and one usage printer for every
 * command, driven by each command's table (struct tool_option), with the
 * global options (--module, --json, --verbose) accepted before or after the
 * command.  getopt_long underneath; p11-kit's tool helpers are the model.
 *
 * --pin and --password exist only to be refused with a pointer to
 * --pin-source and --password-source: they are in every table, never in
 * the usage or the completion.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

/* getopt_long values: a command's option i is OPT_TABLE + i. */
enum {
	OPT_MODULE = 0x100,
	OPT_JSON,
	OPT_PIN,
	OPT_PASSWORD,
	OPT_TABLE = 0x200,
};

/* ':' reports a missing argument as ':'; "+" stops at the command name. */
#define COMMAND_OPTSTRING ":hv"
#define GLOBAL_OPTSTRING "+:hvV"

/* The global options, shown in every command's usage. */
static const struct tool_option global_options[] = {
	{ "module", TOOL_ARG_REQUIRED, 0, N_("PATH"),
	  N_("use the PKCS#11 module at PATH instead of the\nmodules registered with p11-kit") },
	{ "json", TOOL_ARG_NONE, 0, NULL,
	  N_("print results as JSON on stdout, errors as one\nline {\"error\":{\"code\",\"message\",\"exit\"}}\n(see docs/json.md)") },
	{ "verbose", TOOL_ARG_NONE, 0, NULL, N_("show the library's progress messages") },
	TOOL_OPTION_END,
};

static const struct option global_long[] = {
	{ "module", required_argument, NULL, OPT_MODULE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ "pin", optional_argument, NULL, OPT_PIN },
	{ "password", optional_argument, NULL, OPT_PASSWORD },
};

#define N_GLOBAL_LONG (sizeof(global_long) / sizeof(global_long[0]))

static size_t
table_size(const struct tool_option *options)
{
	size_t n = 0;

	while (options && options[n].name)
		n++;
	return n;
}

/* The option getopt_long() just rejected, as the user typed it. */
static void
rejected_option(char **argv, char *name, size_t size)
{
	const char *arg = argv[optind - 1];

	/*
	 * glibc: optopt is 0 for an unknown or ambiguous long option, the
	 * option's value for a long option with a bad argument, the character
	 * for a short option.  Long options are named by the argument itself.
	 */
	if (optopt == 0 || optopt >= OPT_MODULE || strncmp(arg, "--", 2) == 0)
		snprintf(name, size, "%.*s", (int)strcspn(arg, "="), arg);
	else
		snprintf(name, size, "-%c", optopt);
}

/* What getopt_long() returned for a bad option ('?' or ':'). */
static int
bad_option(struct tool *t, const char *command, char **argv, int c)
{
	char name[64];

	rejected_option(argv, name, sizeof(name));
	if (c == ':')
		return tool_usage_error(t, command, _("option '%s' needs an argument"), name);
	if (optopt != 0 && strncmp(name, "--", 2) == 0)
		return tool_usage_error(t, command, _("option '%s' takes no argument"), name);
	if (optopt == 0)
		return tool_usage_error(t, command, _("unknown or ambiguous option '%s'"), name);
	return tool_usage_error(t, command, _("unknown option '%s'"), name);
}

/* The getopt_long table: the command's options, then the global ones
 * (without --version, which goes before the command). */
static struct option *
long_options(const struct tool_option *options)
{
	size_t n = table_size(options), i, j = 0;
	struct option *longs = calloc(n + N_GLOBAL_LONG + 1, sizeof(*longs));
	static const int has_arg[] = {
		[TOOL_ARG_NONE] = no_argument,           [TOOL_ARG_REQUIRED] = required_argument,
		[TOOL_ARG_OPTIONAL] = optional_argument, [TOOL_ARG_MANDATORY] = required_argument,
		[TOOL_ARG_LIST] = required_argument,
	};

	if (!longs)
		return NULL;
	for (i = 0; i < n; i++, j++) {
		longs[j].name = options[i].name;
		longs[j].has_arg = has_arg[options[i].arg];
		longs[j].val = OPT_TABLE + (int)i;
	}
	for (i = 0; i < N_GLOBAL_LONG; i++)
		if (global_long[i].val != 'V')
			longs[j++] = global_long[i];
	return longs;
}

/* An option of the table, stored where the table says; a TOOL_ARG_LIST
 * option given too often is a usage error. */
static int
store(struct tool *t, const char *command, const struct tool_option *opt, void *args)
{
	char *slot = (char *)args + opt->offset;
	struct tool_strings *list = (struct tool_strings *)(void *)slot;

	if (opt->arg == TOOL_ARG_NONE)
		*(int *)(void *)slot = 1;
	else if (opt->arg != TOOL_ARG_LIST)
		*(const char **)(void *)slot = optarg ? optarg : "";
	else if (list->n == TOOL_STRINGS_MAX)
		return tool_usage_error(t, command, _("--%s is given at most %d times"), opt->name,
		                        TOOL_STRINGS_MAX);
	else
		list->v[list->n++] = optarg;
	return TOOL_EXIT_OK;
}

/* The options every command takes; 0 when c is none of them. */
static int
parse_common(struct tool *t, const char *command, char **argv, int c, int *rc)
{
	switch (c) {
	case OPT_MODULE:
		t->module_path = optarg;
		break;
	case OPT_JSON:
		t->json = 1; /* main() saw it already: see tool_prescan_json() */
		break;
	case 'v':
		t->verbose = 1;
		break;
	case OPT_PIN:
		*rc = tool_refuse_pin(t, command);
		break;
	case OPT_PASSWORD:
		*rc = tool_refuse_password(t, command);
		break;
	case '?':
	case ':':
		*rc = bad_option(t, command, argv, c);
		break;
	default:
		return 0;
	}
	return 1;
}

static void option_words(const struct tool_option *opt, char *buf, size_t size);

/* Every TOOL_ARG_MANDATORY option given, and not empty. */
static int
check_mandatory(struct tool *t, const struct tool_command *cmd, void *args)
{
	const struct tool_option *opt;
	const char *value;
	char words[128];

	for (opt = cmd->options; opt && opt->name; opt++) {
		if (opt->arg != TOOL_ARG_MANDATORY)
			continue;
		value = *(const char **)(void *)((char *)args + opt->offset);
		if (value && *value)
			continue;
		option_words(opt, words, sizeof(words));
		return tool_usage_error(t, cmd->name, _("%s is required"), words);
	}
	return TOOL_EXIT_OK;
}

int
tool_parse(struct tool *t, const struct tool_command *cmd, int argc, char **argv, void *args,
           int *done)
{
	struct option *longs = long_options(cmd->options);
	int rc = TOOL_EXIT_OK;
	int c;

	*done = 0;
	if (!longs)
		return tool_fail(t, IMSS_ERR_NOMEM, 0);
	optind = 0;
	while (rc == TOOL_EXIT_OK && !*done &&
	       (c = getopt_long(argc, argv, COMMAND_OPTSTRING, longs, NULL)) != -1) {
		if (c >= OPT_TABLE)
			rc = store(t, cmd->name, &cmd->options[c - OPT_TABLE], args);
		else if (c == 'h')
			*done = 1;
		else if (!parse_common(t, cmd->name, argv, c, &rc))
			rc = bad_option(t, cmd->name, argv, c);
	}
	free(longs);
	if (rc != TOOL_EXIT_OK)
		return rc;
	if (*done) {
		tool_print_usage(cmd);
		return TOOL_EXIT_OK;
	}
	if (optind < argc)
		return tool_usage_error(t, cmd->name, _("unexpected argument '%s'"), argv[optind]);
	return check_mandatory(t, cmd, args);
}

int
tool_parse_global(struct tool *t, int argc, char **argv, int *done)
{
	struct option longs[N_GLOBAL_LONG + 1] = { { 0 } };
	int rc = TOOL_EXIT_OK;
	int c;

	memcpy(longs, global_long, sizeof(global_long));
	*done = 0;
	optind = 0;
	while (rc == TOOL_EXIT_OK &&
	       (c = getopt_long(argc, argv, GLOBAL_OPTSTRING, longs, NULL)) != -1) {
		if (c == 'V') {
			*done = 1;
			return tool_print_version(t);
		}
		if (c == 'h') {
			*done = 1;
			tool_print_help();
			return TOOL_EXIT_OK;
		}
		if (!parse_common(t, NULL, argv, c, &rc))
			rc = bad_option(t, NULL, argv, c);
	}
	return rc;
}

/* ---- usage ------------------------------------------------------------ */

/* "--name VALUE", "--name[=VALUE]" or "-h, --help", as the usage shows it. */
static void
option_words(const struct tool_option *opt, char *buf, size_t size)
{
	/* A value name is translated ("ARCHIVO"); an optional value is a
	 * word the user types as it is. */
	if (opt->arg == TOOL_ARG_REQUIRED || opt->arg == TOOL_ARG_MANDATORY ||
	    opt->arg == TOOL_ARG_LIST)
		snprintf(buf, size, "--%s %s", opt->name, _(opt->value_name));
	else if (opt->arg == TOOL_ARG_OPTIONAL)
		snprintf(buf, size, "--%s[=%s]", opt->name, opt->value_name);
	else if (strcmp(opt->name, "verbose") == 0)
		snprintf(buf, size, "-v, --%s", opt->name);
	else
		snprintf(buf, size, "--%s", opt->name);
}

static int
words_width(const struct tool_option *options, int width)
{
	char words[128];
	int n;

	for (; options && options->name; options++) {
		option_words(options, words, sizeof(words));
		n = (int)strlen(words);
		if (n > width)
			width = n;
	}
	return width;
}

/* "  WORDS   help", continuation lines of help under its first. */
static void
print_option_line(const char *words, const char *help, int width)
{
	const char *line = help, *nl;

	printf("  %-*s  ", width, words);
	while ((nl = strchr(line, '\n')) != NULL) {
		printf("%.*s\n%*s", (int)(nl - line), line, width + 4, "");
		line = nl + 1;
	}
	printf("%s\n", line);
}

static void
print_options(const struct tool_option *options, int width)
{
	char words[128];

	for (; options && options->name; options++) {
		option_words(options, words, sizeof(words));
		print_option_line(words, _(options->help), width);
	}
}

void
tool_print_usage(const struct tool_command *cmd)
{
	int width = words_width(global_options, words_width(cmd->options, 10));

	cmd->synopsis();
	printf("\n%s\n", _("Options:"));
	print_options(cmd->options, width);
	print_option_line("-h, --help", _("print this help and exit"), width);
	printf("\n%s\n", _("Global options, before or after the command:"));
	print_options(global_options, width);
	if (cmd->examples)
		cmd->examples();
}

void
tool_print_global_options(void)
{
	int width = words_width(global_options, 13);

	print_options(global_options, width);
	print_option_line("-V, --version", _("print the version and exit"), width);
	print_option_line("-h, --help", _("print this help and exit"), width);
}

/* ---- bash completion -------------------------------------------------- */

static void
print_option_names(const struct tool_option *options)
{
	for (; options && options->name; options++)
		printf(" --%s", options->name);
}

int
tool_print_completion(void)
{
	size_t i;

	puts("# The commands, in the order of `imss-renew --help`.\n"
	     "_imss_renew_commands()\n{");
	fputs("\techo", stdout);
	for (i = 0; i < tool_command_count; i++)
		printf(" %s", tool_commands[i]->name);
	puts("\n}\n");
	puts("# _imss_renew_options [COMMAND]: the options of COMMAND, or the global\n"
	     "# options without one.  Not --pin or --password: they exist only to be\n"
	     "# refused.\n"
	     "_imss_renew_options()\n{\n\tcase ${1-} in");
	fputs("\t'') echo", stdout);
	print_option_names(global_options);
	puts(" --version --help ;;");
	for (i = 0; i < tool_command_count; i++) {
		printf("\t%s) echo", tool_commands[i]->name);
		print_option_names(tool_commands[i]->options);
		puts(" --help ;;");
	}
	puts("\tesac\n}");
	return TOOL_EXIT_OK;
}
