/*
 * imss-renew command-line tool: declarations shared by its modules.
 *
 * main.c parses the global options and runs one command from its table;
 * each command lives in its own cmd-*.c file and returns an exit status
 * (enum tool_exit).  output.c holds the text and JSON output helpers and
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
 * Parse a secret source given with option (--pin-source or
 * --password-source; spec NULL: "tty").  Returns an exit status, having
 * reported the error; malformed text is a usage error.
 */
int tool_pin_source(struct tool *t, const char *command, const char *option,
                    const char *spec, imss_pin_source **out);

/* Open the token uri names, and log in with src when src is not NULL. */
imss_err tool_open_login(struct tool *t, const char *uri, int read_write,
                         imss_pin_source *src, imss_token **out);

/*
 * A credential from the files IMSS users hold: a .pfx/.p12, or a .cer with
 * its .key (key_file, or the .cer's name with .key), the password from
 * password (see tool_pin_source()).  Returns an exit status, having
 * reported the error.
 */
int tool_open_credential_files(struct tool *t, const char *path,
                               const char *key_file, imss_pin_source *password,
                               imss_credential **out);

/* Does the name end in .pfx or .p12 (any case)? */
int tool_is_pkcs12_name(const char *path);

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
int cmd_csr(struct tool *t, int argc, char **argv);
int cmd_sign(struct tool *t, int argc, char **argv);
int cmd_import(struct tool *t, int argc, char **argv);
int cmd_status(struct tool *t, int argc, char **argv);
int cmd_check(struct tool *t, int argc, char **argv);
int cmd_export(struct tool *t, int argc, char **argv);
int cmd_renew(struct tool *t, int argc, char **argv);
int cmd_recover(struct tool *t, int argc, char **argv);

/* certlist.c: the certificates `status` and `check` look at. */
struct cert_entry {
	const char *source;      /* CERT_SOURCE_*: words of the JSON output */
	char *location;          /* the file, or the certificate's URI */
	char *token_label;       /* token sources: the token's label, else NULL */
	imss_cert_info info;
	int is_ca;               /* a CA certificate (check skips those) */
	int key_checked;         /* whether key_present means anything */
	int key_present;
	char *key_location;      /* the key's URI, or the credential file */
	int verdict;             /* check's, filled by check */
};

struct cert_entries {
	struct cert_entry *v;
	size_t n;
	int logged_in;           /* token sources: was the token logged in? */
};

extern const char CERT_SOURCE_FILE[], CERT_SOURCE_CREDENTIAL[], CERT_SOURCE_TOKEN[];

void cert_entries_clear(struct cert_entries *e);
/* Each returns an exit status, having reported the error. */
int cert_entries_from_file(struct tool *t, const char *path, struct cert_entries *e);
int cert_entries_from_credential(struct tool *t, const char *command, const char *path,
                                 const char *key_file, const char *password_source,
                                 struct cert_entries *e);
/* The certificates of the one token uri names, logged in with src if any;
 * the error is the caller's to report. */
imss_err cert_entries_from_token(struct tool *t, const char *uri, imss_pin_source *src,
                                 struct cert_entries *e);

/* output.c: errors */

/*
 * Print "imss-renew: <message>" and the context's detail on stderr; in JSON
 * mode also {"error":{...}} on stdout.  Returns tool_exit_code(err, ...).
 */
int tool_fail(struct tool *t, imss_err err, int from_user_text);

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
 * Report what getopt_long() returned for a bad option (c is '?' or ':',
 * the option string starts with ':' and opterr is 0).  Returns
 * TOOL_EXIT_USAGE.
 */
int tool_bad_option(struct tool *t, const char *command, char **argv, int c);

/* Someone typed --pin: explain --pin-source.  Returns TOOL_EXIT_USAGE. */
int tool_refuse_pin(struct tool *t, const char *command);

/* The same for --password: explain --password-source. */
int tool_refuse_password(struct tool *t, const char *command);

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

/* Seconds since the epoch as ISO 8601 UTC, "2025-06-30T23:59:59Z". */
#define TOOL_TIME_SIZE 32
void tool_time_text(long long epoch, char *buf, size_t size);

/* output.c: JSON.  Each returns 0, or -1 when out of memory. */
int tool_json_str(json_object *obj, const char *key, const char *value);
int tool_json_bool(json_object *obj, const char *key, int value);
/* 1 true, 0 false, -1 null. */
int tool_json_tristate(json_object *obj, const char *key, int value);
int tool_json_uint(json_object *obj, const char *key, unsigned long value);
int tool_json_int(json_object *obj, const char *key, long long value);
/* Adds value (consumed even on failure) to an object or an array. */
int tool_json_add(json_object *obj, const char *key, json_object *value);
int tool_json_append(json_object *array, json_object *value);

/*
 * Print obj on stdout and release it.  Returns 0, or -1 when out of memory;
 * a failed write is caught by main() when it flushes stdout.
 */
int tool_json_print(json_object *obj);

/*
 * files.c: every file the tool reads whole or writes.  Each returns an
 * exit status, having reported the error.
 */

/* Inputs larger than this are refused (a letter or challenge is small). */
#define TOOL_INPUT_MAX (64UL * 1024 * 1024)

/* The whole file; *data is freed with free(). */
int tool_read_file(struct tool *t, const char *path, unsigned char **data,
                   size_t *len);

/*
 * Write data to path atomically: a temporary file in the same directory,
 * fsync, rename over path (replace) or link to path, which fails when path
 * exists (!replace), then fsync of the directory.  Mode 0644 less the
 * umask.  On failure path is as it was and no temporary file is left.
 */
int tool_write_file(struct tool *t, const char *path, const void *data,
                    size_t len, int replace);

/*
 * DER data, PEM-encoded with pem_type ("CERTIFICATE", "CMS", ...) unless
 * der, written to path with tool_write_file(), or to stdout when path is
 * NULL.
 */
int tool_write_encoded(struct tool *t, const char *path, int replace, int der,
                       const char *pem_type, const unsigned char *data,
                       size_t len);

/* DER data as PEM text of pem_type; *pem is freed with free(). */
int tool_pem_encode(struct tool *t, const char *pem_type,
                    const unsigned char *data, size_t len, char **pem,
                    size_t *pem_len);

#endif /* IMSS_TOOL_H */
