/*
 * Unit test of the service's CSV reader (csv-read.c, libcsv): quoting,
 * line ends, the byte order mark, line numbers, and the refusals that the
 * hand-written reader it replaced made.
 */
#include <stdio.h>
#include <string.h>

#include "csv-read.h"
#include "unit.h"

/* Every record of text, as "f1|f2;f1|f2;" with line numbers "@N "; "ERR"
 * at a malformed record. */
static void
read_all(const char *text, size_t len, char *out, size_t size)
{
	FILE *f = tmpfile();
	struct csv_row row;
	unsigned line = 0;
	size_t i, used = 0;
	int rc;

	out[0] = '\0';
	if (!f || fwrite(text, 1, len, f) != len || fseek(f, 0, SEEK_SET) != 0) {
		snprintf(out, size, "no temporary file");
		return;
	}
	while ((rc = csv_read(f, &line, &row)) == 1) {
		used += (size_t)snprintf(out + used, size - used, "@%u ", row.line);
		for (i = 0; i < row.n && used < size; i++)
			used += (size_t)snprintf(out + used, size - used, "%s%s", i ? "|" : "",
			                         row.fields[i]);
		if (used < size)
			used += (size_t)snprintf(out + used, size - used, ";");
		csv_row_clear(&row);
	}
	if (rc < 0 && used < size)
		snprintf(out + used, size - used, "ERR");
	fclose(f);
}

#define CHECK_CSV(text, want)                                         \
	do {                                                          \
		char got_[4096];                                      \
		read_all(text, sizeof(text) - 1, got_, sizeof(got_)); \
		CHECK_STR(got_, want);                                \
	} while (0)

int
main(void)
{
	char big[CSV_FIELD_MAX + 16];

	CHECK_CSV("a,b,c\n1,2,3\n", "@1 a|b|c;@2 1|2|3;");
	CHECK_CSV("a,b\r\n1,2\r\n", "@1 a|b;@2 1|2;"); /* CRLF */
	CHECK_CSV("a,b\n1,2", "@1 a|b;@2 1|2;");       /* no final LF */
	CHECK_CSV("\"x, y\",\"say \"\"hi\"\"\"\n", "@1 x, y|say \"hi\";");
	CHECK_CSV("\"two\nlines\",z\nnext,1\n", "@1 two\nlines|z;@3 next|1;");
	CHECK_CSV(" a , b \n", "@1  a | b ;");   /* spaces kept */
	CHECK_CSV("a,,c\n,\n", "@1 a||c;@2 |;"); /* empty fields */
	CHECK_CSV("a\n\n\nb\n", "@1 a;@4 b;");   /* empty lines */
	CHECK_CSV("\xef\xbb\xbfregistro_patronal,user\nY1,u\n", "@1 registro_patronal|user;@2 Y1|u;");
	CHECK_CSV("Ra\xc3\xbal,\"Peñ\xc3\xb3n\"\n", "@1 Ra\xc3\xbal|Peñ\xc3\xb3n;");
	CHECK_CSV("a,\"open\n", "ERR"); /* unclosed quote */
	CHECK_CSV("\"a\"b,c\n", "ERR"); /* text after a quote */
	CHECK_CSV("ok\n1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\n", "@1 ok;ERR");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	{
		char got[4096];

		read_all(big, strlen(big), got, sizeof(got));
		CHECK_STR(got, "ERR"); /* a field longer than CSV_FIELD_MAX */
	}
	CHECK_CSV("", "");
	return unit_done("unit-service-csv");
}
