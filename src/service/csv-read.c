/*
 * imss-renew-service: reading CSV with libcsv (see csv-read.h).  libcsv
 * is a push parser; csv_read() feeds it the file a byte at a time until
 * it ends a record, so that each call returns one record and leaves the
 * rest of the file unread.
 */
#include <stdlib.h>
#include <string.h>

#include <csv.h>
#include <openssl/crypto.h>

#include "csv-read.h"

/* What the callbacks fill. */
struct reader {
	struct csv_row *row;
	int ended;  /* a record ended */
	int failed; /* too many or too long fields, or out of memory */
};

/* Spaces are data: libcsv would trim them around unquoted fields. */
static int
no_space(unsigned char c)
{
	(void)c;
	return 0;
}

static void
on_field(void *text, size_t len, void *data)
{
	struct reader *r = data;
	struct csv_row *row = r->row;

	if (r->failed)
		return;
	if (row->n >= CSV_FIELDS_MAX || len > CSV_FIELD_MAX ||
	    !(row->fields[row->n] = strndup(text ? text : "", len))) {
		r->failed = 1;
		return;
	}
	row->n++;
}

static void
on_record(int terminator, void *data)
{
	(void)terminator;
	((struct reader *)data)->ended = 1;
}

/* A UTF-8 byte order mark at the start of the file is skipped. */
static void
skip_bom(FILE *f)
{
	static const unsigned char bom[3] = { 0xef, 0xbb, 0xbf };
	unsigned char head[3];

	if (ftell(f) != 0)
		return;
	if (fread(head, 1, 3, f) != 3 || memcmp(head, bom, 3) != 0)
		fseek(f, 0, SEEK_SET);
}

/* Feed p from f until a record ends (1), the file ends (0), or p fails
 * (-1).  *line counts the LFs read; row->line is where the record starts. */
static int
feed(struct csv_parser *p, FILE *f, unsigned *line, struct reader *r)
{
	int ch, started = 0;
	char c;

	while (!r->ended && (ch = getc(f)) != EOF) {
		if (!started && ch != '\n' && ch != '\r') {
			r->row->line = *line + 1;
			started = 1;
		}
		if (ch == '\n')
			(*line)++;
		c = (char)ch;
		if (csv_parse(p, &c, 1, on_field, on_record, r) != 1)
			return -1;
	}
	return r->ended;
}

int
csv_read(FILE *f, unsigned *line, struct csv_row *row)
{
	struct reader r = { .row = row };
	struct csv_parser p;
	int rc;

	memset(row, 0, sizeof(*row));
	row->line = *line + 1;
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
		return -1;
	csv_set_space_func(&p, no_space);
	skip_bom(f);
	rc = feed(&p, f, line, &r);
	if (rc == 0 && csv_fini(&p, on_field, on_record, &r) != 0)
		rc = -1;
	else if (rc == 0)
		rc = r.ended;
	/* The parser's buffer held the fields, which may be passwords. */
	if (csv_get_buffer_size(&p) > 0)
		OPENSSL_cleanse(p.entry_buf, csv_get_buffer_size(&p));
	csv_free(&p);
	if (rc < 0 || r.failed) {
		csv_row_clear(row);
		return -1;
	}
	return rc;
}

void
csv_row_clear(struct csv_row *row)
{
	size_t i;

	/* Fields may hold passwords. */
	for (i = 0; i < row->n; i++) {
		OPENSSL_cleanse(row->fields[i], strlen(row->fields[i]));
		free(row->fields[i]);
	}
	memset(row, 0, sizeof(*row));
}
