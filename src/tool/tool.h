/*
 * imss-renew command-line tool: declarations shared by its modules.
 *
 * main.c runs one command from its table; each command lives in its own
 * cmd-*.c file with its option table (struct tool_option), parsed by
 * options.c, and returns an exit status (enum tool_exit).  output.c holds the text and JSON output helpers and
 * the one error printer; files.c reads input files and writes every output
 * file (atomically).  The tool uses only the library's public header, and
 * OpenSSL directly only for output formats (PEM).
 */
#ifndef IMSS_TOOL_H
#define IMSS_TOOL_H

#include <libintl.h>
#include <stddef.h>
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
	/* 10 and 11 belong to check (cmd-check.c). */
	TOOL_EXIT_PENDING = 12,      /* renew: the certificate is still pending */
	TOOL_EXIT_INTERRUPTED = 130, /* renew: stopped by Ctrl-C (128 + SIGINT) */
};

/*
 * A command's option, declared once: the table drives the parser, the
 * usage text and the bash completion (`imss-renew __complete`).  The
 * value goes into the command's argument struct at offset: a const char *
 * for TOOL_ARG_REQUIRED, TOOL_ARG_MANDATORY and TOOL_ARG_OPTIONAL ("" when
 * given without a value), an int set to 1 for TOOL_ARG_NONE.
 */
enum tool_arg {
	TOOL_ARG_NONE,
	TOOL_ARG_REQUIRED,
	TOOL_ARG_OPTIONAL,
	TOOL_ARG_MANDATORY, /* TOOL_ARG_REQUIRED, and the option must be
	                             given, not empty */
	TOOL_ARG_LIST,      /* a value each time it is given, into a struct
	                             tool_strings */
};

/* The values of a TOOL_ARG_LIST option, in the order given (argv's
 * strings, not copied). */
#define TOOL_STRINGS_MAX 64
struct tool_strings {
	const char *v[TOOL_STRINGS_MAX];
	size_t n;
};

struct tool_option {
	const char *name; /* the long name, without "--" */
	enum tool_arg arg;
	size_t offset;          /* of the value in the argument struct */
	const char *value_name; /* N_("FILE"): shown in the usage; for
	                             TOOL_ARG_OPTIONAL the literal value */
	const char *help;       /* N_(); a "\n" starts a continuation line */
};

#define TOOL_OPTION_END                            \
	{                                          \
		NULL, TOOL_ARG_NONE, 0, NULL, NULL \
	}

/* A row of a table: the value goes to field of struct type. */
#define TOOL_OPTION_ROW(type, field, name, arg, value_name, help)  \
	{                                                          \
		name, arg, offsetof(type, field), value_name, help \
	}

/* Options several commands share, each defined once (TOOL_HELP_*: its
 * help text). */
#define TOOL_OPTION_TOKEN(type, field) \
	TOOL_OPTION_ROW(type, field, "token", TOOL_ARG_MANDATORY, N_("URI"), TOOL_HELP_TOKEN)
#define TOOL_HELP_TOKEN N_("the token, as a PKCS#11 URI (see 'imss-renew tokens')")
#define TOOL_OPTION_PIN_SOURCE(type, field)                                      \
	TOOL_OPTION_ROW(type, field, "pin-source", TOOL_ARG_REQUIRED, N_("SRC"), \
	                TOOL_HELP_PIN_SOURCE)
#define TOOL_HELP_PIN_SOURCE \
	N_("where the PIN comes from: tty (default), file:PATH,\nfd:N, env:NAME or cred:NAME")
/* --pin-source where it also means --login (objects, status, check). */
#define TOOL_OPTION_LOGIN_PIN_SOURCE(type, field)                                \
	TOOL_OPTION_ROW(type, field, "pin-source", TOOL_ARG_REQUIRED, N_("SRC"), \
	                TOOL_HELP_LOGIN_PIN_SOURCE)
#define TOOL_HELP_LOGIN_PIN_SOURCE \
	N_("where the PIN comes from (implies --login):\ntty (default), file:PATH, fd:N, env:NAME or\ncred:NAME")
#define TOOL_OPTION_PASSWORD_SOURCE(type, field)                                      \
	TOOL_OPTION_ROW(type, field, "password-source", TOOL_ARG_REQUIRED, N_("SRC"), \
	                TOOL_HELP_PASSWORD_SOURCE)
#define TOOL_HELP_PASSWORD_SOURCE N_("the password of the .pfx or .key: same forms")
/* --type of a new key pair (keygen, renew). */
#define TOOL_OPTION_KEY_TYPE(type, field) \
	TOOL_OPTION_ROW(type, field, "type", TOOL_ARG_REQUIRED, N_("TYPE"), TOOL_HELP_KEY_TYPE)
#define TOOL_HELP_KEY_TYPE \
	N_("rsa:2048 (default), rsa:3072, rsa:4096,\nec:prime256v1 or ec:secp384r1")

/* What every command gets from main(). */
struct tool {
	const char *module_path; /* --module, or NULL for the p11-kit registry */
	int json;                /* --json */
	int verbose;             /* --verbose */
	imss_ctx *ctx;           /* made by tool_ctx() on first use */
	int subcommand;          /* index in the command's subcommands; -1: none given */
};

/* One subcommand: argv[0] is the command name. */
struct tool_command {
	const char *name;
	const char *summary; /* marked with N_(), translated when shown */
	const struct tool_option *options;
	void (*synopsis)(void); /* the usage lines and what the command does */
	void (*examples)(void); /* after the options (exit status, examples) */
	/* args: what tool_parse() made of the command line (main.c) */
	int (*run)(struct tool *t, void *args);
	size_t args_size; /* of the argument struct; 0: none */
	/* The words the command takes first (fleet check|renew), NULL-ended;
	 * NULL: none.  main.c takes the word off into t->subcommand. */
	const char *const *subcommands;
	/* What the options must say together, checked after parsing and
	 * before run (an exit status, the error reported); NULL: nothing. */
	int (*check)(struct tool *t, void *args);
};

/* options.c */

/*
 * Parse a command's options (its table, the global ones, -h/--help) into
 * args.  Positional arguments are refused.  --help prints the usage and
 * sets *done.  Returns an exit status, having reported the error.
 */
int tool_parse(struct tool *t, const struct tool_command *cmd, int argc, char **argv, void *args,
               int *done);

/* The global options (--module, --json, --verbose) before the command;
 * the same rules.  *done when --help or --version answered already. */
int tool_parse_global(struct tool *t, int argc, char **argv, int *done);

/* The usage of a command, from its table (what --help prints). */
void tool_print_usage(const struct tool_command *cmd);

/* The global options for `imss-renew --help`. */
void tool_print_global_options(void);

/* The commands, in the order of `imss-renew --help` (main.c). */
extern const struct tool_command *const tool_commands[];
extern const size_t tool_command_count;

/* --version in text or JSON (main.c). */
int tool_print_version(const struct tool *t);
/* `imss-renew --help` (main.c). */
void tool_print_help(void);

/* Print the generated part of the bash completion (options.c). */
int tool_print_completion(void);

/* main.c */

/* The library context, made on first use with the log callback attached. */
imss_err tool_ctx(struct tool *t, imss_ctx **out);

/* Open the one token uri names (the context made on first use). */
imss_err tool_open_token(struct tool *t, const char *uri, int read_write, imss_token **out);

/*
 * Parse a secret source given with option (--pin-source or
 * --password-source; spec NULL: "tty").  Returns an exit status, having
 * reported the error; malformed text is a usage error.
 */
int tool_pin_source(struct tool *t, const char *command, const char *option, const char *spec,
                    imss_pin_source **out);

/* Open the token uri names, and log in with src when src is not NULL. */
imss_err tool_open_login(struct tool *t, const char *uri, int read_write, imss_pin_source *src,
                         imss_token **out);

/*
 * A credential from the files IMSS users hold: a .pfx/.p12, or a .cer with
 * its .key (key_file, or the .cer's name with .key), the password from
 * password (see tool_pin_source()).  Returns an exit status, having
 * reported the error.
 */
int tool_open_credential_files(struct tool *t, const char *path, const char *key_file,
                               imss_pin_source *password, imss_credential **out);

/*
 * SIGINT and SIGTERM only noted from now on (install 1; without
 * SA_RESTART, a prompt or a wait is cut short), or back to the default
 * (0); tool_stop_requested() says whether one came.  For the commands
 * that stop cleanly between the steps of a renewal.
 */
void tool_stop_signals(int install);
int tool_stop_requested(void);

/*
 * --key-file names the .key of a .cer given with --credential: without
 * --credential, or with a .pfx/.p12 (which holds its own key), it is a
 * usage error.  Returns an exit status, having reported the error.
 */
int tool_check_key_file(struct tool *t, const char *command, const char *key_file,
                        const char *credential);

/* certlist.c: tool_check_key_file(), and --password-source (the password
 * of a .pfx or .key) only with --credential.  An exit status. */
int tool_check_credential_options(struct tool *t, const char *command, const char *credential,
                                  const char *key_file, const char *password_source);

/*
 * The exit status for a library error.  from_user_text says err came from
 * parsing what the user typed (--type, --pin-source): malformed text there
 * is a usage error.
 */
int tool_exit_code(imss_err err, int from_user_text);

/* A command, from what its cmd-*.c file defines: COMMAND (its name), the
 * static options, synopsis, examples and run, and its argument struct;
 * with check, the options are checked together before run. */
#define TOOL_COMMAND_CHECKED(var, args_type, summary, check)                                       \
	const struct tool_command var = { COMMAND, summary,           options, synopsis, examples, \
		                          run,     sizeof(args_type), NULL,    check }
#define TOOL_COMMAND(var, args_type, summary) TOOL_COMMAND_CHECKED(var, args_type, summary, NULL)

/* The commands (cmd-*.c). */
extern const struct tool_command cmd_tokens, cmd_objects, cmd_doctor, cmd_keygen, cmd_csr, cmd_sign,
        cmd_import, cmd_status, cmd_check, cmd_export, cmd_renew, cmd_recover, cmd_fleet, cmd_enroll;

/* certlist.c: the certificates `status` and `check` look at. */
struct cert_entry {
	const char *source; /* CERT_SOURCE_*: words of the JSON output */
	char *location;     /* the file, or the certificate's URI */
	char *token_label;  /* token sources: the token's label, else NULL */
	imss_cert_info info;
	int is_ca;       /* a CA certificate (check skips those) */
	int key_checked; /* whether key_present means anything */
	int key_present;
	char *key_location;  /* the key's URI, or the credential file */
	int verdict;         /* check's, filled by check */
	int retired;         /* relabelled "... (retired DATE)" by --retire-old */
	char *superseded_by; /* the serial of the newer certificate of the same
	                        registro patronal, with its key, or NULL */
};

struct cert_entries {
	struct cert_entry *v;
	size_t n;
	int logged_in; /* token sources: was the token logged in? */
};

extern const char CERT_SOURCE_FILE[], CERT_SOURCE_CREDENTIAL[], CERT_SOURCE_TOKEN[];

/* Where `status` and `check` find certificates: their shared options. */
struct cert_args {
	struct tool_strings certs; /* --cert: files and directories */
	const char *credential;
	const char *key_file;
	const char *token; /* NULL with no source (see each command) */
	const char *password_source;
	const char *pin_source;
	const char *days_text;      /* check's --days */
	const char *notify_command; /* check's --notify-command */
	int all;                    /* check's --all */
	int login;
};

/* The options of struct cert_args, with the help of --login. */
#define CERT_ARGS_OPTIONS(login_help)                                                                                                      \
	{                                                                                                                                  \
		"cert", TOOL_ARG_LIST, offsetof(struct cert_args, certs), N_("FILE"),                                                      \
		N_("certificates in a file: DER, PEM or PKCS#7;\nagain for more files; a directory: its .cer,\n.crt, .pem and .der files") \
	},                                                                                                                                 \
	        { "credential", TOOL_ARG_REQUIRED, offsetof(struct cert_args, credential),                                                 \
		  N_("FILE"), N_("a .pfx/.p12, or a .cer with its .key next to it") },                                                     \
	        { "key-file", TOOL_ARG_REQUIRED, offsetof(struct cert_args, key_file), N_("FILE"),                                         \
		  N_("the .key of a .cer, when it has another name") },                                                                    \
	        { "token", TOOL_ARG_REQUIRED, offsetof(struct cert_args, token), N_("URI"),                                                \
		  N_("the certificates on one token (PKCS#11 URI)") },                                                                     \
	        { "login", TOOL_ARG_NONE, offsetof(struct cert_args, login), NULL, login_help },                                           \
	        TOOL_OPTION_LOGIN_PIN_SOURCE(struct cert_args, pin_source),                                                                \
	        TOOL_OPTION_PASSWORD_SOURCE(struct cert_args, password_source)

/*
 * The combinations a command refuses; login_needs_token: --login and
 * --pin-source need --token (else: any token source, --token or none).
 */
int cert_args_check(struct tool *t, const char *command, const struct cert_args *a,
                    int login_needs_token);

void cert_entries_clear(struct cert_entries *e);

/*
 * Mark what is no longer the employer's current certificate: retired by
 * --retire-old (its label), or superseded by a newer certificate of the
 * same registro patronal whose key is present (checked when the source
 * checked keys; a token not logged in counts, as this tool stores a
 * certificate only beside its key; a bare certificate file never
 * supersedes: its key is unknown).  Then sort by days left, most urgent
 * first.  Returns IMSS_ERR_NOMEM or IMSS_OK.
 */
imss_err cert_entries_mark(struct cert_entries *e);

/* Is the entry the employer's current certificate (not retired, not
 * superseded)? */
int cert_entry_current(const struct cert_entry *x);
/* The certificates of --cert, --credential or --token (the one token
 * present when token is NULL).  Returns an exit status, having reported the
 * error. */
int cert_entries_collect(struct tool *t, const char *command, const struct cert_args *a,
                         struct cert_entries *e);
/* The certificates of the one token uri names, logged in with src if any;
 * the error is the caller's to report. */
imss_err cert_entries_from_token(struct tool *t, const char *uri, imss_pin_source *src,
                                 struct cert_entries *e);

/*
 * {"certificates":[...]}, the fields docs/json.md names; with verdicts
 * (check), each entry's "status" is verdicts[entry.verdict].  NULL when
 * out of memory.
 */
json_object *cert_entries_json(const struct cert_entries *e, const char *const *verdicts);

/* notify.c: --notify-command */

/*
 * Run cmd through /bin/sh -c with json_summary (and a newline) on its
 * standard input, its standard output sent to stderr, without the
 * variables of the env:NAME sources noted and $CREDENTIALS_DIRECTORY.
 * Waits for it.  0 when it exited 0; else -1, having warned on stderr
 * (the caller's exit status does not change).
 */
int tool_notify(struct tool *t, const char *cmd, const char *json_summary);

/* Note a secret source spec: an env:NAME variable is kept from the notify
 * command (tool_pin_source() notes every spec it parses). */
void tool_notify_note_source(const char *spec);

/* output.c: errors */

/* The stable word of err in JSON errors: "PIN_INCORRECT" for
 * IMSS_ERR_PIN_INCORRECT (docs/json.md); never renamed. */
const char *tool_error_code(imss_err err);

/* The code of every usage error (exit status 2). */
#define TOOL_USAGE_CODE "USAGE"

/*
 * Print "imss-renew: <message>" and the context's detail on stderr; in JSON
 * mode also {"error":{...}} on stdout.  Returns tool_exit_code(err, ...).
 */
int tool_fail(struct tool *t, imss_err err, int from_user_text);

/* hints.c: what to do next (imss_ctx_get_next()) naming the tool's
 * options; NULL for IMSS_NEXT_NONE. */
const char *tool_next_hint(imss_next next);

/*
 * The same for a failure the tool found itself: the message of err, then
 * the detail made from fmt.  Returns tool_exit_code(err, 0).
 */
int tool_fail_detail(struct tool *t, imss_err err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/*
 * Report a usage error: the message, then a pointer to `imss-renew CMD
 * --help` (command may be NULL for the global options).  Returns
 * TOOL_EXIT_USAGE.
 */
int tool_usage_error(struct tool *t, const char *command, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/*
 * The exit status of parsing what the user typed (err from
 * imss_*_parse()): TOOL_EXIT_OK; a usage error saying fmt when the text is
 * malformed (IMSS_ERR_INVALID_ARG); else tool_fail(t, err, 1).
 */
int tool_typed_result(struct tool *t, const char *command, imss_err err, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Someone typed --pin: explain --pin-source.  Returns TOOL_EXIT_USAGE. */
int tool_refuse_pin(struct tool *t, const char *command);

/* The same for --password: explain --password-source. */
int tool_refuse_password(struct tool *t, const char *command);

/* A warning on stderr: "imss-renew: warning: <message>". */
void tool_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* output.c: text */

/* "  <name>:<padding> <value>" on stdout; NULL or "" value prints "-". */
/* text on standard output as str_text_dup gives it: each control
 * character, NUL or invalid UTF-8 byte a '?' (what a token or a file
 * says, such as a label, reaches no terminal raw; --json keeps it exact). */
void tool_put_text(const char *text);
/* "  name:   value" (value through tool_put_text; "-" when empty). */
void tool_field(const char *name, const char *value);
/* Only "  <name>:<padding> ", for a value the caller prints. */
void tool_field_name(const char *name);
void tool_field_ulong(const char *name, unsigned long value);
/* A tri-state attribute (1, 0, -1) as yes / no / unknown. */
void tool_field_tristate(const char *name, int value);

/* Words in a list: "a, b, c".  Start with first = 1. */
void tool_list_word(int *first, const char *word);

/* Seconds since the epoch as ISO 8601 UTC, "2025-06-30T23:59:59Z". */
#define TOOL_TIME_SIZE 32
void tool_time_text(long long epoch, char *buf, size_t size);

/* output.c: JSON.  Each returns 0, or -1 when out of memory. */
int tool_json_str(json_object *obj, const char *key, const char *value);
int tool_json_bool(json_object *obj, const char *key, int value);
/* 1 true, 0 false, -1 null. */
int tool_json_tristate(json_object *obj, const char *key, int value);
/* A key's protection, each a tristate: "sensitive", "extractable",
 * "local", "never_extractable". */
int tool_json_key_flags(json_object *obj, int sensitive, int extractable, int local,
                        int never_extractable);
int tool_json_uint(json_object *obj, const char *key, unsigned long value);
int tool_json_int(json_object *obj, const char *key, long long value);
/*
 * The text of a list: item(one, number) for each of count items of size
 * bytes (numbered from 1), a blank line between two; the sentence none
 * (translated) when there are none.
 */
void tool_text_list(const char *none, const void *items, size_t count, size_t size,
                    void (*item)(const void *one, size_t number));
/*
 * {"key":[item(0), item(1), ...]} of count items of size bytes each, item()
 * making one element; NULL when out of memory.
 */
json_object *tool_json_list(const char *key, const void *items, size_t count, size_t size,
                            json_object *(*item)(const void *));
/* Adds value (consumed even on failure) to an object or an array. */
int tool_json_add(json_object *obj, const char *key, json_object *value);
int tool_json_append(json_object *array, json_object *value);

/* The same on one line, flushed (renew's events, errors). */
int tool_json_print_line(json_object *obj);

/*
 * Print obj on stdout and release it.  Returns 0, or -1 when out of memory
 * (also when obj is NULL, a builder having run out); a failed write is
 * caught by main() when it flushes stdout.
 */
int tool_json_print(json_object *obj);

/*
 * A command's JSON answer: print root, or, when building it failed
 * (failed, root NULL, or err not IMSS_OK), report err (IMSS_ERR_NOMEM when
 * err is IMSS_OK).  root is released either way.  The exit status.
 */
int tool_json_answer(struct tool *t, json_object *root, int failed, imss_err err);

/*
 * files.c: every file the tool reads whole or writes.  Each returns an
 * exit status, having reported the error.
 */

/* Inputs larger than this are refused (a letter or challenge is small). */
#define TOOL_INPUT_MAX (64UL * 1024 * 1024)

/* The certificate a PKCS#11 URI names, read from its token (opened
 * read-only, no login); X509_free() it.  An imss_err, not reported. */
imss_err tool_token_certificate(struct tool *t, const char *uri, X509 **out);

/* The whole file; *data is freed with free(). */
int tool_read_file(struct tool *t, const char *path, unsigned char **data, size_t *len);

/*
 * Write data to path atomically: a temporary file in the same directory,
 * fsync, rename over path (replace) or link to path, which fails when path
 * exists (!replace), then fsync of the directory.  Mode 0644 less the
 * umask.  On failure path is as it was and no temporary file is left.
 */
int tool_write_file(struct tool *t, const char *path, const void *data, size_t len, int replace);

/*
 * DER data, PEM-encoded with pem_type ("CERTIFICATE", "CMS", ...) unless
 * der, written to path with tool_write_file(), or to stdout when path is
 * NULL.
 */
int tool_write_encoded(struct tool *t, const char *path, int replace, int der, const char *pem_type,
                       const unsigned char *data, size_t len);

/* DER data as PEM text of pem_type; *pem is freed with free(). */
int tool_pem_encode(struct tool *t, const char *pem_type, const unsigned char *data, size_t len,
                    char **pem, size_t *pem_len);

#endif /* IMSS_TOOL_H */
