#!/usr/bin/env bash
# Review 4 leftover: state files were named with each byte outside
# [A-Za-z0-9._-] as '_', so employers 'X/Y' and 'X_Y' had one journal (and
# lock and request): `renew --abandon --registro-patronal X/Y` took up and
# undid the journal of employer X_Y.  Now a changed name gets '~' and a
# digest of the original (docs/design.md, "State file names"); a journal
# an older version left under the old name is still taken up, but only
# when it records this employer.  (Pins: unit-state-names.)
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
softhsm=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
t_make_token IMSS
mkdir -m 700 "$T/state"
old=$T/state/renew-X_Y-$IMSS_TOKEN_SERIAL.json # the old rule's name for X/Y and X_Y

# journal RP: an unfinished renewal of RP (logged in, nothing made) at $old.
journal() {
	printf '{ "version": 1, "state": "logged-in", "updated": 1, "server": "https://127.0.0.1:9",
	  "registro_patronal": "%s", "token_serial": "%s" }\n' "$1" "$IMSS_TOKEN_SERIAL" >"$old"
	chmod 600 "$old"
}
abandon() {
	rc=0
	"$IMSS_RENEW" --module "$softhsm" renew --abandon --registro-patronal "$1" \
		--token "pkcs11:token=IMSS" --pin-source "file:$T/pin" --state-dir "$T/state" \
		>"$T/out" 2>"$T/err" || rc=$?
}

journal X_Y # employer X_Y's
abandon X/Y
[[ $rc != 0 ]] || die "abandon X/Y: exit 0 (it took employer X_Y's journal): $(<"$T/err")"
assert_contains "$(<"$T/err")" "No unfinished renewal" "abandon X/Y: nothing of its own to undo"
assert_contains "$(cat "$old" 2>/dev/null)" '"X_Y"' "abandon X/Y: the journal of X_Y left as it was"

journal X/Y # left by an older version for X/Y under the old name
abandon X/Y
assert_eq 0 "$rc" "abandon X/Y: its journal under the old name is found: $(<"$T/err")"
[[ ! -e $old ]] || die "abandon X/Y: the old-named journal is still there"
echo "PASS"
