/*
 * The service's CSV reader (src/service/csv-read.c, libcsv), as `employer import`
 * uses it on a file from the operator: any bytes, every record; each
 * record of six fields or more also goes through the employer checks
 * (src/service/employers.c), in the column order of the seeds.
 */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "csv-read.h"
#include "employers.h"
#include "util.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static void
check_employer(const struct csv_row *row)
{
	const struct employer_input in = {
		.registro_patronal = row->fields[0],
		.razon_social = row->fields[1],
		.rfc = row->fields[2],
		.email = row->fields[3],
		.user = row->fields[4],
		.password = row->fields[5],
		.address = row->n > 6 ? row->fields[6] : NULL,
	};

	if (employer_input_check(&in) == NULL)
		fuzz_check(svc_utf8_printable(in.razon_social, strlen(in.razon_social)),
		           "a razon social accepted that is not printable UTF-8");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fopen(fuzz_memfile(data, size), "r");
	struct csv_row row = { 0 };
	unsigned line = 0, last = 0;
	size_t i;
	int rc;

	fuzz_check(f != NULL, "fopen");
	while ((rc = csv_read(f, &line, &row)) == 1) {
		fuzz_check(row.n <= CSV_FIELDS_MAX && row.line >= last, "csv_read: bad row");
		for (i = 0; i < row.n; i++)
			fuzz_check(row.fields[i] != NULL, "csv_read: missing field");
		if (row.n >= 6)
			check_employer(&row);
		last = row.line;
		csv_row_clear(&row);
	}
	csv_row_clear(&row);
	fclose(f);
	return 0;
}
