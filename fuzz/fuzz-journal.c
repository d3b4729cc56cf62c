/*
 * The renewal journal (src/journal.c): any bytes as a journal file.  A
 * journal that loads holds no NUL byte (nothing after one can be hidden
 * from the parser) and must save and load again to the same journal.
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal j, again;
	char *text = NULL, *text_again = NULL;

	journal_empty(&j);
	journal_empty(&again);
	if (journal_parse(ctx, (const char *)data, size, &j) == IMSS_OK) {
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
