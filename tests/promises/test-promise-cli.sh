#!/usr/bin/env bash
# README and imss-renew(1) promises about the command line that the cli-*
# tests leave out:
#  - "Every command has --help with examples": every command --help lists
#    (check, renew and recover too), exit 0, a usage line and an example;
#  - "--pin is refused, with the reason" and usage errors exit 2 for renew,
#    recover and check as well, before any module is loaded;
#  - "registered with p11-kit, so imss-renew finds it without options; give
#    --module PATH to use one module only";
#  - "doctor ... Read-only: no login, nothing written", and exit status 1
#    for a verdict of FAIL;
#  - "tokens: URI, label, serial, flags, PIN state"; "objects --token URI
#    [--login]: keys and certificates with URI, type, size, ID, protection
#    flags", private keys only after login;
#  - "--verbose": the library's progress on stderr, nothing without it;
#  - "check" with no source: every token, no login; "The system's CA store
#    (p11-kit-trust), uninitialized tokens and CA certificates are not
#    checked" (through p11-kit, without --module: the trust store's CAs,
#    some of them expiring, would make it exit 10 or 11).
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
: "${FAULT_MODULE:?FAULT_MODULE is not set (run the test through ctest)}"
command -v jq >/dev/null || { echo "jq is missing: skipped" >&2; exit 77; }

t_make_token "IMSS promesas"
SOFTHSM=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
nomod=(--module "$T/no-such-module.so")
run() { "$IMSS_RENEW" "$@" >"$T/out"; }
# The same with every module p11-kit registers loaded: their leaks are not
# the tool's (tpm2-pkcs11 on a machine without a TPM leaks in its failed
# C_Initialize), so a sanitizer build does not count leaks there.
run_registered() {
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$IMSS_RENEW" "$@" >"$T/out"
}

# === --help of every command, with examples ====================================
assert_exit 0 run --help
commands=$(awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' "$T/out")
for cmd in check renew recover; do
	grep -qx "$cmd" <<<"$commands" || die "--help does not list $cmd: $commands"
done
for cmd in $commands; do
	assert_exit 0 run "${nomod[@]}" "$cmd" --help
	assert_contains "$(<"$T/out")" "Usage: imss-renew" "$cmd --help: a usage line"
	grep -q '^Example' "$T/out" || die "$cmd --help: no examples: $(<"$T/out")"
	grep -q "^  imss-renew .*$cmd" "$T/out" || die "$cmd --help: no example command line: $(<"$T/out")"
	echo "ok: $cmd --help has examples"
done

# === no PIN on the command line; usage errors exit 2 ===========================
renew=(renew --server https://127.0.0.1:1 --user U --current 'pkcs11:object=k;type=private'
	--token pkcs11:token=X)
recover=(recover --server https://127.0.0.1:1 --user U --current 'pkcs11:object=k;type=private'
	--token pkcs11:token=X --serial 01)
for args in "--pin 4321" "--pin=4321" "--pin"; do
	for cmd in renew recover check; do
		case $cmd in
		renew) base=("${renew[@]}") ;;
		recover) base=("${recover[@]}") ;;
		check) base=(check --token pkcs11:token=X) ;;
		esac
		# shellcheck disable=SC2086 # split on purpose
		assert_exit 2 run "${nomod[@]}" "${base[@]}" $args
		assert_contains "$(<"$T/stderr")" "--pin-source" "$cmd $args: refused, pointing to --pin-source"
		[[ $(<"$T/stderr")$(<"$T/out") != *4321* ]] || die "$cmd $args: the PIN is repeated"
	done
done
usage() {
	local what=$1
	shift
	assert_exit 2 run "${nomod[@]}" "$@"
	assert_eq "" "$(<"$T/out")" "$what: usage error, nothing on stdout"
}
usage "renew without --server" renew --user U --current pkcs11:object=k --token pkcs11:token=X
usage "renew without --token" renew --server https://127.0.0.1:1 --user U --current pkcs11:object=k
usage "renew without a current credential" renew --server https://127.0.0.1:1 --user U --token pkcs11:token=X
usage "renew with a malformed --type" "${renew[@]}" --type dsa:1024
usage "renew with a malformed --pin-source" "${renew[@]}" --pin-source secret
usage "renew with a malformed --idse-password-source" "${renew[@]}" --idse-password-source secret
usage "renew with a malformed --token URI" renew --server https://127.0.0.1:1 --user U \
	--current 'pkcs11:object=k;type=private' --token 'pkcs11:frobnicate=1'
usage "recover without --serial" "${recover[@]:0:${#recover[@]}-2}"
usage "check with a malformed --days" check --cert x.cer --days soon
usage "check with --cert and --token" check --cert x.cer --token pkcs11:token=X

# === modules: p11-kit's, or the one --module names ==============================
# The SoftHSM module is registered with p11-kit (softhsm2.module): the
# token is found without --module.
assert_exit 0 run_registered tokens
assert_contains "$(<"$T/out")" ";serial=$IMSS_TOKEN_SERIAL;token=IMSS%20promesas" "tokens without --module: the token's URI (p11-kit)"
assert_contains "$(<"$T/out")" "label:                IMSS promesas" "tokens: the label"
assert_contains "$(<"$T/out")" "serial:               $IMSS_TOKEN_SERIAL" "tokens: the serial"
assert_contains "$(<"$T/out")" "user PIN initialised" "tokens: the flags and PIN state"
all_modules=$(sed -n 's/^  module: *//p' "$T/out" | sort -u | tr '\n' ' ')
assert_exit 0 run --module "$SOFTHSM" tokens
assert_contains "$(<"$T/out")" ";token=IMSS%20promesas" "tokens --module: the token"
only=$(sed -n 's/^  module: *//p' "$T/out" | sort -u | tr '\n' ' ')
[[ $only != *p11-kit-trust* ]] || die "tokens --module: a token of another module: $only"
printf 'ok: modules without --module: %s; with --module: %s\n' "$all_modules" "$only"

# === doctor: read-only, exit 1 for FAIL ========================================
"$IMSS_RENEW" --module "$SOFTHSM" keygen --token "$IMSS_TOKEN_URI" --label promesa \
	--pin-source "file:$T/pin" >/dev/null 2>"$T/stderr" || die "keygen failed: $(<"$T/stderr")"
objects() { "$IMSS_RENEW" --json --module "$SOFTHSM" objects --login --token "$IMSS_TOKEN_URI" \
	--pin-source "file:$T/pin" | jq -c '.objects | sort_by(.uri)'; }
before=$(objects)
: >"$T/calls.log"
assert_exit 0 env FAULT_PKCS11_REAL="$SOFTHSM" FAULT_LOG="$T/calls.log" \
	"$IMSS_RENEW" --module "$FAULT_MODULE" doctor --token "$IMSS_TOKEN_URI"
grep -q '^C_GetTokenInfo ' "$T/calls.log" || die "doctor: the call log is empty"
writes=$(grep -E '^C_(Login|GenerateKey|GenerateKeyPair|CreateObject|CopyObject|SetAttributeValue|DestroyObject|InitToken|InitPIN|SetPIN|SeedRandom) ' \
	"$T/calls.log" | awk '{print $1}' | tr '\n' ' ' || true)
assert_eq "" "$writes" "doctor: no C_Login and no call that writes"
assert_eq "$before" "$(objects)" "doctor: the token's objects are as they were"
assert_exit 1 env FAULT_PKCS11_REAL="$SOFTHSM" FAULT_TOKEN_FLAGS=locked \
	"$IMSS_RENEW" --module "$FAULT_MODULE" doctor --token "$IMSS_TOKEN_URI"
echo "ok: doctor on a token with a locked PIN exits 1"

# === objects: URI, type, size, ID, flags; private keys after login =============
assert_exit 0 run --module "$SOFTHSM" objects --token "$IMSS_TOKEN_URI"
[[ $(<"$T/out") != *'Private key'* ]] || die "objects without --login shows a private key"
assert_contains "$(<"$T/out")" "Public key: pkcs11:" "objects without --login: the public key's URI"
assert_exit 0 run --module "$SOFTHSM" objects --token "$IMSS_TOKEN_URI" --login --pin-source "file:$T/pin"
out=$(<"$T/out")
assert_contains "$out" "Private key: pkcs11:" "objects --login: the private key's URI"
assert_contains "$out" "RSA 2048 bits" "objects --login: type and size"
id=$(jq -r '.objects[0].id' <<<"$("$IMSS_RENEW" --json --module "$SOFTHSM" objects --token "$IMSS_TOKEN_URI")")
assert_contains "$out" "ID:                   $id" "objects --login: the ID"
assert_contains "$out" "never extractable:    yes" "objects --login: the protection flags"

# === --verbose ===================================================================
assert_exit 0 run --module "$SOFTHSM" keygen --token "$IMSS_TOKEN_URI" --label quiet \
	--type ec:prime256v1 --pin-source "file:$T/pin"
assert_eq "" "$(<"$T/stderr")" "keygen without --verbose: nothing on stderr"
assert_exit 0 run --module "$SOFTHSM" --verbose keygen --token "$IMSS_TOKEN_URI" --label loud \
	--type ec:prime256v1 --pin-source "file:$T/pin"
assert_contains "$(<"$T/stderr")" "imss-renew: generating" "keygen --verbose: the library's progress on stderr"

# === check with no source: p11-kit's modules, the trust store skipped ============
# Nothing to check there is no success (issue 12): exit 1 with the reason.
assert_exit 1 run_registered check </dev/null
assert_eq "" "$(<"$T/out")" \
	"check without a source or --module: the system's CA store and the uninitialized slot are skipped"
[[ $(<"$T/stderr") =~ (No\ token\ was\ found|No\ initialized\ token|hold\ no\ employer\ certificate) ]] ||
	die "check with nothing to check: no reason given: $(<"$T/stderr")"
printf 'ok: check with nothing to check: exit 1 and the reason\n'

echo "$T_NAME: all passed"
