#!/usr/bin/env bash
# Review 4, finding: a PKCS#11 URI carrying the PIN (`?pin-value=`, as
# p11-kit and OpenSC let one write it) was accepted, the PIN silently not
# used, and the URI repeated whole in messages: the PIN went to the
# terminal, the --json error, the systemd journal and (from a fleet file's
# token column) the fleet report and the notify command's input.  Now such
# a URI is refused, saying why, and never repeated.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
t_need jq
t_make_token IMSS
tool() { "$IMSS_RENEW" --module "${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}" "$@"; }
secret=PIN5150xyz

# no_secret WHAT FILE...: the PIN is in none of the files.
no_secret() {
	local what=$1
	shift
	! grep -q "$secret" "$@" || die "$what: the PIN of the URI is repeated: $(grep -h "$secret" "$@" | head -3)"
}

for uri in "pkcs11:token=IMSS?pin-value=$secret" "pkcs11:token=NINGUNO?pin-value=$secret" \
	"pkcs11:token=IMSS;desconocido=1?pin-value=$secret"; do
	rc=0
	tool --json objects --token "$uri" >"$T/objects.json" 2>"$T/objects.err" || rc=$?
	assert_eq 2 "$rc" "objects --token $uri: refused (exit 2)"
	no_secret "objects --json" "$T/objects.json" "$T/objects.err"
	assert_contains "$(<"$T/objects.err")" "pin-value" "objects: the message says why"
done
rc=0
tool check --token "pkcs11:token=IMSS?pin-value=$secret" >"$T/check.out" 2>"$T/check.err" || rc=$?
[[ $rc != 0 ]] || die "check with a PIN in the URI: exit 0"
no_secret "check" "$T/check.out" "$T/check.err"

printf 'registro_patronal,user,token\nY1234567108,EMPRESA01,pkcs11:token=IMSS?pin-value=%s\n' \
	"$secret" >"$T/fleet.csv"
rc=0
tool --json fleet check --file "$T/fleet.csv" --notify-command "cat >'$T/notify.json'" \
	>"$T/fleet.json" 2>"$T/fleet.err" || rc=$?
assert_eq 1 "$rc" "fleet check with a PIN in a token URI: exit 1"
assert_eq failed "$(jq -r '.employers[0].status' "$T/fleet.json")" "fleet check: the employer failed"
no_secret "fleet check" "$T/fleet.json" "$T/fleet.err" "$T/notify.json"
echo "PASS"
