/*
 * The fleet file: one employer per row of a CSV file with a header
 * (docs in README.md, "Renewing many employers (fleet)").  Read with
 * libcsv; every row is checked before the caller does anything with it.
 * Depends on libc, libcsv and the library's public header only (the fuzz
 * target fuzz-fleet-file builds it alone).
 */
#ifndef IMSS_FLEET_FILE_H
#define IMSS_FLEET_FILE_H

#include <stddef.h>

/* Refused above these: a despacho holds hundreds, not millions. */
#define FLEET_FILE_MAX (4UL * 1024 * 1024)
#define FLEET_ROWS_MAX 10000

/* One employer.  Absent columns and empty cells are NULL. */
struct fleet_row {
	unsigned long line; /* of the file, for messages */
	char *registro_patronal;
	char *user;
	char *current; /* PKCS#11 URI, or a .pfx/.p12/.cer path */
	char *token;   /* where the new key goes */
	char *server;
	char *email;
	char *label;
	char *type;
	char *idse_password_source; /* per employer, else the option's */
	char *password_source;      /* of a .pfx/.key current, else the option's */
};

struct fleet_file {
	struct fleet_row *rows;
	size_t n;
};

/*
 * Parse and check the whole file.  0 on success; -1 with *error (malloc'd,
 * in the user's language, "line N: ...") on any mistake, *out empty.
 */
int fleet_file_parse(const char *data, size_t len, struct fleet_file *out, char **error);
void fleet_file_clear(struct fleet_file *f);

#endif /* IMSS_FLEET_FILE_H */
