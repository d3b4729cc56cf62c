/*
 * The fleet file reader (src/tool/fleet-file.c), as `imss-renew fleet`
 * reads a file from the user: any bytes.  A file that parses must hold at
 * least one employer, each with a registro patronal of 11 characters and
 * a user, no registro patronal twice, lines in file order (a lone CR ends
 * a record too, so two may share a line); the
 * placeholders of a file: source are replaced for every row
 * (imss_secret_source_expand).  A file that
 * does not parse says why with a line number.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "fleet-file.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
check_rows(const struct fleet_file *f)
{
	size_t i, j;
	char *spec;

	fuzz_check(f->n > 0, "a fleet file parsed with no employer");
	for (i = 0; i < f->n; i++) {
		fuzz_check(f->rows[i].registro_patronal && strlen(f->rows[i].registro_patronal) == 11,
		           "a registro patronal accepted that is not 11 characters");
		fuzz_check(f->rows[i].user && f->rows[i].user[0] && !strchr(f->rows[i].user, '/'),
		           "a user accepted that is empty or holds a '/'");
		fuzz_check(i == 0 || f->rows[i].line >= f->rows[i - 1].line, "lines out of order");
		for (j = 0; j < i; j++)
			fuzz_check(strcmp(f->rows[i].registro_patronal,
			                  f->rows[j].registro_patronal) != 0,
			           "a registro patronal accepted twice");
		spec = NULL;
		fuzz_check(imss_secret_source_expand("file:/s/{registro_patronal}-{user}.pass",
		                                     f->rows[i].registro_patronal, f->rows[i].user,
		                                     &spec) == IMSS_OK &&
		                   strstr(spec, f->rows[i].registro_patronal) && !strchr(spec, '{'),
		           "the placeholders of a valid row were not replaced");
		free(spec);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fleet_file f;
	char *error = NULL;

	if (fleet_file_parse((const char *)data, size, &f, &error) == 0) {
		fuzz_check(error == NULL, "an error with success");
		check_rows(&f);
		fleet_file_clear(&f);
	} else {
		fuzz_check(error != NULL && strncmp(error, "line ", 5) == 0,
		           "a refusal without its line");
		fuzz_check(f.n == 0 && f.rows == NULL, "rows left after a refusal");
		free(error);
	}
	return 0;
}
