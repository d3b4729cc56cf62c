#!/usr/bin/env bash
# imss-renew doctor claims only what it checked, and doctor --try tries it:
#  - read-only: no C_Login and no write; key generation, signing, storage
#    and the RNG are "advertised" (text: ADVERTISED, never OK), the PIN
#    state "ok" (read); --json has "result" and "ms" on every check;
#  - --try --type rsa:2048,ec:prime256v1: one OK try per type and one for
#    a certificate object, each with its time in ms; the token's objects
#    (a key with its certificate made beforehand among them) are exactly
#    as they were; without --type, the types the token lists (RSA hidden
#    with FAULT_HIDE_MECHANISMS: the two EC types; keygen:rsa:* missing);
#  - through the fault module, C_GenerateKeyPair or C_CreateObject failing:
#    the try is "failed" with the function named, exit 1, objects as they
#    were; C_CreateObject answering CKR_FUNCTION_NOT_SUPPORTED says the
#    token does not store certificates written by other programs;
#  - a token reporting 512 bytes of private memory free: "memory" FAIL;
#    --type without --try and an unknown type: usage errors (exit 2);
#  - a write-protected token (FAULT_TOKEN_FLAGS=write_protected): doctor
#    FAIL on "write" (exit 1), and with --try nothing tried and no login;
#    keygen refused saying the keys still sign,
#    and the key made beforehand still signs and its certificate exports;
#  - a module that lists one of the try's handles twice (FAULT_FIND_TWICE):
#    the set under the try's label is not the set made, so the try fails
#    and deletes nothing.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=../cli/cli-lib.sh
. "$TESTS_DIR/cli/cli-lib.sh"
: "${FAULT_MODULE:?FAULT_MODULE is not set (run the test through ctest)}"
t_need jq openssl

t_make_token "IMSS doctor"
# shellcheck source=lib.sh
. "$TESTS_DIR/token/lib.sh"

# A key with its certificate, there before any doctor runs.
pki_init
pki_ca ca
key_and_cert "kept key" ec:prime256v1 "/O=Empresa Ejemplo SA de CV/CN=kept"
# every object: class, label and id, sorted
listing() {
	objects_json
	jq -r '.objects[] | [.class, .label, .id] | join("|")' "$T/objects.json" | sort
}
before=$(listing)
[[ $(wc -l <<<"$before") == 3 ]] || die "the kept key and certificate: 3 objects, got: $before"

# --- read-only: advertised, not tried -------------------------------------------
assert_exit 0 capture "$T/doctor.txt" fault doctor --token "$IMSS_TOKEN_URI"
writes=$(grep -E '^C_(Login|GenerateKeyPair|CreateObject|DestroyObject|SetAttributeValue) ' \
	"$FAULT_LOG" || true)
assert_eq "" "$writes" "read-only doctor: no login, no write"
grep -qE '^ADVERTISED +keygen:rsa:2048: advertised, not tried' "$T/doctor.txt" ||
	die "keygen:rsa:2048 is not shown as advertised: $(<"$T/doctor.txt")"
if grep -qE '^OK +(keygen|write|sign)' "$T/doctor.txt"; then
	die "the read-only doctor says OK for what it did not try: $(<"$T/doctor.txt")"
fi
echo "ok: the read-only doctor says ADVERTISED, not OK, for key generation, storage, signing"
assert_exit 0 capture "$T/doctor.json" imss --json doctor --token "$IMSS_TOKEN_URI"
assert_eq "advertised|advertised|ok|true" \
	"$(jq -r '[(.checks[] | select(.name == "keygen:ec:prime256v1") | .result),
	           (.checks[] | select(.name == "write") | .result),
	           (.checks[] | select(.name == "pin") | .result),
	           all(.checks[]; .ms == null)] | join("|")' "$T/doctor.json")" \
	"--json: result advertised for keygen and write, ok for the PIN state read, no time"

# --- --try on SoftHSM --------------------------------------------------------------
assert_exit 0 capture "$T/try.txt" fault doctor --token "$IMSS_TOKEN_URI" --try \
	--type rsa:2048,ec:prime256v1 --pin-source "file:$T/pin"
for name in try:keygen:rsa:2048 try:keygen:ec:prime256v1 try:certificate; do
	grep -qE "^OK +$name: tried: .* \([0-9]+ ms\)$" "$T/try.txt" ||
		die "$name: no OK line with its time: $(<"$T/try.txt")"
done
echo "ok: --try: an OK line with its time for each key type and the certificate"
assert_eq "$before" "$(listing)" "--try: the token's objects are exactly as before"
assert_exit 0 capture "$T/try.json" imss --json doctor --token "$IMSS_TOKEN_URI" --try \
	--type ec:secp384r1 --pin-source "file:$T/pin"
assert_eq "OK|ok|true|OK|ok|true" \
	"$(jq -r '[.checks[] | select(.name | startswith("try:")) |
	           .status, .result, (.ms | type == "number" and . >= 0)] | join("|")' "$T/try.json")" \
	"--try --json: status OK, result ok and ms for the key pair and the certificate"
assert_eq "$before" "$(listing)" "--try --json: the token's objects are exactly as before"

# --- --try with no --type: every type the token lists ---------------------------------
FAULT_HIDE_MECHANISMS=CKM_RSA_PKCS_KEY_PAIR_GEN assert_exit 0 capture "$T/ec.json" \
	fault --json doctor --token "$IMSS_TOKEN_URI" --try --pin-source "file:$T/pin"
assert_eq "WARN|missing" "$(jq -r '.checks[] | select(.name == "keygen:rsa:2048") |
	[.status, .result] | join("|")' "$T/ec.json")" "RSA generation hidden: keygen:rsa:2048 missing"
assert_eq "try:keygen:ec:prime256v1 try:keygen:ec:secp384r1 try:certificate" \
	"$(jq -r '[.checks[] | select(.name | startswith("try:")) | .name] | join(" ")' "$T/ec.json")" \
	"--try without --type: the types the token lists, then the certificate"
assert_eq "$before" "$(listing)" "--try without --type: the token's objects as before"

# --- --try where the token fails -----------------------------------------------------
try_failing() { # FAULT_FAIL NAME: the try NAME fails, exit 1
	FAULT_FAIL=$1 assert_exit 1 capture "$T/fail.json" fault --json doctor \
		--token "$IMSS_TOKEN_URI" --try --type ec:prime256v1 --pin-source "file:$T/pin"
	assert_eq "FAIL|failed|FAIL" \
		"$(jq -r --arg n "$2" '[(.checks[] | select(.name == $n) | .status, .result), .verdict] |
		                       join("|")' "$T/fail.json")" "$1: $2 failed, verdict FAIL"
	assert_contains "$(<"$T/stderr")" "a try failed" "$1: a message on stderr"
	assert_eq "$before" "$(listing)" "$1: the token's objects are exactly as before"
}
try_failing C_GenerateKeyPair:1+:CKR_DEVICE_ERROR try:keygen:ec:prime256v1
assert_contains "$(jq -r '.checks[] | select(.name == "try:keygen:ec:prime256v1") | .text' \
	"$T/fail.json")" "CKR_DEVICE_ERROR" "the failed key pair try names the token's answer"
assert_eq "OK" "$(jq -r '.checks[] | select(.name == "try:certificate") | .status' "$T/fail.json")" \
	"the certificate is still tried after a key type failed"
try_failing C_CreateObject:1:CKR_FUNCTION_NOT_SUPPORTED try:certificate
assert_contains "$(jq -r '.checks[] | select(.name == "try:certificate") | .text' "$T/fail.json")" \
	"does not store certificates written by other programs" \
	"CKR_FUNCTION_NOT_SUPPORTED on a certificate: what the card cannot do"
FAULT_FAIL=C_CreateObject:1:CKR_TEMPLATE_INCONSISTENT assert_exit 1 capture "$T/fail.txt" \
	fault doctor --token "$IMSS_TOKEN_URI" --try --type ec:prime256v1 --pin-source "file:$T/pin"
grep -qE '^FAIL +try:certificate: tried, and it failed: .*C_CreateObject.*\([0-9]+ ms\)$' \
	"$T/fail.txt" || die "text: no FAIL line for the certificate: $(<"$T/fail.txt")"
echo "ok: text: the failed certificate try is a FAIL line naming C_CreateObject, with its time"
assert_eq "$before" "$(listing)" "CKR_TEMPLATE_INCONSISTENT: the token's objects as before"

# --- a full token, the read-only doctor's options ----------------------------------
FAULT_FREE_PRIVATE_MEMORY=512 assert_exit 1 capture "$T/full.json" fault --json doctor \
	--token "$IMSS_TOKEN_URI"
assert_eq "FAIL|failed" "$(jq -r '.checks[] | select(.name == "memory") | [.status, .result] |
	join("|")' "$T/full.json")" "512 bytes of private memory free: the memory check fails"
assert_eq "" "$(jq -r '.checks[] | select(.name == "memory") | .name' "$T/doctor.json")" \
	"SoftHSM does not say its free memory: no memory check"
assert_exit 2 imss doctor --token "$IMSS_TOKEN_URI" --type rsa:2048
assert_contains "$(<"$T/stderr")" "go with --try" "--type without --try: a usage error"
assert_exit 2 imss doctor --token "$IMSS_TOKEN_URI" --try --type rsa:1024 --pin-source "file:$T/pin"
assert_contains "$(<"$T/stderr")" "unknown key type 'rsa:1024'" "--try --type rsa:1024: a usage error"

# --- a write-protected token ----------------------------------------------------------
export FAULT_TOKEN_FLAGS=write_protected
assert_exit 1 capture "$T/wp.json" fault --json doctor --token "$IMSS_TOKEN_URI"
assert_eq "FAIL|failed" "$(jq -r '.checks[] | select(.name == "write") | [.status, .result] |
	join("|")' "$T/wp.json")" "write-protected: the write check fails"
assert_exit 1 capture "$T/wp.txt" fault doctor --token "$IMSS_TOKEN_URI" --try \
	--type ec:prime256v1 --pin-source "file:$T/pin"
grep -qE '^FAIL +write: the token is write-protected' "$T/wp.txt" ||
	die "write-protected --try: no FAIL line for write: $(<"$T/wp.txt")"
assert_contains "$(<"$T/stderr")" "nothing was tried" "write-protected --try: says nothing was tried"
assert_eq "" "$(grep '^C_Login ' "$FAULT_LOG" || true)" "write-protected --try: no login"
assert_exit 1 fault keygen --token "$IMSS_TOKEN_URI" --label "new key" --pin-source "file:$T/pin"
assert_contains "$(<"$T/stderr")" "write-protected" "write-protected: keygen says so"
assert_contains "$(<"$T/stderr")" "its keys still sign" "write-protected: and says what still works"
printf 'carta\n' >"$T/letter.txt"
assert_exit 0 fault sign --key "$KEY_URI" --in "$T/letter.txt" --out "$T/letter.p7s" --der \
	--pin-source "file:$T/pin"
openssl cms -verify -binary -inform DER -in "$T/letter.p7s" -content "$T/letter.txt" \
	-CAfile "$T/ca.pem" -out /dev/null 2>"$T/cms.err" ||
	die "write-protected: openssl cms -verify: $(<"$T/cms.err")"
echo "ok: write-protected: the key made beforehand still signs (openssl cms -verify)"
assert_exit 0 fault export --cert "$CERT_URI" --out "$T/out.cer"
cmp -s "$T/cert.der" "$T/out.cer" || die "write-protected: the export differs"
echo "ok: write-protected: its certificate still exports"
unset FAULT_TOKEN_FLAGS
assert_eq "$before" "$(listing)" "write-protected: the token's objects as before"

# --- the try's label lists a handle twice: its set is not the set made ---------------
# (FAULT_FIND_TWICE: a module listing one object twice; counted as a
# multiset, the two handles made "matched" and the pair was deleted)
FAULT_FIND_TWICE=1 assert_exit 1 capture "$T/twice.json" fault --json doctor \
	--token "$IMSS_TOKEN_URI" --try --type ec:prime256v1 --pin-source "file:$T/pin"
assert_eq "FAIL|failed" "$(jq -r '.checks[] | select(.name == "try:keygen:ec:prime256v1") |
	[.status, .result] | join("|")' "$T/twice.json")" "a handle listed twice: the key pair try fails"
assert_contains "$(jq -r '.checks[] | select(.name == "try:keygen:ec:prime256v1") | .text' \
	"$T/twice.json")" "are not exactly the ones the try made" "a handle listed twice: it says why"
left=$(listing | grep -c '|imss-renew-doctor-' || true)
assert_eq 2 "$left" "a handle listed twice: nothing deleted (the pair is left, for a look; last part of the test)"
