/*
 * The service's CSV reader (src/service/csv.c), as `employer import`
 * uses it on a file from the operator: any bytes, every record.
 */
#include <stdio.h>

#include "common.h"
#include "csv.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
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
		last = row.line;
		csv_row_clear(&row);
	}
	csv_row_clear(&row);
	fclose(f);
	return 0;
}
