#!/usr/bin/env bash
# Review 4, finding: the fields of a certificate (razón social in O,
# registro patronal in OU, the subject) reached the terminal and the
# journal of a systemd timer raw: a certificate file in a --cert directory
# whose O holds ESC ] 0 ; ... BEL ESC [ 2 J retitled and cleared the
# terminal of whoever ran `check` or `status` (and a C1 CSI or a bidi
# override went through the subject).  Now each control character, NUL
# and invalid UTF-8 byte of a field is a '?': the rest of the text stays.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
t_need openssl od jq
t_tmpdir

esc=$'\033' bel=$'\a' csi=$'\xc2\x9b' rlo=$'\xe2\x80\xae'
mkdir "$T/certs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k.pem" \
	-out "$T/certs/evil.pem" -days 400 -utf8 \
	-subj "/O=EVIL${esc}]0;pwned${bel}${esc}[2J SA/OU=Y1234567108/CN=x${csi}31m${rlo}cer.exe" \
	-addext basicConstraints=critical,CA:FALSE >/dev/null 2>&1 || die "openssl req"

# Bytes a terminal acts on: ESC, BEL, the C1 CSI (C2 9B) and RLO (E2 80 AE).
raw_controls() { od -An -tx1 -v "$1" | tr -s ' \n' '  ' | grep -Eo ' (1b|07) |c2 9b|e2 80 ae' | head -1 || :; }

for cmd in check status; do
	rc=0
	"$IMSS_RENEW" "$cmd" --cert "$T/certs" >"$T/$cmd.out" 2>"$T/$cmd.err" || rc=$?
	[[ $rc == 0 ]] || { cat "$T/$cmd.out" "$T/$cmd.err" >&2; die "$cmd: exit $rc"; }
	found=$(raw_controls "$T/$cmd.out")
	[[ -z $found ]] || die "$cmd prints the certificate's control bytes ($found) raw: $(od -c "$T/$cmd.out" | head -5)"
	grep -q 'EVIL' "$T/$cmd.out" || die "$cmd no longer shows the razón social: $(cat "$T/$cmd.out")"
done
"$IMSS_RENEW" --json check --cert "$T/certs" >"$T/check.json" || die "check --json"
assert_eq 'EVIL?]0;pwned??[2J SA' "$(jq -r '.certificates[0].razon_social' "$T/check.json")" \
	"check --json: the razón social with its control characters as '?'"
echo "PASS"
