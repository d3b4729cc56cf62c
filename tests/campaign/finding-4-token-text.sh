#!/usr/bin/env bash
# Review 4 leftover: what a token says about itself and its objects (token
# label, manufacturer, model, object labels) reached the terminal raw from
# `tokens`, `objects`, `doctor` and `status`: a token (or whoever labelled
# an object on it) could send escape sequences that retitle or clear the
# terminal.  Now each is printed with control characters as '?'; --json
# keeps the exact text, escaped.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
t_need jq pkcs11-tool
softhsm=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
esc=$'\e'
t_make_token $'IMSS\e[2J'
object_label=$'datos\e]0;hackeado\a'
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k.pem" \
	-outform DER -out "$T/c.der" -subj /CN=x -days 2 2>/dev/null || die "openssl req"
pkcs11-tool --module "$softhsm" --token-label $'IMSS\e[2J' --login --pin "$USER_PIN" \
	--write-object "$T/c.der" --type cert --id 01 --label "$object_label" >/dev/null 2>&1 ||
	die "could not write the certificate object"
tool() { "$IMSS_RENEW" --module "$softhsm" "$@"; }

tool --json tokens >"$T/tokens.json" || die "tokens --json failed"
uri=$(jq -r '.tokens[0].uri // .[0].uri // empty' "$T/tokens.json" 2>/dev/null)
[[ -n $uri ]] || uri=$(jq -r '.. | .uri? // empty' "$T/tokens.json" | head -1)
assert_eq $'IMSS\e[2J' "$(jq -r '.. | .label? // empty' "$T/tokens.json" | head -1)" \
	"tokens --json: the exact label"

# raw WHAT FILE: no ESC or BEL in FILE.
raw() { ! grep -q "[$esc"$'\a'"]" "$2" || die "$1: escape sequences reach the terminal: $(cat -v "$2")"; }

tool tokens >"$T/tokens.out" 2>&1 || die "tokens failed"
raw tokens "$T/tokens.out"
assert_contains "$(<"$T/tokens.out")" "IMSS?[2J" "tokens: the label shown with '?'"
tool objects --token "$uri" --login --pin-source "file:$T/pin" >"$T/objects.out" 2>&1 ||
	die "objects failed: $(cat -v "$T/objects.out")"
raw objects "$T/objects.out"
assert_contains "$(<"$T/objects.out")" "datos?]0;hackeado?" "objects: the label shown with '?'"
tool --json objects --token "$uri" --login --pin-source "file:$T/pin" >"$T/objects.json" ||
	die "objects --json failed"
assert_eq "$object_label" "$(jq -r '.. | .label? // empty' "$T/objects.json" | grep datos)" \
	"objects --json: the exact label"
rc=0
tool doctor --token "$uri" >"$T/doctor.out" 2>&1 || rc=$?
raw doctor "$T/doctor.out"
rc=0
tool status --token "$uri" >"$T/status.out" 2>&1 || rc=$?
raw status "$T/status.out"
echo "PASS"
