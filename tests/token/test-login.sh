#!/usr/bin/env bash
# Logging in, through imss-renew keygen and the fault module (FAULT_LOG
# counts the C_Login calls):
#  - a wrong PIN costs exactly one C_Login (never a retry) and makes no key;
#  - the token's PIN flags are honoured before any C_Login: final try is
#    refused without --force, a locked PIN even with it, few tries left
#    only warns; a PIN pad logs in without reading a PIN at all;
#  - the PIN sources file:, fd:N and env:NAME work; a malformed source is
#    a usage error (exit 2); a source that cannot be read fails before
#    any C_Login, with a message naming --pin-source;
#  - one whole keygen run makes exactly one C_Login.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
: "${FAULT_MODULE:?FAULT_MODULE is not set (run the test through ctest)}"
command -v jq >/dev/null || { echo "SKIP: jq not found"; exit 77; }

t_make_token "IMSS login"
(umask 077 && printf '%s' 9876 >"$T/wrong-pin")

export FAULT_PKCS11_REAL=$SOFTHSM2_MODULE
export FAULT_LOG=$T/fault.log

# fault CMD-ARGS...: imss-renew through the fault module, with a fresh log.
fault() { : >"$FAULT_LOG"; "$IMSS_RENEW" --module "$FAULT_MODULE" "$@"; }
# capture FILE CMD...: CMD with its stdout in FILE.
capture() { local file=$1; shift; "$@" >"$file"; }
# calls NAME: how many times the last fault run called NAME.
calls() { grep -c "^$1 " "$FAULT_LOG" || true; }
# keygen LABEL ARGS...: keygen on the test token, stdout in $T/out.
keygen() {
	local label=$1; shift
	capture "$T/out" fault keygen --token "$IMSS_TOKEN_URI" --label "$label" "$@"
}
# private_keys LABEL: private keys with that label, listed with the right PIN
# straight from SoftHSM (no faults).
private_keys() {
	"$IMSS_RENEW" --json --module "$SOFTHSM2_MODULE" objects --token "$IMSS_TOKEN_URI" \
		--pin-source "file:$T/pin" >"$T/objects.json" 2>"$T/objects.err" ||
		die "objects --login failed: $(<"$T/objects.err")"
	jq --arg l "$1" '[.objects[] | select(.class == "private-key" and .label == $l)] | length' \
		"$T/objects.json"
}
# warned: did the last command print a warning?
warned() { grep -q '^imss-renew: warning: ' "$T/stderr"; }

# --- A clean run first: one C_Login, no warning on a fresh token. -------------
assert_exit 0 keygen clean --pin-source "file:$T/pin"
assert_eq 1 "$(calls C_Login)" "a whole keygen run makes exactly one C_Login"
assert_eq 1 "$(calls C_GenerateKeyPair)" "the clean run generated one key pair"
! warned || die "a clean keygen warned: $(<"$T/stderr")"
echo "ok: a clean keygen gives no warning"
assert_eq 1 "$(private_keys clean)" "the clean run made its key"

# --- Few tries left: works, with a warning. ----------------------------------
FAULT_TOKEN_FLAGS=count_low assert_exit 0 keygen count-low --pin-source "file:$T/pin"
warned || die "count_low: no warning on stderr"
assert_contains "$(<"$T/stderr")" "few tries are left" "count_low: the warning says few tries are left"
assert_eq 1 "$(calls C_Login)" "count_low: one C_Login"
assert_contains "$(head -n 1 "$T/out")" "object=count-low;type=private" "count_low: the key URI is printed"
assert_eq 1 "$(private_keys count-low)" "count_low: the key was made"

# --- Wrong PIN: one C_Login, no retry, no key. -------------------------------
assert_exit 1 keygen wrong --pin-source "file:$T/wrong-pin"
assert_contains "$(<"$T/stderr")" "The PIN is incorrect" "wrong PIN: the error says so"
assert_contains "$(<"$T/stderr")" "C_Login" "wrong PIN: the detail names C_Login"
assert_contains "$(<"$T/stderr")" "CKR_PIN_INCORRECT" "wrong PIN: the detail names the return value"
[[ $(<"$T/stderr") != *9876* ]] || die "wrong PIN: the PIN appears in the message"
assert_eq 1 "$(calls C_Login)" "wrong PIN: exactly one C_Login, never a retry"
assert_eq 0 "$(calls C_GenerateKeyPair)" "wrong PIN: no C_GenerateKeyPair"
assert_eq "" "$(<"$T/out")" "wrong PIN: nothing on stdout"
assert_eq 0 "$(private_keys wrong)" "wrong PIN: no private key was made"
# The same in JSON mode: the error code is IMSS_ERR_PIN_INCORRECT.
assert_exit 1 capture "$T/err.json" fault --json keygen --token "$IMSS_TOKEN_URI" \
	--label wrong --pin-source "file:$T/wrong-pin"
assert_eq PIN_INCORRECT "$(jq -r .error.code "$T/err.json")" "wrong PIN: --json error code"
assert_eq 1 "$(calls C_Login)" "wrong PIN (--json): exactly one C_Login"

# --- Final try: refused without --force, before any C_Login. -----------------
FAULT_TOKEN_FLAGS=final_try assert_exit 1 keygen final --pin-source "file:$T/pin"
assert_contains "$(<"$T/stderr")" "--force" "final_try: the message names --force"
assert_contains "$(<"$T/stderr")" "one more PIN try" "final_try: the message says why"
assert_eq 0 "$(calls C_Login)" "final_try: no C_Login without --force"
assert_eq 0 "$(private_keys final)" "final_try: no key without --force"
FAULT_TOKEN_FLAGS=final_try assert_exit 1 capture "$T/err.json" fault --json keygen \
	--token "$IMSS_TOKEN_URI" --label final --pin-source "file:$T/pin"
assert_eq PIN_FINAL_TRY "$(jq -r .error.code "$T/err.json")" "final_try: --json error code"
# With --force it logs in (once) and works.
FAULT_TOKEN_FLAGS=final_try assert_exit 0 keygen final --pin-source "file:$T/pin" --force
assert_eq 1 "$(calls C_Login)" "final_try --force: one C_Login"
assert_eq 1 "$(private_keys final)" "final_try --force: the key was made"

# --- Locked: refused even with --force, before any C_Login. ------------------
for force in "" --force; do
	FAULT_TOKEN_FLAGS=locked assert_exit 1 keygen locked --pin-source "file:$T/pin" $force
	assert_contains "$(<"$T/stderr")" "PIN is locked" "locked ${force:-without --force}: the message says so"
	assert_contains "$(<"$T/stderr")" "Unlock it with the SO PIN" "locked ${force:-without --force}: the message says how to unlock"
	assert_eq 0 "$(calls C_Login)" "locked ${force:-without --force}: no C_Login"
done
FAULT_TOKEN_FLAGS=locked,final_try assert_exit 1 keygen locked --pin-source "file:$T/pin" --force
assert_eq 0 "$(calls C_Login)" "locked and final try, --force: no C_Login"
assert_eq 0 "$(private_keys locked)" "locked: no key was made"

# --- PIN pad: no PIN read at all, one C_Login. -------------------------------
FAULT_TOKEN_FLAGS=pinpad FAULT_PINPAD_PIN=$USER_PIN \
	assert_exit 0 keygen pinpad --pin-source file:/nonexistent
assert_eq 1 "$(calls C_Login)" "pinpad: exactly one C_Login"
assert_eq 1 "$(private_keys pinpad)" "pinpad: the key was made"
# A PIN "typed" wrong on the pad: still one C_Login, no retry.
FAULT_TOKEN_FLAGS=pinpad FAULT_PINPAD_PIN=9876 \
	assert_exit 1 keygen pinpad-wrong --pin-source file:/nonexistent
assert_contains "$(<"$T/stderr")" "The PIN is incorrect" "pinpad, wrong PIN: the error says so"
assert_eq 1 "$(calls C_Login)" "pinpad, wrong PIN: exactly one C_Login"

# --- PIN sources. ------------------------------------------------------------
assert_exit 0 keygen src-fd --pin-source fd:3 3<"$T/pin"
assert_eq 1 "$(calls C_Login)" "fd:3: one C_Login"
assert_eq 1 "$(private_keys src-fd)" "fd:3: the key was made"
# A PIN with a line end, from a pipe, as a script would pass it.
assert_exit 0 keygen src-fd-pipe --pin-source fd:3 3< <(printf '%s\n' "$USER_PIN")
assert_eq 1 "$(private_keys src-fd-pipe)" "fd:3 from a pipe, newline-terminated: the key was made"
IMSS_TEST_PIN=$USER_PIN assert_exit 0 keygen src-env --pin-source env:IMSS_TEST_PIN
assert_eq 1 "$(calls C_Login)" "env:NAME: one C_Login"
assert_eq 1 "$(private_keys src-env)" "env:NAME: the key was made"
(umask 077 && printf '%s\r\n' "$USER_PIN" >"$T/pin-crlf")
assert_exit 0 keygen src-crlf --pin-source "file:$T/pin-crlf"
assert_eq 1 "$(private_keys src-crlf)" "file: with a CRLF line end: the key was made"

# Malformed sources: usage errors, nothing tried.
for bad in bogus file: fd: fd:x fd:-1 env: "$USER_PIN"; do
	assert_exit 2 keygen bad --pin-source "$bad"
	assert_contains "$(<"$T/stderr")" "malformed --pin-source" "--pin-source '$bad' is a usage error"
	assert_eq 0 "$(calls C_Login)" "--pin-source '$bad': no C_Login"
done
[[ $(<"$T/stderr") != *"$USER_PIN"* ]] || die "a PIN typed as --pin-source is repeated in the message"
echo "ok: a PIN given as --pin-source is not echoed"

# Sources that cannot be read: a clear error, no C_Login.  (Tests may run as
# root, who reads any file: a missing file, a directory, a symbolic link
# (refused with O_NOFOLLOW), an empty file, an unset variable, a closed fd.)
mkdir "$T/pindir"
ln -s "$T/pin" "$T/pin-link"
: >"$T/pin-empty"
unset IMSS_UNSET_PIN
for src in "file:$T/missing" "file:$T/pindir" "file:$T/pin-link" "file:$T/pin-empty" \
	env:IMSS_UNSET_PIN fd:9; do
	assert_exit 1 keygen unreadable --pin-source "$src"
	assert_contains "$(<"$T/stderr")" "No PIN could be read from" "$src: the error says no PIN could be read"
	assert_contains "$(<"$T/stderr")" "--pin-source" "$src: the error names --pin-source"
	assert_eq 0 "$(calls C_Login)" "$src: no C_Login"
	assert_eq 0 "$(calls C_GenerateKeyPair)" "$src: no key generation"
done
assert_exit 1 keygen unreadable --pin-source "file:$T/missing"
assert_contains "$(<"$T/stderr")" "$T/missing" "a missing PIN file is named in the message"
assert_eq 0 "$(private_keys unreadable)" "unreadable sources made no key"

# Nothing made along the way but the keys asked for.
assert_eq 8 "$(jq '[.objects[] | select(.class == "private-key")] | length' "$T/objects.json")" \
	"eight private keys in all"

echo "PASS: $T_NAME"
