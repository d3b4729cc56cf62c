#!/usr/bin/env bash
# The JSON contract (docs/json.md): every command run with --json, once
# successfully and once with an error, its output checked against the
# documented shape with jq.  --json and --module go after the command here,
# as a script may write them.  An error is one line,
# {"error":{"code":"WORD","message","detail","hint","exit":N}} ("hint"
# only when there is one), with the exit status in it; renew's events carry typed booleans, numbers and lists; a
# renewal still pending when --timeout runs out exits 12 with code PENDING,
# and the same command run again finishes it.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"

# tool ARGS...: the tool on the case's token, stdout in $T/out, stderr in
# $T/stderr, with --json and --module after the command word.
tool() {
	local cmd=$1
	shift
	"$IMSS_RENEW" "$cmd" --json --module "$SOFTHSM" "$@" >"$T/out" 2>"$T/stderr"
}

# ok WHAT FILTER ARGS...: exit 0, stdout one JSON document for which the jq
# FILTER is true.
ok() {
	local what=$1 filter=$2
	shift 2
	tool "$@" || die "$what: exit $?: $(<"$T/stderr")"
	jq -e "$filter" "$T/out" >/dev/null || die "$what: shape: $(<"$T/out")"
	printf 'ok: %s: the documented shape\n' "$what"
}

# The error object's shape, for jq.
ERROR_SHAPE='keys == ["error"] and (.error | ((keys - ["hint"]) == ["code","detail","exit","message"])
	and (.hint | . == null or (type == "string" and length > 0))
	and (.code | type == "string" and test("^[A-Z][A-Z0-9_]*$"))
	and (.message | type == "string" and length > 0)
	and (.detail | type == "string") and (.exit | type == "number"))'

# error_line FILE CODE EXIT WHAT: the last line of FILE is the one-line
# error with CODE and EXIT.
error_line() {
	local line
	line=$(tail -n 1 "$1")
	jq -e "$ERROR_SHAPE" <<<"$line" >/dev/null || die "$4: not the error shape: $line"
	assert_eq "$2 $3" "$(jq -r '"\(.error.code) \(.error.exit)"' <<<"$line")" "$4: code and exit"
}

# fails WHAT CODE EXIT ARGS...: exit EXIT, stdout exactly one line, the error.
fails() {
	local what=$1 code=$2 want=$3 rc=0
	shift 3
	tool "$@" || rc=$?
	assert_eq "$want" "$rc" "$what: exit status"
	assert_eq 1 "$(wc -l <"$T/out")" "$what: the error is one line"
	error_line "$T/out" "$code" "$want" "$what"
}

svc_init
svc_start --issue-delay 6
case_new json token
pin=(--pin-source "file:$T/pin")
printf 'Carta\n' >"$T/letter.txt"
printf 'not a certificate\n' >"$T/garbage.der"
uri=$TOKEN_URI

# --- version, tokens, objects, doctor ---------------------------------------------
"$IMSS_RENEW" --version --json >"$T/out" || die "--version --json"
jq -e 'keys == ["version"] and (.version | type == "string")' "$T/out" >/dev/null ||
	die "--version: $(<"$T/out")"
ok tokens '.tokens | length >= 1 and all(.[]; (.uri | type == "string")
	and (.slot | type == "number") and (.initialized | type == "boolean")
	and (.max_pin_length | type == "number" or . == null))' tokens
"$IMSS_RENEW" tokens --json --module "$T/no-such-module.so" >"$T/out" 2>"$T/stderr" || :
error_line "$T/out" MODULE_LOAD 1 "tokens, no module"
# (The credential: private key and certificate; its public key was a
# session object when the service made it.)
ok objects '.objects | length >= 2 and all(.[]; (.class | IN("private-key","public-key","certificate","other"))
	and (.sensitive | type == "boolean" or . == null) and (.bits | type == "number" or . == null))' \
	objects --token "$uri" --login "${pin[@]}"
printf '0000' >"$T/wrong-pin"
fails "objects, wrong PIN" PIN_INCORRECT 1 objects --token "$uri" --pin-source "file:$T/wrong-pin"
ok doctor '(.verdict | IN("OK","WARN","FAIL")) and all(.checks[]; keys == ["ms","name","result","status","text"]
	and (.result | IN("ok","advertised","failed","missing")) and .ms == null)' \
	doctor --token "$uri"
ok "doctor --try" 'all(.checks[] | select(.name | startswith("try:")); .ms | type == "number")
	and ([.checks[] | select(.name | startswith("try:"))] | length == 2)' \
	doctor --token "$uri" --try --type ec:prime256v1 "${pin[@]}"
fails "doctor, no such token" NO_TOKEN 1 doctor --token 'pkcs11:token=no%20such%20token'

# --- keygen, csr, sign --------------------------------------------------------------
ok keygen '(.uri | startswith("pkcs11:")) and .type == "rsa:2048"
	and (.id_is_key_identifier | type == "boolean") and .sensitive == true and .extractable == false' \
	keygen --token "$uri" --label json-key "${pin[@]}"
key=$(jq -r .uri "$T/out")
# What to do next: the library says it in words, the tool names its option
# in "hint" (src/tool/hints.c) and on stderr.
fails "keygen, label in use" LABEL_IN_USE 1 keygen --token "$uri" --label json-key "${pin[@]}"
assert_eq "Choose another label with --label." "$(jq -r .error.hint "$T/out")" \
	"label in use: the hint names --label"
jq -e '.error.detail | contains("choose another label") and (contains("--") | not)' "$T/out" \
	>/dev/null || die "label in use: the detail names no option: $(<"$T/out")"
assert_contains "$(<"$T/stderr")" "Choose another label with --label." "label in use: the hint on stderr"
fails "keygen, bad --type" USAGE 2 keygen --token "$uri" --label x --type rsa:1024 "${pin[@]}"
ok csr '.file == null and .format == "pem" and (.pem | startswith("-----BEGIN CERTIFICATE REQUEST"))
	and (.key_uri | type == "string")' csr --key "$key" --subject /CN=json "${pin[@]}"
fails "csr, no such key" NO_OBJECT 1 csr --key "pkcs11:token=IMSS;object=none;type=private" \
	--subject /CN=json "${pin[@]}"
ok sign '.attached == false and .format == "pem" and (.file | type == "string")' \
	sign --key "${CURRENT[1]}" --in "$T/letter.txt" --out "$T/letter.p7s" "${pin[@]}"
fails "sign, no input" IO 1 sign --key "${CURRENT[1]}" --in "$T/no-such-letter" --out "$T/x.p7s" "${pin[@]}"

# --- renew: pending at --timeout (exit 12), then finished ---------------------------
rc=0
JSON=1 renew_run --timeout 2 >"$C/pending.json" || rc=$?
assert_eq 12 "$rc" "renew, pending at --timeout: exit status 12"
error_line "$C/pending.json" PENDING 12 "renew, pending"
assert_eq "" "$(head -n -1 "$C/pending.json" | jq -c 'select(has("event") | not)')" \
	"renew, pending: every line before the error is an event"
assert_eq submitted "$(journal_state)" "renew, pending: the request is kept"
jq -s -e '
	all(.[]; (.event | type == "string") and (.step | type == "number") and (.message | type == "string"))
	and any(.[]; .event == "login" and (.renewal_required | type == "boolean"))
	and any(.[]; .event == "company" and .editable == ["email"])
	and any(.[]; .event == "keygen" and .sensitive == true and .extractable == false and (.local | type == "boolean"))
	and any(.[]; .event == "wait" and (.seconds | type == "number") and (.request_id | type == "string"))' \
	<(head -n -1 "$C/pending.json") >/dev/null || die "renew: events not typed: $(<"$C/pending.json")"
echo "ok: renew's events carry typed booleans, numbers and lists"
JSON=1 renew_run >"$C/done.json" || die "renew after pending: $(<"$C/err")"
jq -e '.event == "done" and .step == 7 and (.serial | type == "string")
	and (.certificate_uri | startswith("pkcs11:")) and (.certificate_file | type == "string")' \
	<(tail -n 1 "$C/done.json") >/dev/null || die "renew: the done event: $(tail -n 1 "$C/done.json")"
assert_eq done "$(journal_state)" "renew after pending: the journal says done"
serial=$(tail -n 1 "$C/done.json" | jq -r .serial)
cert_uri=$(tail -n 1 "$C/done.json" | jq -r .certificate_uri)
cert_file=$(tail -n 1 "$C/done.json" | jq -r .certificate_file)

# --- recover, abandon -----------------------------------------------------------
renew_args
tool recover "${RENEW_ARGS[@]:0:${#RENEW_ARGS[@]}-1}" --serial "$serial" ||
	die "recover: $(<"$T/stderr")"
jq -e '.event == "done" and .serial == $s' --arg s "$serial" <(tail -n 1 "$T/out") >/dev/null ||
	die "recover: the done event: $(<"$T/out")"
echo "ok: recover: the done event"
fails "recover without --serial" USAGE 2 recover "${RENEW_ARGS[@]:0:${#RENEW_ARGS[@]}-1}"
fails "abandon, nothing to undo" NO_OBJECT 1 renew --abandon --token "$uri" \
	--state-dir "$C/state" "${pin[@]}"

# --- status, check, export, import ------------------------------------------------
cert_fields='(.source | IN("file","credential","token")) and (.serial | type == "string")
	and (.days_left | type == "number") and (.expired | type == "boolean")
	and (.not_yet_valid | type == "boolean") and (.key_checked | type == "boolean")
	and (.key_present | type == "boolean" or . == null) and (.retired | type == "boolean")
	and (.superseded_by | type == "string" or . == null)'
ok status "(.certificates | length >= 2) and all(.certificates[]; $cert_fields)" \
	status --token "$uri"
fails "status, no file" IO 1 status --cert "$T/no-such.cer"
ok check "(.status == \"ok\") and (.days == 30) and all(.certificates[]; $cert_fields and .status == \"ok\")" \
	check --cert "$cert_file"
fails "check, bad --days" USAGE 2 check --cert "$cert_file" --days soon
FAULT_NO_SLOTS=1 fails "check, no token" NO_TOKEN 1 check --module "$FAULT_MODULE"
ok export ".format == \"der\" and .serial == \"$serial\"" \
	export --cert "$cert_uri" --out "$T/export.cer"
fails "export, no such certificate" NO_OBJECT 1 export --cert "pkcs11:token=IMSS;object=none;type=cert" \
	--out "$T/none.cer"
ok import '(.uri | startswith("pkcs11:")) and .serial == "'"$serial"'"' \
	import --token "$uri" --cert "$T/export.cer" --force "${pin[@]}"
fails "import, not a certificate" FORMAT 1 import --token "$uri" --cert "$T/garbage.der" "${pin[@]}"
