# shellcheck shell=bash
# Helpers for the bash test scripts.  Source it first:
#   . "$TESTS_DIR/lib/common.sh"
#   t_make_token "IMSS test"          # makes $T, a token, and $T/pin
#   assert_exit 0 "$IMSS_RENEW" ... --pin-source "file:$T/pin"
#
# ctest sets MAKE_TOKEN, SOFTHSM_TOKEN_INIT and SOFTHSM2_MODULE (see
# tests/CMakeLists.txt).  Set KEEP_TMP=1 to keep $T after the test.
set -euo pipefail

T_NAME=$(basename -- "$0" .sh)
USER_PIN=1234
SO_PIN=12345678
T=''

die() {
	printf '%s: FAIL: %s\n' "$T_NAME" "$*" >&2
	exit 1
}

# Make the per-test temp dir $T, removed on exit (unless KEEP_TMP=1).
t_tmpdir() {
	[[ -z $T ]] || return 0
	T=$(mktemp -d "${TMPDIR:-/tmp}/imss-$T_NAME.XXXXXX")
	trap t_cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

t_cleanup() {
	if [[ ${KEEP_TMP:-0} == 1 ]]; then
		printf '%s: kept %s\n' "$T_NAME" "$T" >&2
	elif [[ -n $T ]]; then
		rm -rf -- "$T"
	fi
}

# t_make_token LABEL: make a SoftHSM token in $T/softhsm (a second call adds
# another token to the same store) and export SOFTHSM2_CONF,
# IMSS_TOKEN_LABEL, IMSS_TOKEN_SERIAL, IMSS_TOKEN_URI and SOFTHSM2_MODULE.
# The user PIN goes to $T/pin (mode 600, no newline).
t_make_token() {
	local label=$1 out add=()
	: "${MAKE_TOKEN:?MAKE_TOKEN is not set (run the test through ctest)}"
	: "${SOFTHSM_TOKEN_INIT:?SOFTHSM_TOKEN_INIT is not set (run the test through ctest)}"
	t_tmpdir
	[[ ! -d $T/softhsm ]] || add=(--add)
	out=$(IMSS_USER_PIN=$USER_PIN IMSS_SO_PIN=$SO_PIN "$MAKE_TOKEN" \
		--dir "$T/softhsm" --label "$label" "${add[@]}" \
		--init-tool "$SOFTHSM_TOKEN_INIT" \
		--module "${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}") ||
		die "could not make token '$label'"
	eval "$out"
	(umask 077 && printf '%s' "$USER_PIN" >"$T/pin")
	chmod 600 "$T/pin"
}

# t_need PROG...: skip the test (exit 77) when an outside tool is missing.
t_need() {
	local prog
	for prog in "$@"; do
		command -v "$prog" >/dev/null || { echo "SKIP: $prog not found" >&2; exit 77; }
	done
}

# spki_key_identifier SPKI_DER: SHA-1 of the subjectPublicKey BIT STRING
# contents, without the unused-bits byte (RFC 5280 4.2.1.2, method 1), as
# keygen sets CKA_ID.
spki_key_identifier() {
	local line off hl len
	# "   19:d=1  hl=4 l= 271 prim: BIT STRING"
	line=$(openssl asn1parse -inform DER -in "$1" | grep -m1 'd=1 .*BIT STRING') ||
		die "no BIT STRING in $1"
	[[ $line =~ ^\ *([0-9]+):d=1\ +hl=\ *([0-9]+)\ +l=\ *([0-9]+) ]] ||
		die "cannot parse asn1parse line: $line"
	off=${BASH_REMATCH[1]} hl=${BASH_REMATCH[2]} len=${BASH_REMATCH[3]}
	tail -c +$((off + hl + 2)) "$1" | head -c $((len - 1)) |
		openssl dgst -sha1 -r | cut -d' ' -f1
}

# svc_serve ADDRESS [SERVE ARGS]: start "$IMSS_SERVICE serve --dir $D" on
# ADDRESS in the background (SVC_PID, output in $T/serve.out and
# $T/serve.log) and wait up to 10 s for the line in which it announces its
# address: SVC_LINE, '' when it exited or said nothing.
svc_serve() {
	local address=$1
	shift
	SVC_LINE=''
	# Made before the service starts: head must not race its creation
	# (under set -e a missing file ends the test).
	: >"$T/serve.out"
	"$IMSS_SERVICE" serve --dir "$D" --listen "$address" "$@" \
		>"$T/serve.out" 2>>"$T/serve.log" &
	SVC_PID=$!
	for _ in $(seq 200); do
		SVC_LINE=$(head -n1 "$T/serve.out")
		[[ -z $SVC_LINE ]] || break
		kill -0 "$SVC_PID" 2>/dev/null || break
		sleep 0.05
	done
}

# pin_name HOST:PORT: the file name of the CA pinned for that server, as
# the engine names state files (docs/design.md, "State file names"): a name
# with a byte outside [A-Za-z0-9._-] gets '~' and 16 hex digits of its SHA-256.
pin_name() {
	local safe=${1//[^A-Za-z0-9._-]/_}
	[[ $safe == "$1" ]] || safe+="~$(printf '%s' "$1" | sha256sum | cut -c1-16)"
	printf 'ca-%s.pem' "$safe"
}

# assert_eq EXPECTED GOT MSG
assert_eq() {
	[[ $1 == "$2" ]] ||
		die "$3: expected '$1', got '$2'"
	printf 'ok: %s\n' "$3"
}

# assert_contains HAYSTACK NEEDLE MSG
assert_contains() {
	[[ $1 == *"$2"* ]] ||
		die "$3: expected to contain '$2', got '$1'"
	printf 'ok: %s\n' "$3"
}

# assert_exit CODE CMD...: CMD must exit with CODE; its stderr goes to
# $T/stderr (and is shown on failure).
assert_exit() {
	local want=$1 got=0
	shift
	t_tmpdir
	"$@" 2>"$T/stderr" || got=$?
	if [[ $got != "$want" ]]; then
		cat "$T/stderr" >&2
		die "$*: expected exit $want, got $got"
	fi
	printf 'ok: exit %s: %s\n' "$got" "$*"
}

# assert_fail CMD...: CMD must exit non-zero; its stderr goes to $T/stderr.
assert_fail() {
	local got=0
	t_tmpdir
	"$@" 2>"$T/stderr" || got=$?
	if ((got == 0)); then
		cat "$T/stderr" >&2
		die "$*: expected a non-zero exit, got 0"
	fi
	printf 'ok: exit %s: %s\n' "$got" "$*"
}

# no_leak_check: LeakSanitizer off for what this test runs next (the
# sanitizer build): the caller says why; other tests check those paths.
no_leak_check() { export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0; }
