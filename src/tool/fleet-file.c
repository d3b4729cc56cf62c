/*
 * The fleet file (fleet-file.h): a CSV file with a header, read with
 * libcsv one physical line at a time so that a mistake names its line.
 * The header names the columns in any order; an unknown or repeated
 * column, a row with the wrong number of cells, a missing required cell,
 * a malformed value and a registro patronal given twice are refused with
 * the line, before anything is done with any row.
 */
#include <csv.h>
#include <libintl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <imss-renew/imss-renew.h>

#include "fleet-file.h"

#define _(s) gettext(s)

#define COLUMNS_MAX 32

/* The columns, by name, and where their value goes. */
static const struct {
	const char *name;
	size_t offset;
} fleet_columns[] = {
	{ "registro_patronal", offsetof(struct fleet_row, registro_patronal) },
	{ "user", offsetof(struct fleet_row, user) },
	{ "current", offsetof(struct fleet_row, current) },
	{ "token", offsetof(struct fleet_row, token) },
	{ "server", offsetof(struct fleet_row, server) },
	{ "email", offsetof(struct fleet_row, email) },
	{ "label", offsetof(struct fleet_row, label) },
	{ "type", offsetof(struct fleet_row, type) },
	{ "idse_password_source", offsetof(struct fleet_row, idse_password_source) },
	{ "password_source", offsetof(struct fleet_row, password_source) },
};

#define N_COLUMNS (sizeof(fleet_columns) / sizeof(fleet_columns[0]))

#define CELL(row, column) ((char **)((char *)(row) + fleet_columns[column].offset))

/* What the libcsv callbacks build. */
struct parse {
	struct fleet_file *file;
	unsigned long line;        /* being fed */
	unsigned long record_line; /* where the record being read started */
	int header_done;
	size_t ncolumns;
	int column_of[COLUMNS_MAX]; /* header cell -> fleet_columns index */
	size_t cell;                /* of the record being read */
	struct fleet_row row;
	char *error;
};

static void parse_fail(struct parse *p, unsigned long line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
parse_fail(struct parse *p, unsigned long line, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	int n;

	if (p->error != NULL)
		return; /* the first mistake is the one told */
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	n = snprintf(NULL, 0, _("line %lu: %s"), line, text);
	p->error = n > 0 ? malloc((size_t)n + 1) : NULL;
	if (p->error != NULL)
		snprintf(p->error, (size_t)n + 1, _("line %lu: %s"), line, text);
	else
		p->error = strdup("out of memory");
}

static void
row_clear(struct fleet_row *row)
{
	size_t i;

	for (i = 0; i < N_COLUMNS; i++)
		free(*CELL(row, i));
	memset(row, 0, sizeof(*row));
}

void
fleet_file_clear(struct fleet_file *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		row_clear(&f->rows[i]);
	free(f->rows);
	memset(f, 0, sizeof(*f));
}

static int
column_index(const char *name)
{
	size_t i;

	for (i = 0; i < N_COLUMNS; i++)
		if (strcmp(fleet_columns[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void
header_cell(struct parse *p, const char *name)
{
	int column = column_index(name);
	size_t i;

	if (p->ncolumns >= COLUMNS_MAX) {
		parse_fail(p, p->record_line, _("more than %d columns"), COLUMNS_MAX);
		return;
	}
	if (column < 0) {
		parse_fail(p, p->record_line,
		           _("unknown column '%.64s'; the columns are registro_patronal, user, current, token, server, email, label, type, idse_password_source and password_source"),
		           name);
		return;
	}
	for (i = 0; i < p->ncolumns; i++)
		if (p->column_of[i] == column)
			parse_fail(p, p->record_line, _("the column '%s' is named twice"), name);
	p->column_of[p->ncolumns++] = column;
}

static void
on_cell(void *text, size_t len, void *user)
{
	struct parse *p = user;
	char **cell;

	if (p->error != NULL)
		return;
	if (p->cell == 0)
		p->record_line = p->line;
	if (text != NULL && strlen(text) != len) {
		parse_fail(p, p->line, "%s", _("a cell holds a NUL byte"));
		return;
	}
	if (!p->header_done) {
		header_cell(p, text ? text : "");
		p->cell++;
		return;
	}
	if (p->cell >= p->ncolumns) {
		parse_fail(p, p->record_line, _("more cells than the %zu columns of the header"),
		           p->ncolumns);
		return;
	}
	cell = CELL(&p->row, p->column_of[p->cell++]);
	if (text != NULL && len > 0 && (*cell = strdup(text)) == NULL)
		parse_fail(p, p->line, "%s", "out of memory");
}

/* Only letters, digits and the characters of more, from min to max bytes. */
static int
all_of(const char *s, const char *more, size_t min, size_t max)
{
	size_t n = strlen(s), i;

	if (n < min || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || (s[i] != '\0' && strchr(more, s[i]))))
			return 0;
	return 1;
}

static int
is_upper_rp(const char *s)
{
	size_t i;

	if (!all_of(s, "", 11, 11))
		return 0;
	for (i = 0; s[i]; i++)
		if (s[i] >= 'a' && s[i] <= 'z')
			return 0;
	return 1;
}

static int
ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);

	return n > m && strcasecmp(s + n - m, tail) == 0;
}

static int
is_source(const char *s)
{
	return strcmp(s, "tty") == 0 || strncmp(s, "file:", 5) == 0 || strncmp(s, "fd:", 3) == 0 ||
	       strncmp(s, "env:", 4) == 0 || strncmp(s, "cred:", 5) == 0;
}

/* Does value, a PKCS#11 URI of a column, name a module to load
 * (module-path=)?  That library would be loaded into the run and sent
 * the PIN: a data file does not choose code, --module does. */
static int
names_module(const char *value)
{
	return value != NULL && strncmp(value, "pkcs11:", 7) == 0 &&
	       strstr(value, "module-path=") != NULL;
}

/* The values of one row, each as its option would be checked. */
static const char *
row_mistake(const struct fleet_row *r)
{
	imss_keyspec spec;

	if (r->registro_patronal == NULL || !is_upper_rp(r->registro_patronal))
		return _("registro_patronal must be 11 capital letters and digits (like Y1234567108)");
	if (r->user == NULL || !all_of(r->user, "._-", 1, 64) ||
	    !all_of((char[]){ r->user[0], 0 }, "", 1, 1))
		return _("user must be letters and digits (the IDSE user)");
	if (r->current != NULL && strncmp(r->current, "pkcs11:", 7) != 0 &&
	    !ends_with(r->current, ".pfx") && !ends_with(r->current, ".p12") &&
	    !ends_with(r->current, ".cer"))
		return _("current must be a PKCS#11 URI (pkcs11:...), a .pfx/.p12 or a .cer, or empty");
	if (r->token != NULL && strncmp(r->token, "pkcs11:", 7) != 0)
		return _("token must be a PKCS#11 URI (pkcs11:...)");
	if (names_module(r->current) || names_module(r->token))
		return _("a URI of the file names a module to load (module-path=), which would be sent the PIN: a data file does not choose the code to load. Remove module-path= from the row and give the module with --module");
	if (r->server != NULL && strncmp(r->server, "https://", 8) != 0)
		return _("server must be an https:// URL");
	if (r->email != NULL && !imss_email_is_valid(r->email))
		return _("email is not a valid e-mail address (like rh@empresa.mx)");
	if (r->type != NULL && imss_keyspec_parse(r->type, &spec) != IMSS_OK)
		return _("type must be rsa:2048, rsa:3072, rsa:4096, ec:prime256v1 or ec:secp384r1");
	if ((r->idse_password_source && !is_source(r->idse_password_source)) ||
	    (r->password_source && !is_source(r->password_source)))
		return _("a password source must be tty, file:PATH, fd:N, env:NAME or cred:NAME");
	if (r->password_source && (r->current == NULL || strncmp(r->current, "pkcs11:", 7) == 0))
		return _("password_source is for a current .pfx or .cer (the current column)");
	return NULL;
}

static void
row_done(struct parse *p)
{
	struct fleet_file *f = p->file;
	struct fleet_row *grown;
	const char *mistake;
	size_t i;

	if (p->cell != p->ncolumns) {
		parse_fail(p, p->record_line, _("%zu cells where the header has %zu columns"),
		           p->cell, p->ncolumns);
		return;
	}
	if ((mistake = row_mistake(&p->row)) != NULL) {
		parse_fail(p, p->record_line, "%s", mistake);
		return;
	}
	for (i = 0; i < f->n; i++)
		if (strcmp(f->rows[i].registro_patronal, p->row.registro_patronal) == 0) {
			parse_fail(p, p->record_line,
			           _("the registro patronal %s is on line %lu too"),
			           p->row.registro_patronal, f->rows[i].line);
			return;
		}
	if (f->n >= FLEET_ROWS_MAX) {
		parse_fail(p, p->record_line, _("more than %d employers"), FLEET_ROWS_MAX);
		return;
	}
	grown = realloc(f->rows, (f->n + 1) * sizeof(*f->rows));
	if (grown == NULL) {
		parse_fail(p, p->record_line, "%s", "out of memory");
		return;
	}
	f->rows = grown;
	p->row.line = p->record_line;
	f->rows[f->n++] = p->row;
	memset(&p->row, 0, sizeof(p->row));
}

/* The header names both required columns. */
static void
header_check(struct parse *p)
{
	static const char *const required[] = { "registro_patronal", "user" };
	size_t i, j;
	int found;

	for (i = 0; p->error == NULL && i < 2; i++) {
		for (found = 0, j = 0; j < p->ncolumns; j++)
			found |= p->column_of[j] == column_index(required[i]);
		if (!found)
			parse_fail(p, 1, _("the header has no column '%s'"), required[i]);
	}
}

static void
on_record(int end, void *user)
{
	struct parse *p = user;

	(void)end;
	if (p->error == NULL && !p->header_done) {
		p->header_done = 1;
		header_check(p);
	} else if (p->error == NULL) {
		row_done(p);
	}
	row_clear(&p->row);
	p->cell = 0;
}

/* Feed the data a physical line at a time, counting lines. */
static void
feed(struct csv_parser *csv, struct parse *p, const char *data, size_t len)
{
	const char *end = data + len, *nl;
	size_t chunk;

	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
		data += 3; /* the byte order mark spreadsheets write */
	for (p->line = 1; data < end && p->error == NULL; p->line++, data += chunk) {
		nl = memchr(data, '\n', (size_t)(end - data));
		chunk = nl ? (size_t)(nl - data) + 1 : (size_t)(end - data);
		if (csv_parse(csv, data, chunk, on_cell, on_record, p) != chunk)
			parse_fail(p, p->line, "%s", _("not a valid CSV line (a stray quote?)"));
	}
	p->line--;
	if (p->error == NULL && csv_fini(csv, on_cell, on_record, p) != 0)
		parse_fail(p, p->line, "%s", _("a quoted cell is not closed"));
}

int
fleet_file_parse(const char *data, size_t len, struct fleet_file *out, char **error)
{
	struct parse p;
	struct csv_parser csv;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	p.file = out;
	*error = NULL;
	if (len > FLEET_FILE_MAX) {
		parse_fail(&p, 1, _("the file is larger than %lu bytes"), FLEET_FILE_MAX);
		goto out;
	}
	if (csv_init(&csv, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL) != 0) {
		parse_fail(&p, 1, "%s", "out of memory");
		goto out;
	}
	feed(&csv, &p, data, len);
	csv_free(&csv);
	if (p.error == NULL && !p.header_done)
		parse_fail(&p, 1, "%s", _("no header (registro_patronal,user,...)"));
	if (p.error == NULL && out->n == 0)
		parse_fail(&p, p.line, "%s", _("no employer: the file has only its header"));
	if (p.error == NULL)
		rc = 0;
out:
	row_clear(&p.row);
	if (rc != 0) {
		fleet_file_clear(out);
		*error = p.error;
	}
	return rc;
}
