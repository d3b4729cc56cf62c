/*
 * The renewal journal (src/engine/journal.c): any bytes as a journal file.  A
 * journal that loads holds no NUL byte (nothing after one can be hidden
 * from the parser), loads alike from a file, and must save and load again
 * to the same journal.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "common.h"
#include "journal.h"

static imss_ctx *ctx;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	ctx = fuzz_ctx();
	return 0;
}

static void
journal_empty(struct journal *j)
{
	memset(j, 0, sizeof(*j));
	j->path = strdup("fuzz.journal");
	fuzz_check(j->path != NULL, "out of memory");
}

/* journal_load on the same bytes as a file decides as journal_parse. */
static void
check_load(const uint8_t *data, size_t size, imss_err parsed)
{
	struct journal from_file;
	int exists = 0;
	imss_err loaded = journal_load(ctx, fuzz_memfile(data, size), &from_file, &exists);

	fuzz_check(exists && (loaded == IMSS_OK) == (parsed == IMSS_OK),
	           "journal_load and journal_parse disagree");
	journal_clear(&from_file);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal j, again;
	char *text = NULL, *text_again = NULL;
	imss_err err;

	journal_empty(&j);
	journal_empty(&again);
	err = journal_parse(ctx, (const char *)data, size, &j);
	check_load(data, size, err);
	if (err == IMSS_OK) {
		/* Read back exactly: nothing hidden behind a NUL. */
		fuzz_check(memchr(data, '\0', size) == NULL, "a journal with a NUL byte loads");
		text = journal_format(&j);
		fuzz_check(text != NULL, "journal_format");
		fuzz_check(journal_parse(ctx, text, strlen(text), &again) == IMSS_OK,
		           "a saved journal does not load again");
		text_again = journal_format(&again);
		fuzz_check(text_again != NULL && strcmp(text, text_again) == 0 &&
		                   again.state == j.state && again.updated == j.updated,
		           "a saved journal loads as another journal");
	}
	free(text);
	free(text_again);
	journal_clear(&j);
	journal_clear(&again);
	ERR_clear_error();
	return 0;
}
