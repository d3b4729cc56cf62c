# shellcheck shell=bash
# Helpers for the tests of imss-renew-service, an outside client made of
# curl, openssl, jq and sqlite3.  Source it after common.sh:
#   . "$TESTS_DIR/lib/common.sh"; . "$TESTS_DIR/service/lib.sh"
#   svc_init; svc_employer Y1234567108 usuario01; svc_start
#
# ctest sets IMSS_SERVICE (tests/service/CMakeLists.txt).
: "${IMSS_SERVICE:?IMSS_SERVICE is not set (run the test through ctest)}"
t_need curl openssl jq sqlite3

t_tmpdir
D=$T/svc                      # the service's directory
SVC_PID=''
SVC_URL=''
TOKEN=''
export PASSWORD=Secreto123    # every test user's password (env: source)
printf 'pfx-pass' >"$T/pfxpass"

svc_cleanup() {
	[[ -z $SVC_PID ]] || { kill -TERM "$SVC_PID" 2>/dev/null || :; wait "$SVC_PID" 2>/dev/null || :; }
	SVC_PID=''
	t_cleanup
}
trap svc_cleanup EXIT

svc_init() {
	assert_exit 0 "$IMSS_SERVICE" init --dir "$D" --kdf-iterations 1000
}

# svc_employer RP USER [RAZON RFC EMAIL]: add an employer and its user.
svc_employer() {
	assert_exit 0 "$IMSS_SERVICE" employer add --dir "$D" --registro-patronal "$1" \
		--razon-social "${3:-EJEMPLO $1 SA DE CV}" --rfc "${4:-EJE010101AB1}" \
		--email "${5:-rh@$1.example.mx}" --user "$2" --address 'Av. Reforma 1, CDMX' \
		--password-source env:PASSWORD
}

# svc_issue RP NAME [ARGS]: an initial certificate into $T/NAME.pfx, and its
# key and certificate as $T/NAME.key and $T/NAME.pem; the serial in $T/NAME.serial.
svc_issue() {
	local rp=$1 name=$2
	shift 2
	"$IMSS_SERVICE" issue --dir "$D" --registro-patronal "$rp" --pfx "$T/$name.pfx" \
		--pfx-password-source "file:$T/pfxpass" "$@" >"$T/$name.issue" || die "issue $name"
	openssl pkcs12 -in "$T/$name.pfx" -passin "file:$T/pfxpass" -nodes -nocerts \
		-out "$T/$name.key" 2>/dev/null || die "pkcs12 key of $name"
	openssl pkcs12 -in "$T/$name.pfx" -passin "file:$T/pfxpass" -clcerts -nokeys \
		-out "$T/$name.pem" 2>/dev/null || die "pkcs12 certificate of $name"
	sed -n 's/^serial //p' "$T/$name.issue" >"$T/$name.serial"
}

# svc_two_expired: a new service with two employers, RPA (user usuario01)
# and RPB (usuario02), each with an expired certificate ($T/a.*, $T/b.*).
svc_two_expired() {
	RPA=Y1234567108
	RPB=Z7654321109
	svc_init
	svc_employer "$RPA" usuario01
	svc_employer "$RPB" usuario02
	svc_issue "$RPA" a --expired
	svc_issue "$RPB" b --expired
}

# shellcheck disable=SC2120
# svc_start [ARGS]: serve on 127.0.0.1, a port of its choosing; SVC_URL.
svc_start() {
	svc_serve 127.0.0.1:0 "$@"
	[[ $SVC_LINE == 'listening on https://127.0.0.1:'* ]] ||
		{ cat "$T/serve.log" >&2; die "serve printed '$SVC_LINE'"; }
	SVC_URL=${SVC_LINE#listening on }/idse/v1
}

# svc_stop: SIGTERM; the service must exit 0 and leave nothing behind.
svc_stop() {
	local rc=0
	kill -TERM "$SVC_PID"
	wait "$SVC_PID" || rc=$?
	SVC_PID=''
	assert_eq 0 "$rc" "serve exits 0 on SIGTERM"
}

# api METHOD PATH [JSON] [CURL ARGS]: prints the HTTP status; the body is in
# $T/body, the headers in $T/headers.  Sends the session's token when set,
# and JSON as application/json (or as $CT).
api() {
	local method=$1 path=$2 json=${3:-} args=()
	shift $(($# < 3 ? $# : 3))
	[[ -z $TOKEN ]] || args+=(-H "Authorization: Bearer $TOKEN")
	if [[ -n $json ]]; then
		printf '%s' "$json" >"$T/request.json"
		args+=(-H "Content-Type: ${CT:-application/json}" --data-binary "@$T/request.json")
	fi
	curl -sS --cacert "$D/ca.pem" -X "$method" "${args[@]}" "$@" -D "$T/headers" \
		-o "$T/body" -w '%{http_code}' "$SVC_URL$path"
}

# expect_error STATUS CODE MSG: the last answer was that error, in the one shape.
expect_error() {
	assert_eq "$1 $2" "$3 $(jq -r '.error.code' "$T/body")" "$4"
	jq -e '.error.message_es and .error.message_en' "$T/body" >/dev/null ||
		die "$4: error without messages: $(cat "$T/body")"
}

# b64 FILE: one-line base64.
b64() { openssl base64 -A -in "$1"; }

# sign_attached IN OUT CERT KEY / sign_detached IN OUT CERT KEY: DER CMS.
sign_attached() {
	openssl cms -sign -binary -nodetach -md sha256 -in "$1" -signer "$3" -inkey "$4" \
		-outform DER -out "$2" || die "openssl cms -sign $1"
}
sign_detached() {
	openssl cms -sign -binary -md sha256 -in "$1" -signer "$3" -inkey "$4" \
		-outform DER -out "$2" || die "openssl cms -sign $1"
}

# challenge USER: a challenge into $T/challenge.txt (no line end).
challenge() {
	local status
	status=$(TOKEN='' api POST /challenge "{\"user\":\"$1\"}")
	assert_eq 201 "$status" "challenge for $1"
	jq -j .challenge "$T/body" >"$T/challenge.txt"
}

# login_body USER PASSWORD SIGNATURE-FILE: the JSON of a login.
login_body() {
	printf '{"user":"%s","password":"%s","signature":"%s"}' "$1" "$2" "$(b64 "$3")"
}

# login USER NAME: log in with $T/NAME.pem/.key; sets TOKEN, prints nothing.
login() {
	local status
	TOKEN=''
	challenge "$1"
	sign_attached "$T/challenge.txt" "$T/login.p7s" "$T/$2.pem" "$T/$2.key"
	status=$(api POST /session "$(login_body "$1" "$PASSWORD" "$T/login.p7s")")
	[[ $status == 201 ]] || { cat "$T/body" >&2; die "login of $1 with $2: $status"; }
	TOKEN=$(jq -r .token "$T/body")
}

# subject RP: the subject of RP's certificates.
subject() {
	printf '/O=EJEMPLO %s SA DE CV/OU=%s/x500UniqueIdentifier=EJE010101AB1/CN=EJEMPLO %s SA DE CV/emailAddress=rh@%s.example.mx' \
		"$1" "$1" "$1" "$1"
}

# sign_letter NAME: the session's letter, signed with NAME's credential.
sign_letter() {
	assert_eq 200 "$(api GET /letter '' -H 'Accept: application/pdf')" "$1: GET /letter"
	cp "$T/body" "$T/$1-letter.pdf"
	sign_detached "$T/$1-letter.pdf" "$T/$1-letter.p7s" "$T/$1.pem" "$T/$1.key"
	assert_eq 201 "$(api POST /letter/signature "{\"signature\":\"$(b64 "$T/$1-letter.p7s")\"}")" \
		"$1: letter signed"
}

# request NAME RP OUT: a new EC key's request for RP wrapped by NAME's
# credential, as the JSON body of POST /renewal in $T/OUT.json.
request() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$T/$3.key" -subj "$(subject "$2")" -outform DER -out "$T/$3.csr" 2>/dev/null ||
		die "openssl req $3"
	sign_attached "$T/$3.csr" "$T/$3.p7s" "$T/$1.pem" "$T/$1.key"
	printf '{"request":"%s"}' "$(b64 "$T/$3.p7s")" >"$T/$3.json"
}

renewal() { api POST /renewal "$(cat "$T/$1.json")"; }

# db_state: the database as SQL, less what a refused request may change:
# users.failed_logins and users.login_not_before (a failed login counts).
db_state() {
	local tables
	tables=$(sqlite3 "$D/service.db" "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type='table' AND name <> 'users' ORDER BY name)")
	sqlite3 "$D/service.db" ".dump $tables"
	sqlite3 "$D/service.db" "SELECT id, employer_id, name, hex(pw_salt), hex(pw_hash), pw_iterations FROM users ORDER BY id"
}

# spki FILE.pem (certificate, request or key): SHA-256 of the public key.
spki_of_cert() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum; }
spki_of_key() { openssl pkey -in "$1" -pubout -outform DER | sha256sum; }
