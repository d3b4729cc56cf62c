/*
 * Unit test of the renewal journal (journal.c): what journal_save writes
 * journal_load reads back exactly, in every state, and the same in memory
 * (journal_format, journal_parse); what it cannot read
 * back exactly (bad JSON, bad hex, an unknown state or field, a missing
 * required field, a symbolic link) is refused as IMSS_ERR_JOURNAL with
 * the journal untouched.  Files in a temporary directory; no token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "unit.h"

#define KEY_TMP_ID "00112233445566778899aabbccddeeff"
#define KEY_ID "a1b2c3d4"
#define SPKI "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static imss_ctx *ctx;
static char dir[] = "/tmp/imss-unit-journal.XXXXXX";

static void
path_in_dir(const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", dir, name);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

/* A journal in state s with every field a state s needs, and more. */
static void
fill(struct journal *j, const char *path, enum journal_state s)
{
	memset(j, 0, sizeof(*j));
	j->path = strdup(path);
	j->state = s;
	journal_set(&j->server, "https://127.0.0.1:8443");
	journal_set(&j->registro_patronal, "Y6612345105");
	journal_set(&j->token_serial, "0123456789abcdef");
	journal_set(&j->key_label, "IMSS 2026");
	journal_set(&j->key_tmp_id, KEY_TMP_ID);
	journal_set(&j->key_id, KEY_ID);
	journal_set(&j->key_spki_sha256, SPKI);
	journal_set(&j->key_spki, SPKI SPKI);
	journal_set(&j->request_path, "/var/lib/imss-renew/request.der");
	journal_set(&j->letter_path, "/var/lib/imss-renew/carta \"ñ\".pdf");
	journal_set(&j->letter_sha256, SPKI);
	journal_set(&j->request_id, "REQ-42");
	journal_set(&j->cert_path, "/var/lib/imss-renew/nuevo.cer");
	journal_set(&j->cert_serial, "7f01");
	journal_set(&j->email, "patron@example.mx");
	journal_set(&j->kind, s % 2 ? JOURNAL_KIND_ENROLL : JOURNAL_KIND_RENEW);
}

static void
check_same(const struct journal *a, const struct journal *b)
{
	CHECK_INT(b->state, a->state);
	CHECK_STR(b->server, a->server);
	CHECK_STR(b->registro_patronal, a->registro_patronal);
	CHECK_STR(b->token_serial, a->token_serial);
	CHECK_STR(b->key_label, a->key_label);
	CHECK_STR(b->key_tmp_id, a->key_tmp_id);
	CHECK_STR(b->key_id, a->key_id);
	CHECK_STR(b->key_spki_sha256, a->key_spki_sha256);
	CHECK_STR(b->key_spki, a->key_spki);
	CHECK_STR(b->request_path, a->request_path);
	CHECK_STR(b->letter_path, a->letter_path);
	CHECK_STR(b->letter_sha256, a->letter_sha256);
	CHECK_STR(b->request_id, a->request_id);
	CHECK_STR(b->cert_path, a->cert_path);
	CHECK_STR(b->cert_serial, a->cert_serial);
	CHECK_STR(b->email, a->email);
	CHECK_STR(b->kind, a->kind);
	CHECK_INT(b->updated, a->updated);
}

/* Every state, saved and loaded back: the same journal, file 0600. */
static void
test_round_trip_every_state(void)
{
	char path[256];
	struct journal saved, loaded;
	struct stat st;
	int s, exists;

	path_in_dir("round-trip.json", path, sizeof(path));
	for (s = JOURNAL_NEW; s <= JOURNAL_DONE; s++) {
		fill(&saved, path, (enum journal_state)s);
		CHECK_INT(journal_save(ctx, &saved), IMSS_OK);
		CHECK(saved.updated > 0);
		CHECK_INT(journal_load(ctx, path, &loaded, &exists), IMSS_OK);
		CHECK_INT(exists, 1);
		check_same(&saved, &loaded);
		CHECK_STR(journal_state_name(loaded.state), journal_state_name(saved.state));
		CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
		journal_clear(&saved);
		journal_clear(&loaded);
	}
}

/* journal_parse on a NUL-terminated text, j named by path. */
static imss_err
parse_text(const char *path, const char *text, struct journal *j)
{
	memset(j, 0, sizeof(*j));
	if ((j->path = strdup(path)) == NULL)
		return IMSS_ERR_NOMEM;
	return journal_parse(ctx, text, strlen(text), j);
}

/* In memory: journal_format's text parses back to the same journal, in
 * every state; trailing white space is fine. */
static void
test_format_parse(void)
{
	struct journal saved, parsed;
	char *text, *spaced;
	int s;

	for (s = JOURNAL_NEW; s <= JOURNAL_DONE; s++) {
		fill(&saved, "mem.json", (enum journal_state)s);
		saved.updated = 1700000000 + s;
		text = journal_format(&saved);
		CHECK(text != NULL);
		if (!text)
			return;
		CHECK_CONTAINS(text, "\"version\":1");
		CHECK_CONTAINS(text, journal_state_name(saved.state));
		CHECK_INT(parse_text("mem.json", text, &parsed), IMSS_OK);
		check_same(&saved, &parsed);
		CHECK_STR(parsed.path, "mem.json");
		journal_clear(&parsed);
		spaced = malloc(strlen(text) + 4);
		sprintf(spaced, "%s \n\t", text);
		CHECK_INT(parse_text("mem.json", spaced, &parsed), IMSS_OK);
		check_same(&saved, &parsed);
		journal_clear(&parsed);
		free(spaced);
		free(text);
		journal_clear(&saved);
	}
}

/* The least a journal holds: the fields absent stay NULL. */
static void
test_round_trip_minimal(void)
{
	char path[256];
	struct journal saved = { 0 }, loaded;
	int exists;

	path_in_dir("minimal.json", path, sizeof(path));
	saved.path = strdup(path);
	saved.state = JOURNAL_LOGGED_IN;
	journal_set(&saved.server, "https://imss.example");
	journal_set(&saved.registro_patronal, "Y6612345105");
	journal_set(&saved.token_serial, "1");
	CHECK_INT(journal_save(ctx, &saved), IMSS_OK);
	CHECK_INT(journal_load(ctx, path, &loaded, &exists), IMSS_OK);
	check_same(&saved, &loaded);
	CHECK(loaded.key_label == NULL && loaded.email == NULL);
	journal_clear(&saved);
	journal_clear(&loaded);
}

static void
test_absent(void)
{
	char path[256];
	struct journal j;
	int exists = -1;

	path_in_dir("none.json", path, sizeof(path));
	CHECK_INT(journal_load(ctx, path, &j, &exists), IMSS_OK);
	CHECK_INT(exists, 0);
	CHECK_INT(j.state, JOURNAL_NEW);
	CHECK(j.server == NULL);
	journal_clear(&j);
}

/* text is refused as damaged, the detail naming why. */
static void
check_refused(const char *name, const char *text, const char *why)
{
	char path[256];
	struct journal j;
	int exists;

	path_in_dir(name, path, sizeof(path));
	write_text(path, text);
	CHECK_INT(journal_load(ctx, path, &j, &exists), IMSS_ERR_JOURNAL);
	CHECK_CONTAINS(imss_ctx_detail(ctx), why);
	/* What to do next, for the tool to name its command. */
	CHECK_INT(imss_ctx_get_next(ctx), IMSS_NEXT_LIST_OBJECTS);
	CHECK(strstr(imss_ctx_detail(ctx), "--") == NULL);
	CHECK(j.server == NULL && j.registro_patronal == NULL && j.key_label == NULL);
	journal_clear(&j);
}

#define BASE "\"version\":1,\"server\":\"s\",\"registro_patronal\":\"r\",\"token_serial\":\"t\""

static void
test_refused(void)
{
	check_refused("empty.json", "", "not valid JSON");
	check_refused("truncated.json", "{" BASE ",\"state\":\"new\"", "not valid JSON");
	check_refused("trailing.json", "{" BASE ",\"state\":\"new\"} x", "not valid JSON");
	check_refused("array.json", "[1]", "not valid JSON");
	check_refused("state.json", "{" BASE ",\"state\":\"half-done\"}", "no valid state");
	check_refused("no-state.json", "{" BASE "}", "no valid state");
	check_refused("state-type.json", "{" BASE ",\"state\":3}", "state");
	check_refused("version.json",
	              "{\"version\":2,\"server\":\"s\",\"registro_patronal\":\"r\","
	              "\"token_serial\":\"t\",\"state\":\"new\"}",
	              "unknown version");
	check_refused("kind.json", "{" BASE ",\"state\":\"new\",\"kind\":\"import\"}",
	              "an unknown kind");
	check_refused("field.json", "{" BASE ",\"state\":\"new\",\"colour\":\"red\"}", "colour");
	check_refused("no-server.json",
	              "{\"version\":1,\"registro_patronal\":\"r\",\"token_serial\":\"t\","
	              "\"state\":\"new\"}",
	              "missing server, employer or token");
	check_refused("no-token.json",
	              "{\"version\":1,\"server\":\"s\",\"registro_patronal\":\"r\","
	              "\"state\":\"new\"}",
	              "missing server, employer or token");
	check_refused("no-label.json", "{" BASE ",\"state\":\"keygen-started\"}",
	              "missing key label");
	check_refused("no-key-id.json",
	              "{" BASE ",\"state\":\"key-generated\",\"key_label\":\"k\","
	              "\"key_spki_sha256\":\"" SPKI "\"}",
	              "missing key ID or public key hash");
	check_refused("hex-upper.json",
	              "{" BASE ",\"state\":\"key-generated\",\"key_label\":\"k\","
	              "\"key_id\":\"A1B2\",\"key_spki_sha256\":\"" SPKI "\"}",
	              "not hexadecimal");
	check_refused("hex-odd.json",
	              "{" BASE ",\"state\":\"key-generated\",\"key_label\":\"k\","
	              "\"key_id\":\"a1b\",\"key_spki_sha256\":\"" SPKI "\"}",
	              "not hexadecimal");
	check_refused("hex-short.json",
	              "{" BASE ",\"state\":\"keygen-started\",\"key_label\":\"k\","
	              "\"key_tmp_id\":\"00ff\"}",
	              "not hexadecimal");
	check_refused("hex-char.json",
	              "{" BASE ",\"state\":\"key-generated\",\"key_label\":\"k\","
	              "\"key_id\":\"a1b2\",\"key_spki_sha256\":\"" SPKI "\",\"key_tmp_id\":"
	              "\"0011223344556677889900aabbccddgg\"}",
	              "not hexadecimal");
	/* An EC key's public key, recorded with its hash (never alone). */
	check_refused("spki-char.json",
	              "{" BASE ",\"state\":\"key-generated\",\"key_label\":\"k\","
	              "\"key_id\":\"a1b2\",\"key_spki_sha256\":\"" SPKI "\",\"key_spki\":"
	              "\"" SPKI "zz\"}",
	              "not hexadecimal");
	check_refused("spki-alone.json",
	              "{" BASE ",\"state\":\"keygen-started\",\"key_label\":\"k\","
	              "\"key_tmp_id\":\"" SPKI "\",\"key_spki\":\"" SPKI SPKI "\"}",
	              "not hexadecimal");
}

/* A symbolic link to a good journal is refused, never followed; so is a
 * directory. */
static void
test_not_a_file(void)
{
	char path[256], link_path[256];
	struct journal saved, j;
	int exists;

	path_in_dir("target.json", path, sizeof(path));
	path_in_dir("link.json", link_path, sizeof(link_path));
	fill(&saved, path, JOURNAL_SUBMITTED);
	CHECK_INT(journal_save(ctx, &saved), IMSS_OK);
	CHECK(symlink(path, link_path) == 0);
	CHECK_INT(journal_load(ctx, link_path, &j, &exists), IMSS_ERR_JOURNAL);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "symbolic link");
	CHECK(j.server == NULL);
	journal_clear(&j);
	CHECK_INT(journal_load(ctx, dir, &j, &exists), IMSS_ERR_JOURNAL);
	CHECK_CONTAINS(imss_ctx_detail(ctx), "not a regular file");
	journal_clear(&j);
	journal_clear(&saved);
}

static void
tests(void)
{
	test_round_trip_every_state();
	test_format_parse();
	test_round_trip_minimal();
	test_absent();
	test_refused();
	test_not_a_file();
}

int
main(void)
{
	return unit_run_in_dir("unit-journal", &ctx, dir, tests);
}
