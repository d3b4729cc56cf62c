#!/usr/bin/env bash
# The commands of imss-renew-service: help and usage errors, init (modes,
# refusing an existing directory), employer add (options and CSV, all or
# nothing), issue onto a SoftHSM token through libimss-renew, revoke, and
# serve (port 0, a busy port, TLS with the pinned CA for 127.0.0.1 and
# localhost, SIGINT).
. "$TESTS_DIR/lib/common.sh"
. "$TESTS_DIR/service/lib.sh"

S=$IMSS_SERVICE
for cmd in init employer issue revoke serve; do
	assert_exit 0 "$S" "$cmd" --help
done
assert_exit 0 "$S" --help
assert_exit 2 "$S" frobnicate
assert_exit 2 "$S" init
assert_exit 2 "$S" serve --dir "$D"
assert_exit 2 "$S" employer add --dir "$D" --password Secreto123
# The option tables (cli_parse): a range, a missing argument, a flag given
# a value (named as typed, not as an internal short option), an extra word.
assert_exit 2 "$S" init --dir "$T/new" --kdf-iterations 5
assert_contains "$(cat "$T/stderr")" "--kdf-iterations must be 1000 to 100000000" "init: the range"
assert_exit 2 "$S" serve --dir "$D" --listen
assert_contains "$(cat "$T/stderr")" "option '--listen' needs an argument" "serve: a missing argument"
assert_exit 2 "$S" issue --dir "$D" --expired=1
assert_contains "$(cat "$T/stderr")" "unknown option '--expired=1'" "issue: a flag given a value"
assert_exit 2 "$S" revoke --dir "$D" --serial 01 extra
assert_contains "$(cat "$T/stderr")" "unexpected argument 'extra'" "revoke: an extra argument"

# init
svc_init
assert_eq 700 "$(stat -c %a "$D")" "the directory is 0700"
for f in ca.key tls.key service.db; do
	assert_eq 600 "$(stat -c %a "$D/$f")" "$f is 0600"
done
assert_eq "$D/tls.pem: OK" "$(openssl verify -CAfile "$D/ca.pem" "$D/tls.pem")" "the TLS certificate chains to the CA"
cakey=$(sha256sum <"$D/ca.key")
assert_exit 1 "$S" init --dir "$D"
assert_contains "$(cat "$T/stderr")" "not overwriting" "init refuses an existing directory"
assert_eq "$cakey" "$(sha256sum <"$D/ca.key")" "the CA key is untouched"
assert_eq 0 "$(find "$T" -maxdepth 1 -name 'svc.init-*' | wc -l)" "no temporary directory left"

# employer add
svc_employer Y1234567108 usuario01
assert_exit 1 "$S" employer add --dir "$D" --registro-patronal Y1234567108 --razon-social X \
	--rfc EJE010101AB1 --email a@b.mx --user usuario09 --password-source env:PASSWORD
assert_exit 2 "$S" employer add --dir "$D" --registro-patronal bad --razon-social X \
	--rfc EJE010101AB1 --email a@b.mx --user usuario09 --password-source env:PASSWORD
cat >"$T/employers.csv" <<'CSV'
registro_patronal,razon_social,rfc,email,user,password,address
A1111111101,"COMERCIAL ""LA PAZ"", SA DE CV",CLP030303AA1,rh@lapaz.mx,usuario11,Secreto123,"Calle 1, Puebla"
B2222222202,MUÑOZ Y ASOCIADOS SC,MUÑ040404BB2,rh@munoz.mx,usuario12,Secreto456,
CSV
chmod 644 "$T/employers.csv"
assert_exit 1 "$S" employer add --dir "$D" --csv "$T/employers.csv"
assert_contains "$(cat "$T/stderr")" "readable by others" "a CSV readable by others is refused"
chmod 600 "$T/employers.csv"
assert_exit 0 "$S" employer add --dir "$D" --csv "$T/employers.csv"
assert_eq 'COMERCIAL "LA PAZ", SA DE CV|MUÑOZ Y ASOCIADOS SC' \
	"$(sqlite3 "$D/service.db" "SELECT group_concat(razon_social, '|') FROM (SELECT razon_social FROM employers WHERE id > 1 ORDER BY id)")" \
	"CSV: quoted fields and UTF-8"
printf 'registro_patronal,razon_social,rfc,email,user,password\nC3333333303,UNA SA,UNA050505CC3,a@una.mx,usuario13,Secreto789\nD4444444404,OTRA SA,OTR,a@otra.mx,usuario14,Secreto789\n' >"$T/bad.csv"
chmod 600 "$T/bad.csv"
assert_exit 1 "$S" employer add --dir "$D" --csv "$T/bad.csv"
assert_contains "$(cat "$T/stderr")" "line 3" "the bad CSV line is named"
assert_eq 3 "$(sqlite3 "$D/service.db" "SELECT count(*) FROM employers")" "a bad CSV adds nothing"

# issue onto a token: the key is generated inside it, the certificate stored beside it.
t_make_token "IMSS service"
assert_exit 0 "$S" issue --dir "$D" --registro-patronal Y1234567108 --token "$IMSS_TOKEN_URI" \
	--module "$SOFTHSM2_MODULE" --pin-source "file:$T/pin" --key-type ec:prime256v1 --expired
"$S" issue --dir "$D" --registro-patronal Y1234567108 --token "$IMSS_TOKEN_URI" \
	--module "$SOFTHSM2_MODULE" --pin-source "file:$T/pin" --label second >"$T/issue.out" 2>&1 ||
	{ cat "$T/issue.out"; die "issue onto the token"; }
assert_contains "$(cat "$T/issue.out")" "certificate pkcs11:" "issue prints the certificate's URI"
"$IMSS_RENEW" --module "$SOFTHSM2_MODULE" objects --token "$IMSS_TOKEN_URI" --login \
	--pin-source "file:$T/pin" >"$T/objects" 2>&1 || { cat "$T/objects"; die "imss-renew objects"; }
assert_eq 2 "$(grep -c 'OU=Y1234567108' "$T/objects")" "both certificates are on the token"
assert_eq 2 "$(grep -ci '^private key' "$T/objects")" "beside their private keys"
SERIAL=$(sed -n 's/^serial //p' "$T/issue.out")

# revoke
assert_exit 0 "$S" revoke --dir "$D" --serial "$SERIAL"
assert_eq 1 "$(sqlite3 "$D/service.db" "SELECT revoked_at IS NOT NULL FROM certificates WHERE serial = '$SERIAL'")" \
	"revoked in the database"
assert_exit 0 "$S" revoke --dir "$D" --serial "$SERIAL"
assert_exit 1 "$S" revoke --dir "$D" --serial 0123456789ABCDEF
assert_exit 2 "$S" revoke --dir "$D" --serial xyz

# serve
assert_exit 2 "$S" serve --dir "$D" --listen nowhere
svc_start
port=${SVC_URL#https://127.0.0.1:}
port=${port%%/*}
assert_exit 1 "$S" serve --dir "$D" --listen "127.0.0.1:$port"
assert_contains "$(cat "$T/stderr")" "cannot listen" "a busy port is refused"
assert_fail curl -sS -o /dev/null "$SVC_URL/ca"
assert_eq 200 "$(curl -sS --cacert "$D/ca.pem" -o /dev/null -w '%{http_code}' "https://localhost:$port/idse/v1/ca")" \
	"TLS for localhost with the pinned CA"
assert_eq 200 "$(curl -sS --cacert "$D/ca.pem" -o /dev/null -w '%{http_code}' "$SVC_URL/ca")" \
	"TLS for 127.0.0.1 with the pinned CA"
kill -INT "$SVC_PID"
rc=0
wait "$SVC_PID" || rc=$?
SVC_PID=''
assert_eq 0 "$rc" "serve exits 0 on SIGINT"
assert_contains "$(cat "$T/serve.log")" "stopping" "serve says it stops"

# A version 1 database (before requests could be cancelled, one renewal
# per certificate) is upgraded when opened; one whose certificate renewed
# twice is refused with the reason, and left as it was.
downgrade() {
	sqlite3 "$1" <<'SQL' || die "downgrade $1"
BEGIN;
CREATE TABLE requests_v1(id TEXT PRIMARY KEY,
 employer_id INTEGER NOT NULL REFERENCES employers(id),
 session_id INTEGER NOT NULL REFERENCES sessions(id),
 letter_id INTEGER NOT NULL REFERENCES letters(id),
 old_serial TEXT NOT NULL, cms BLOB NOT NULL, csr BLOB NOT NULL, spki_sha256 BLOB NOT NULL,
 email TEXT NOT NULL, created_at INTEGER NOT NULL, due_at INTEGER NOT NULL,
 state TEXT NOT NULL CHECK (state IN ('pending', 'issued')),
 serial TEXT REFERENCES certificates(serial));
DROP TABLE requests;
ALTER TABLE requests_v1 RENAME TO requests;
CREATE INDEX requests_spki ON requests(spki_sha256);
UPDATE meta SET value = '1' WHERE key = 'schema_version';
INSERT INTO requests VALUES ('r1', 1, 1, 1, 'AB01', x'00', x'00', x'01', 'a@b.mx', 0, 9999999999, 'pending', NULL);
COMMIT;
SQL
}
cp "$D/service.db" "$T/v1.db"
downgrade "$T/v1.db"
cp "$T/v1.db" "$D/service.db"
assert_exit 0 "$S" revoke --dir "$D" --serial "$SERIAL"
assert_eq "2|r1|pending|" "$(sqlite3 "$D/service.db" "SELECT (SELECT value FROM meta WHERE key = 'schema_version'), id, state, cancelled_at FROM requests")" \
	"version 1 upgraded to 2, its request kept"
assert_fail sqlite3 "$D/service.db" "INSERT INTO requests VALUES ('r2', 1, 1, 1, 'AB01', x'00', x'00', x'02', 'a@b.mx', 0, 0, 'pending', NULL, NULL)"
cp "$T/v1.db" "$D/service.db"
sqlite3 "$D/service.db" "INSERT INTO requests VALUES ('r2', 1, 1, 1, 'AB01', x'00', x'00', x'02', 'a@b.mx', 0, 0, 'issued', NULL)"
assert_exit 1 "$S" revoke --dir "$D" --serial "$SERIAL"
assert_contains "$(cat "$T/stderr")" "cannot upgrade the database from version 1" "a certificate renewed twice: refused"
assert_eq "1|2" "$(sqlite3 "$D/service.db" "SELECT (SELECT value FROM meta WHERE key = 'schema_version'), count(*) FROM requests")" \
	"and the database left as it was"
