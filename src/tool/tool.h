/*
 * imss-renew command-line tool: declarations shared by its modules.
 *
 * main.c parses the global options and runs one command from its table;
 * each command lives in its own cmd-*.c file and returns an exit status
 * (enum tool_exit).  output.c holds the text and JSON output helpers and
 * the one error printer.  The tool uses only the library's public header.
 */
#ifndef IMSS_TOOL_H
#define IMSS_TOOL_H

#include <libintl.h>
#include <stdio.h>

#include <json-c/json.h>

#include <imss-renew/imss-renew.h>

#define _(s) gettext(s)
#define N_(s) (s)

#define TOOL_NAME "imss-renew"

/* Exit status, as documented in `imss-renew --help`. */
enum tool_exit {
	TOOL_EXIT_OK = 0,
	TOOL_EXIT_FAILURE = 1,
	TOOL_EXIT_USAGE = 2,
};

/* Long options without a short form get values above any character. */
enum {
	TOOL_OPT_LONG = 0x100,
};

/* What every command gets from main(). */
struct tool {
	const char *module_path;  /* --module, or NULL for the p11-kit registry */
	int json;                 /* --json */
	int verbose;              /* --verbose */
	imss_ctx *ctx;            /* made by tool_ctx() on first use */
};

/* One subcommand: argv[0] is the command name. */
struct tool_command {
	const char *name;
	const char *summary;      /* marked with N_(), translated when shown */
	int (*run)(struct tool *t, int argc, char **argv);
};

/* main.c */

/* The library context, made on first use with the log callback attached. */
imss_err tool_ctx(struct tool *t, imss_ctx **out);

/* Open the one token uri names (the context made on first use). */
imss_err tool_open_token(struct tool *t, const char *uri, int read_write,
                         imss_token **out);

/*
 * Parse --pin-source (spec NULL: "tty").  Returns an exit status, having
 * reported the error; malformed text is a usage error.
 */
int tool_pin_source(struct tool *t, const char *command, const char *spec,
                    imss_pin_source **out);

/*
 * The exit status for a library error.  from_user_text says err came from
 * parsing what the user typed (--type, --pin-source): malformed text there
 * is a usage error.
 */
int tool_exit_code(imss_err err, int from_user_text);

/* The commands (cmd-*.c). */
int cmd_tokens(struct tool *t, int argc, char **argv);
int cmd_objects(struct tool *t, int argc, char **argv);
int cmd_doctor(struct tool *t, int argc, char **argv);
int cmd_keygen(struct tool *t, int argc, char **argv);

/* output.c: errors */

/*
 * Print "imss-renew: <message>" and the context's detail on stderr; in JSON
 * mode also {"error":{...}} on stdout.  Returns tool_exit_code(err, ...).
 */
int tool_fail(struct tool *t, imss_err err, int from_user_text);

/*
 * Report a usage error: the message, then a pointer to `imss-renew CMD
 * --help` (command may be NULL for the global options).  Returns
 * TOOL_EXIT_USAGE.
 */
int tool_usage_error(struct tool *t, const char *command, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Report what getopt_long() returned for a bad option (c is '?' or ':',
 * the option string starts with ':' and opterr is 0).  Returns
 * TOOL_EXIT_USAGE.
 */
int tool_bad_option(struct tool *t, const char *command, char **argv, int c);

/* Someone typed --pin: explain --pin-source.  Returns TOOL_EXIT_USAGE. */
int tool_refuse_pin(struct tool *t, const char *command);

/* A warning on stderr: "imss-renew: warning: <message>". */
void tool_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* output.c: text */

/* "  <name>:<padding> <value>" on stdout; NULL or "" value prints "-". */
void tool_field(const char *name, const char *value);
/* Only "  <name>:<padding> ", for a value the caller prints. */
void tool_field_name(const char *name);
void tool_field_ulong(const char *name, unsigned long value);
/* A tri-state attribute (1, 0, -1) as yes / no / unknown. */
void tool_field_tristate(const char *name, int value);

/* Words in a list: "a, b, c".  Start with first = 1. */
void tool_list_word(int *first, const char *word);

/* output.c: JSON.  Each returns 0, or -1 when out of memory. */
int tool_json_str(json_object *obj, const char *key, const char *value);
int tool_json_bool(json_object *obj, const char *key, int value);
/* 1 true, 0 false, -1 null. */
int tool_json_tristate(json_object *obj, const char *key, int value);
int tool_json_uint(json_object *obj, const char *key, unsigned long value);
/* Adds value (consumed even on failure) to an object or an array. */
int tool_json_add(json_object *obj, const char *key, json_object *value);
int tool_json_append(json_object *array, json_object *value);

/*
 * Print obj on stdout and release it.  Returns 0, or -1 when out of memory;
 * a failed write is caught by main() when it flushes stdout.
 */
int tool_json_print(json_object *obj);

#endif /* IMSS_TOOL_H */
