/*
 * imss-renew-service: reading CSV (see csv.h).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "csv.h"

struct field {
	char buf[CSV_FIELD_MAX + 1];
	size_t len;
};

static int
put(struct field *fl, int ch)
{
	if (fl->len >= CSV_FIELD_MAX)
		return -1;
	fl->buf[fl->len++] = (char)ch;
	return 0;
}

static int
end_field(struct csv_row *row, struct field *fl)
{
	if (row->n >= CSV_FIELDS_MAX)
		return -1;
	fl->buf[fl->len] = '\0';
	row->fields[row->n] = strdup(fl->buf);
	if (!row->fields[row->n])
		return -1;
	row->n++;
	fl->len = 0;
	return 0;
}

/* A quoted field, from after its opening quote to after its closing one. */
static int
quoted(FILE *f, unsigned *line, struct field *fl)
{
	int ch;

	for (;;) {
		ch = getc(f);
		if (ch == EOF)
			return -1;
		if (ch == '\n')
			(*line)++;
		if (ch == '"') {
			ch = getc(f);
			if (ch != '"') {
				if (ch != EOF)
					ungetc(ch, f);
				return 0;
			}
		}
		if (put(fl, ch) != 0)
			return -1;
	}
}

int
csv_read(FILE *f, unsigned *line, struct csv_row *row)
{
	struct field fl = { .len = 0 };
	int ch, after_quote = 0, any = 0;

	memset(row, 0, sizeof(*row));
	row->line = *line + 1;
	for (;;) {
		ch = getc(f);
		if (ch == EOF && !any)
			return 0;
		any = 1;
		if (ch == EOF || ch == '\n') {
			(*line)++;
			if (fl.len && fl.buf[fl.len - 1] == '\r' && !after_quote)
				fl.len--;
			ch = end_field(row, &fl);
			OPENSSL_cleanse(&fl, sizeof(fl));
			return ch == 0 ? 1 : -1;
		}
		if (ch == '\r' && after_quote)
			continue;
		if (ch == ',') {
			if (end_field(row, &fl) != 0)
				goto bad;
			after_quote = 0;
			continue;
		}
		if (after_quote)
			goto bad;
		if (ch == '"' && fl.len == 0) {
			if (quoted(f, line, &fl) != 0)
				goto bad;
			after_quote = 1;
			continue;
		}
		if (put(&fl, ch) != 0)
			goto bad;
	}
bad:
	OPENSSL_cleanse(&fl, sizeof(fl));
	csv_row_clear(row);
	return -1;
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
