/*
 * The reference service's JSON request bodies (src/service/api.c
 * parse_body and the handlers' field checks, api-*.c), through
 * api_handle as the HTTP layer calls it.  The first byte picks the route
 * that takes a body, the rest is the body.  The service runs on an
 * in-memory database copied afresh for every input from one made at start:
 * the employer and the CA of data/, the employer's certificate, and two
 * sessions of it, one with the terms letter to sign and one with it signed
 * (so that a renewal reaches its CMS and PKCS#10 checks).
 *
 * Checked: every answer has a status; a JSON answer is one JSON object,
 * and an error one carries a code and both messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <sqlite3.h>

#include "api.h"
#include "auth.h"
#include "common.h"
#include "db.h"
#include "employers.h"

static sqlite3 *template_db;
static struct api api;
static char token_unsigned[AUTH_TOKEN_LEN + 1];
static char token_signed[AUTH_TOKEN_LEN + 1];

struct route {
	const char *method;
	const char *path;
	const char *token;
};

static const struct route routes[] = {
	{ "POST", API_BASE "/challenge", NULL },
	{ "POST", API_BASE "/session", NULL },
	{ "PATCH", API_BASE "/company", token_unsigned },
	{ "POST", API_BASE "/letter/signature", token_unsigned },
	{ "POST", API_BASE "/renewal", token_signed },
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

static void
sql(sqlite3 *db, const char *text)
{
	char *err = NULL;

	if (sqlite3_exec(db, text, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "fuzz: %s: %s\n", text, err ? err : "?");
		fuzz_check(0, "SQL of the set-up");
	}
}

/* data/employer.der as the employer's current certificate. */
static void
add_certificate(sqlite3 *db, long long employer_id, X509 *x, char *serial, size_t size)
{
	sqlite3_stmt *st = NULL;
	unsigned char spki[32], *der = NULL;
	size_t len = 0;
	time_t nb, na;

	fuzz_check(ca_serial_text(x, serial, size) == 0 && ca_cert_der(x, &der, &len) == 0 &&
	                   ca_spki_sha256(X509_get0_pubkey(x), spki) == 0 &&
	                   ca_cert_times(x, &nb, &na) == 0,
	           "employer certificate");
	fuzz_check(sqlite3_prepare_v2(db,
	                              "INSERT INTO certificates(serial, employer_id, der,"
	                              " spki_sha256, subject, not_before, not_after, issued_at)"
	                              " VALUES (?1, ?2, ?3, ?4, 'fuzz', ?5, ?6, ?5)",
	                              -1, &st, NULL) == SQLITE_OK &&
	                   sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC) == SQLITE_OK &&
	                   sqlite3_bind_int64(st, 2, employer_id) == SQLITE_OK &&
	                   sqlite3_bind_blob(st, 3, der, (int)len, SQLITE_STATIC) == SQLITE_OK &&
	                   sqlite3_bind_blob(st, 4, spki, 32, SQLITE_STATIC) == SQLITE_OK &&
	                   sqlite3_bind_int64(st, 5, (sqlite3_int64)nb) == SQLITE_OK &&
	                   sqlite3_bind_int64(st, 6, (sqlite3_int64)na) == SQLITE_OK &&
	                   sqlite3_step(st) == SQLITE_DONE,
	           "certificate row");
	sqlite3_finalize(st);
	OPENSSL_free(der);
}

/* The terms letter (data/letter.txt) of a session, signed or not. */
static void
add_letter(sqlite3 *db, long long session_id, long long employer_id, int is_signed, const char *serial)
{
	sqlite3_stmt *st = NULL;
	unsigned char sha[32], *pdf;
	size_t len;

	pdf = fuzz_read_data("letter.txt", &len);
	fuzz_check(EVP_Digest(pdf, len, sha, NULL, EVP_sha256(), NULL) == 1, "sha256");
	fuzz_check(sqlite3_prepare_v2(db,
	                              "INSERT INTO letters(session_id, employer_id, email, pdf,"
	                              " sha256, created_at, signature, signer_serial, signed_at)"
	                              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	                              -1, &st, NULL) == SQLITE_OK &&
	                   sqlite3_bind_int64(st, 1, session_id) == SQLITE_OK &&
	                   sqlite3_bind_int64(st, 2, employer_id) == SQLITE_OK &&
	                   sqlite3_bind_text(st, 3, FUZZ_EMAIL, -1, SQLITE_STATIC) == SQLITE_OK &&
	                   sqlite3_bind_blob(st, 4, pdf, (int)len, SQLITE_STATIC) == SQLITE_OK &&
	                   sqlite3_bind_blob(st, 5, sha, 32, SQLITE_STATIC) == SQLITE_OK &&
	                   sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL)) == SQLITE_OK &&
	                   (is_signed ? sqlite3_bind_blob(st, 7, "sig", 3, SQLITE_STATIC)
	                              : sqlite3_bind_null(st, 7)) == SQLITE_OK &&
	                   (is_signed ? sqlite3_bind_text(st, 8, serial, -1, SQLITE_STATIC)
	                              : sqlite3_bind_null(st, 8)) == SQLITE_OK &&
	                   (is_signed ? sqlite3_bind_int64(st, 9, (sqlite3_int64)time(NULL))
	                              : sqlite3_bind_null(st, 9)) == SQLITE_OK &&
	                   sqlite3_step(st) == SQLITE_DONE,
	           "letter row");
	sqlite3_finalize(st);
	free(pdf);
}

static void
make_template(void)
{
	const struct employer_input in = {
		.registro_patronal = FUZZ_RP,
		.razon_social = FUZZ_RAZON,
		.rfc = FUZZ_RFC,
		.email = FUZZ_EMAIL,
		.address = "Av. Reforma 1, CDMX",
		.user = "usuario01",
		.password = "Secreto123",
	};
	struct employer e = { 0 };
	struct user u;
	X509 *cert = fuzz_cert("employer.pem");
	char err[256], serial[80];
	long long session_id;

	fuzz_check(db_open(":memory:", 1, PW_MIN_ITERATIONS, &template_db, err, sizeof(err)) == 0,
	           "db_open");
	fuzz_check(employer_insert(template_db, &in, PW_MIN_ITERATIONS) == 0 &&
	                   employer_find_rp(template_db, FUZZ_RP, &e) == 0 &&
	                   auth_user_find(template_db, "usuario01", &u) == 0,
	           "employer");
	add_certificate(template_db, e.id, cert, serial, sizeof(serial));
	fuzz_check(auth_session_new(template_db, u.id, serial, 1, time(NULL), token_unsigned,
	                            &session_id) == 0,
	           "session");
	add_letter(template_db, session_id, e.id, 0, serial);
	fuzz_check(auth_session_new(template_db, u.id, serial, 1, time(NULL), token_signed,
	                            &session_id) == 0,
	           "session");
	add_letter(template_db, session_id, e.id, 1, serial);
	employer_clear(&e);
	X509_free(cert);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	api.ca.key = fuzz_key("ca.key");
	api.ca.cert = fuzz_cert("ca.pem");
	api.cfg.issue_delay = 0;
	api.cfg.validity_days = 180;
	api.cfg.session_idle = 7 * 86400;
	api.cfg.challenge_ttl = 300;
	make_template();
	return 0;
}

static sqlite3 *
fresh_db(void)
{
	sqlite3 *db = NULL;
	sqlite3_backup *b;

	fuzz_check(sqlite3_open(":memory:", &db) == SQLITE_OK, "sqlite3_open");
	b = sqlite3_backup_init(db, "main", template_db, "main");
	fuzz_check(b != NULL && sqlite3_backup_step(b, -1) == SQLITE_DONE &&
	                   sqlite3_backup_finish(b) == SQLITE_OK,
	           "database copy");
	sql(db, "PRAGMA foreign_keys=ON");
	return db;
}

static void
check_answer(const struct api_resp *rs)
{
	json_object *obj, *err;

	fuzz_check(rs->status >= 200 && rs->status <= 599, "answer without a status");
	if (rs->content_type == NULL || strcmp(rs->content_type, "application/json") != 0)
		return;
	obj = json_tokener_parse((const char *)rs->body);
	fuzz_check(obj != NULL && json_object_is_type(obj, json_type_object),
	           "a JSON answer that is not a JSON object");
	if (rs->status >= 400)
		fuzz_check(json_object_object_get_ex(obj, "error", &err) &&
		                   json_object_object_get_ex(err, "code", NULL) &&
		                   json_object_object_get_ex(err, "message_es", NULL) &&
		                   json_object_object_get_ex(err, "message_en", NULL),
		           "an error answer without code and messages");
	json_object_put(obj);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct route *r;
	char auth[16 + AUTH_TOKEN_LEN];
	struct api_req rq = { 0 };
	struct api_resp rs = { 0 };

	if (size < 1)
		return 0;
	r = &routes[data[0] % N_ROUTES];
	api.db = fresh_db();
	snprintf(auth, sizeof(auth), "Bearer %s", r->token ? r->token : "");
	rq.method = r->method;
	rq.path = r->path;
	rq.content_type = "application/json";
	rq.accept = "application/json";
	rq.authorization = r->token ? auth : NULL;
	rq.body = data + 1;
	rq.body_len = size - 1;
	api_handle(&api, &rq, &rs);
	check_answer(&rs);
	api_resp_clear(&rs);
	sqlite3_close(api.db);
	api.db = NULL;
	ERR_clear_error();
	return 0;
}
