#!/usr/bin/env bash
# Bad inputs: each is a clear 4xx with its documented code, in the one
# error shape, and leaves the database as it was (compared as
# `sqlite3 .dump`, less users.failed_logins and users.login_not_before,
# which a failed login changes on purpose).  Also: failed logins are
# counted and slowed (429 + Retry-After), sessions and challenges expire.
. "$TESTS_DIR/lib/common.sh"
. "$TESTS_DIR/service/lib.sh"

RPA=Y1234567108
RPB=Z7654321109
SUBJ_A="/O=EJEMPLO $RPA SA DE CV/OU=$RPA/x500UniqueIdentifier=EJE010101AB1/CN=EJEMPLO $RPA SA DE CV/emailAddress=rh@$RPA.example.mx"
svc_init
svc_employer "$RPA" usuario01
svc_employer "$RPB" usuario02 'OTRA EMPRESA SA DE CV' OEM020202XY9 rh@otra.example.mx
svc_issue "$RPA" a
svc_issue "$RPB" b
svc_issue "$RPA" rev
assert_exit 0 "$IMSS_SERVICE" revoke --dir "$D" --serial "$(cat "$T/rev.serial")"

# A foreign CA's certificate for A's subject, and one signed with this CA's
# key that its records do not know.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=Foreign \
	-days 10 -keyout "$T/fca.key" -out "$T/fca.pem" 2>/dev/null
for n in foreign unknown; do
	openssl req -new -newkey rsa:2048 -nodes -keyout "$T/$n.key" -subj "$SUBJ_A" \
		-out "$T/$n.csr" 2>/dev/null
done
openssl x509 -req -in "$T/foreign.csr" -CA "$T/fca.pem" -CAkey "$T/fca.key" -set_serial 4660 \
	-days 10 -out "$T/foreign.pem" 2>/dev/null
openssl x509 -req -in "$T/unknown.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -set_serial 4661 \
	-days 10 -out "$T/unknown.pem" 2>/dev/null

svc_start

# flip_last IN OUT: the DER with its last byte (of the signature) changed.
flip_last() {
	local n b
	n=$(stat -c %s "$1")
	b=$(tail -c 1 "$1" | od -An -tu1 | tr -d ' ')
	head -c $((n - 1)) "$1" >"$2"
	# shellcheck disable=SC2059
	printf "\\$(printf '%03o' $((b ^ 1)))" >>"$2"
}

# check MSG STATUS CODE METHOD PATH [JSON] [CURL ARGS]: that error, and the
# database unchanged.
check() {
	local msg=$1 status=$2 code=$3 before
	shift 3
	before=$(db_state)
	expect_error "$status" "$code" "$(api "$@")" "$msg"
	assert_eq "$before" "$(db_state)" "$msg: database unchanged"
}

# login_check MSG STATUS CODE USER PASSWORD CMS-FILE
login_check() {
	check "$1" "$2" "$3" POST /session "$(login_body "$4" "$5" "$6")"
}

# Logins.  Each refused login of usuario01 counts against it.
challenge usuario01
sign_attached "$T/challenge.txt" "$T/ok.p7s" "$T/a.pem" "$T/a.key"
login_check "wrong password" 401 LOGIN_FAILED usuario01 Equivocado1 "$T/ok.p7s"
login_check "unknown user" 401 LOGIN_FAILED nadie0001 "$PASSWORD" "$T/ok.p7s"
openssl cms -data_create -binary -in "$T/challenge.txt" -outform DER -out "$T/unsigned.p7s"
login_check "unsigned CMS" 400 CMS_NOT_SIGNED usuario01 "$PASSWORD" "$T/unsigned.p7s"
flip_last "$T/ok.p7s" "$T/bad.p7s"
login_check "wrongly signed CMS" 422 SIGNATURE_INVALID usuario01 "$PASSWORD" "$T/bad.p7s"
sign_attached "$T/challenge.txt" "$T/foreign.p7s" "$T/foreign.pem" "$T/foreign.key"
login_check "CMS signed by a foreign CA's certificate" 403 CERT_FOREIGN usuario01 "$PASSWORD" "$T/foreign.p7s"
sign_attached "$T/challenge.txt" "$T/rev.p7s" "$T/rev.pem" "$T/rev.key"
login_check "revoked certificate" 403 CERT_REVOKED usuario01 "$PASSWORD" "$T/rev.p7s"
check "garbage JSON" 400 JSON_MALFORMED POST /session '{"user": "usuario01", '
CT=text/plain check "not JSON" 415 CONTENT_TYPE POST /session 'user=usuario01'
check "signature not base64" 400 FIELD_INVALID POST /session '{"user":"usuario01","password":"x","signature":"%%%"}'
check "missing password" 400 FIELD_MISSING POST /session '{"user":"usuario01","signature":"AAAA"}'
check "unknown member" 400 FIELD_UNKNOWN POST /session '{"user":"usuario01","password":"x","signature":"AAAA","otp":1}'
assert_eq 5 "$(sqlite3 "$D/service.db" "SELECT failed_logins FROM users WHERE name='usuario01'")" \
	"five failed logins counted (malformed bodies and unknown users do not count)"

# From the 5th failure on the user waits: 429 with Retry-After, not counted.
status=401
for _ in 1 2 3; do
	status=$(api POST /session "$(login_body usuario01 Equivocado1 "$T/ok.p7s")")
	[[ $status == 401 ]] || break
done
expect_error 429 LOGIN_THROTTLED "$status" "failed logins are slowed"
retry=$(tr -d '\r' <"$T/headers" | sed -n 's/^Retry-After: //p')
if [[ ! $retry =~ ^[1-9][0-9]*$ ]]; then die "Retry-After '$retry'"; fi
sleep "$retry"
for _ in 1 2 3 4 5; do
	status=$(api POST /session "$(login_body usuario01 "$PASSWORD" "$T/ok.p7s")")
	[[ $status == 429 ]] || break
	sleep "$(tr -d '\r' <"$T/headers" | sed -n 's/^Retry-After: //p')"
done
assert_eq 201 "$status" "after the wait, the right login succeeds"
assert_eq 0 "$(sqlite3 "$D/service.db" "SELECT failed_logins FROM users WHERE name='usuario01'")" \
	"a successful login resets the count"
TOKEN=''
login_check "replayed challenge" 401 CHALLENGE_USED usuario01 "$PASSWORD" "$T/ok.p7s"
challenge usuario02
sign_attached "$T/challenge.txt" "$T/other.p7s" "$T/a.pem" "$T/a.key"
login_check "foreign challenge (another user's)" 401 CHALLENGE_FOREIGN usuario01 "$PASSWORD" "$T/other.p7s"
printf 'not-a-challenge' >"$T/nc.txt"
sign_attached "$T/nc.txt" "$T/nc.p7s" "$T/a.pem" "$T/a.key"
login_check "content that is no challenge" 401 CHALLENGE_UNKNOWN usuario01 "$PASSWORD" "$T/nc.p7s"
challenge usuario01
sign_attached "$T/challenge.txt" "$T/b.p7s" "$T/b.pem" "$T/b.key"
login_check "another employer's certificate" 403 CERT_NOT_YOURS usuario01 "$PASSWORD" "$T/b.p7s"
login usuario01 a   # resets the count of failures before the next ones
TOKEN=''
challenge usuario01
sign_attached "$T/challenge.txt" "$T/unknown.p7s" "$T/unknown.pem" "$T/unknown.key"
login_check "a certificate this CA has no record of" 403 CERT_UNKNOWN usuario01 "$PASSWORD" "$T/unknown.p7s"
openssl cms -sign -binary -nodetach -nocerts -md sha256 -in "$T/challenge.txt" -signer "$T/a.pem" \
	-inkey "$T/a.key" -outform DER -out "$T/nocert.p7s"
login_check "signer certificate not included" 400 SIGNER_CERT_MISSING usuario01 "$PASSWORD" "$T/nocert.p7s"
openssl cms -sign -binary -nodetach -md sha1 -in "$T/challenge.txt" -signer "$T/a.pem" \
	-inkey "$T/a.key" -outform DER -out "$T/sha1.p7s"
login_check "SHA-1 digest" 422 CMS_DIGEST_WEAK usuario01 "$PASSWORD" "$T/sha1.p7s"

# Sessions.
check "missing session" 401 SESSION_MISSING GET /company
TOKEN=$(printf '%064d' 0)
check "unknown session" 401 SESSION_INVALID GET /company
login usuario01 a

# Company data: only the e-mail.
check "edit razon social" 403 FIELD_READ_ONLY PATCH /company '{"razon_social":"OTRA SA"}'
check "edit RFC" 403 FIELD_READ_ONLY PATCH /company '{"rfc":"XAXX010101000"}'
check "e-mail with a read-only field" 403 FIELD_READ_ONLY PATCH /company \
	'{"email":"otro@ejemplo.mx","registro_patronal":"Y1234567108"}'
check "bad e-mail" 400 FIELD_INVALID PATCH /company '{"email":"no es correo"}'
check "unknown company field" 400 FIELD_UNKNOWN PATCH /company '{"telefono":"5555555555"}'
check "PATCH garbage JSON" 400 JSON_MALFORMED PATCH /company '[1,2'
check "PATCH an array" 400 JSON_MALFORMED PATCH /company '["email"]'
check "not a path" 404 NOT_FOUND GET /nothing
check "wrong method" 405 METHOD_NOT_ALLOWED PUT /company '{"email":"a@b.mx"}'
assert_contains "$(tr -d '\r' <"$T/headers")" "Allow: GET, PATCH" "405 names the methods"

# Oversized body: refused before it is read or stored.
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'A' >"$T/big"
check "oversized body" 413 BODY_TOO_LARGE POST /renewal '' -H 'Content-Type: application/json' \
	--data-binary "@$T/big"
printf '{"request":"' >"$T/big.json"; cat "$T/big" >>"$T/big.json"; printf '"}' >>"$T/big.json"
check "oversized body, chunked" 413 BODY_TOO_LARGE POST /renewal '' -H 'Content-Type: application/json' \
	-H 'Transfer-Encoding: chunked' --data-binary "@$T/big.json"

# The renewal before the letter; the letter signed with another certificate.
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/new.key" -subj "$SUBJ_A" -outform DER \
	-out "$T/new.csr" 2>/dev/null
sign_attached "$T/new.csr" "$T/renewal.p7s" "$T/a.pem" "$T/a.key"
check "renewal before the letter is signed" 409 LETTER_NOT_SIGNED POST /renewal \
	"{\"request\":\"$(b64 "$T/renewal.p7s")\"}"
check "letter signature before the letter" 409 LETTER_NOT_ISSUED POST /letter/signature \
	"{\"signature\":\"$(b64 "$T/ok.p7s")\"}"
assert_eq 200 "$(api GET /letter '' -H 'Accept: application/pdf')" "GET /letter"
cp "$T/body" "$T/letter.pdf"
sign_detached "$T/letter.pdf" "$T/letter-b.p7s" "$T/b.pem" "$T/b.key"
check "letter signed with another certificate" 403 SIGNER_MISMATCH POST /letter/signature \
	"{\"signature\":\"$(b64 "$T/letter-b.p7s")\"}"
sign_detached "$T/nc.txt" "$T/letter-other.p7s" "$T/a.pem" "$T/a.key"
check "signature of another document" 422 SIGNATURE_INVALID POST /letter/signature \
	"{\"signature\":\"$(b64 "$T/letter-other.p7s")\"}"
sign_attached "$T/letter.pdf" "$T/letter-att.p7s" "$T/a.pem" "$T/a.key"
check "letter signature with the content attached" 400 CMS_MALFORMED POST /letter/signature \
	"{\"signature\":\"$(b64 "$T/letter-att.p7s")\"}"
sign_detached "$T/letter.pdf" "$T/letter.p7s" "$T/a.pem" "$T/a.key"
assert_eq 201 "$(api POST /letter/signature "{\"signature\":\"$(b64 "$T/letter.p7s")\"}")" "letter signed"
check "letter signed twice" 409 LETTER_ALREADY_SIGNED POST /letter/signature \
	"{\"signature\":\"$(b64 "$T/letter.p7s")\"}"

# renewal_check MSG STATUS CODE CMS-FILE
renewal_check() {
	check "$1" "$2" "$3" POST /renewal "{\"request\":\"$(b64 "$4")\"}"
}
# csr_wrapped NAME SUBJECT KEYARGS...: $T/NAME.p7s, a CSR wrapped by A's credential.
csr_wrapped() {
	local name=$1 subj=$2
	shift 2
	openssl req -new "$@" -subj "$subj" -outform DER -out "$T/$name.csr" 2>/dev/null ||
		die "openssl req $name"
	sign_attached "$T/$name.csr" "$T/$name.p7s" "$T/a.pem" "$T/a.key"
}
openssl cms -data_create -binary -in "$T/new.csr" -outform DER -out "$T/r-unsigned.p7s"
renewal_check "unsigned renewal" 400 CMS_NOT_SIGNED "$T/r-unsigned.p7s"
flip_last "$T/renewal.p7s" "$T/r-bad.p7s"
renewal_check "wrongly signed renewal" 422 SIGNATURE_INVALID "$T/r-bad.p7s"
sign_attached "$T/new.csr" "$T/r-foreign.p7s" "$T/foreign.pem" "$T/foreign.key"
renewal_check "renewal signed by a foreign CA's certificate" 403 SIGNER_MISMATCH "$T/r-foreign.p7s"
sign_attached "$T/new.csr" "$T/r-b.p7s" "$T/b.pem" "$T/b.key"
renewal_check "renewal signed by another employer's certificate" 403 SIGNER_MISMATCH "$T/r-b.p7s"
renewal_check "renewal whose content is no CSR" 400 CSR_MALFORMED "$T/nc.p7s"
csr_wrapped other "/O=OTRA EMPRESA SA DE CV/OU=$RPB/x500UniqueIdentifier=OEM020202XY9/CN=OTRA EMPRESA SA DE CV/emailAddress=rh@otra.example.mx" \
	-newkey rsa:2048 -nodes -keyout "$T/other.key"
renewal_check "CSR for another subject" 422 CSR_SUBJECT_MISMATCH "$T/other.p7s"
csr_wrapped extra "$SUBJ_A/L=CDMX" -newkey rsa:2048 -nodes -keyout "$T/extra.key"
renewal_check "CSR with an extra attribute" 422 CSR_SUBJECT_MISMATCH "$T/extra.p7s"
csr_wrapped weak "$SUBJ_A" -newkey rsa:1024 -nodes -keyout "$T/weak.key"
renewal_check "weak key (RSA 1024)" 422 KEY_TOO_WEAK "$T/weak.p7s"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out "$T/k1.key" 2>/dev/null
csr_wrapped k1 "$SUBJ_A" -key "$T/k1.key"
renewal_check "unsupported curve (secp256k1)" 422 KEY_UNSUPPORTED "$T/k1.p7s"
csr_wrapped reused "$SUBJ_A" -key "$T/a.key"
renewal_check "reused old key" 422 KEY_REUSED "$T/reused.p7s"
csr_wrapped reused2 "$SUBJ_A" -key "$T/rev.key"
renewal_check "a key this CA certified before" 422 KEY_REUSED "$T/reused2.p7s"
check "renewal garbage JSON" 400 JSON_MALFORMED POST /renewal '{"request":'
check "another employer's certificate by serial" 404 CERT_NOT_FOUND GET "/certificates/$(cat "$T/b.serial")"
check "unknown request" 404 REQUEST_NOT_FOUND GET "/requests/$(printf '%032d' 0)"

# And the right request still works after all that.
assert_eq 201 "$(api POST /renewal "{\"request\":\"$(b64 "$T/renewal.p7s")\"}")" "the good renewal"
jq -r .certificate.pem "$T/body" >"$T/new.pem"
assert_eq "$T/new.pem: OK" "$(openssl verify -CAfile "$D/ca.pem" "$T/new.pem")" "openssl verify"
svc_stop

# Sessions and challenges expire.
svc_start --session-idle 1 --challenge-ttl 1
login usuario01 a
sleep 2.2
check "expired session" 401 SESSION_EXPIRED GET /company
TOKEN=''
challenge usuario01
sign_attached "$T/challenge.txt" "$T/late.p7s" "$T/a.pem" "$T/a.key"
sleep 2.2
login_check "expired challenge" 401 CHALLENGE_EXPIRED usuario01 "$PASSWORD" "$T/late.p7s"
svc_stop
if grep -q "$PASSWORD\|Bearer [0-9a-f]" "$T/serve.log"; then
	die "a secret in the service's log"
fi
echo "ok: no password or token in the service's log"
