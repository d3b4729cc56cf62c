/*
 * imss-renew-service: reading CSV (RFC 4180) with libcsv (Debian's
 * libcsv-dev): fields separated by commas, quoted with '"' ('""' inside
 * quotes is one quote), records ending in LF, CRLF or CR; a quoted field
 * may span lines.  Strict: text after a closing quote and an unclosed
 * quote are errors.  Spaces around fields are kept (libcsv would trim
 * them), a UTF-8 byte order mark at the start of the file is skipped (as
 * spreadsheets write it), and empty lines are no records.
 */
#ifndef SVC_CSV_READ_H
#define SVC_CSV_READ_H

#include <stddef.h>
#include <stdio.h>

#define CSV_FIELDS_MAX 16
#define CSV_FIELD_MAX 1024

struct csv_row {
	char *fields[CSV_FIELDS_MAX];
	size_t n;
	unsigned line; /* the line where the record starts */
};

/*
 * Read the next record from f.  1 when a record was read, 0 at the end,
 * -1 when malformed (an unclosed quote, text after a closing quote, too
 * many or too long fields) or out of memory.  *line counts lines.
 */
int csv_read(FILE *f, unsigned *line, struct csv_row *row);
void csv_row_clear(struct csv_row *row);

#endif /* SVC_CSV_READ_H */
