#!/usr/bin/env bash
# fleet check (issue 12) on a token holding hundreds of certificates, as a
# despacho's does: 600 certificates of others, then five employers'
# expired credentials.  Every employer is found (status "expired", exit
# 11): the list of the token's certificates is never cut short (it was, at
# 256 in SoftHSM's order of its files, so that all five were found only by
# chance, about once in a hundred runs).
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$TESTS_DIR/fleet/lib.sh"

svc_init
svc_start
fleet_new 0
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/other.key" \
	-subj '/O=OTRA/OU=X0000000000/CN=OTRA' -days 30 -outform DER -out "$T/other.der" 2>/dev/null ||
	die "openssl req"
for i in $(seq 600); do
	pkcs11-tool --module "$SOFTHSM" --token-label IMSS --login --pin "$USER_PIN" \
		--write-object "$T/other.der" --type cert --id "$(printf '%04x' "$i")" \
		--label "otra $i" >/dev/null 2>&1 || die "could not write certificate $i"
done
fleet_add 1 2 3 4 5
rc=0
fleet_run check --json >"$T/check.json" || rc=$?
assert_eq 11 "$rc" "fleet check: exit 11 (expired)"
assert_eq "expired expired expired expired expired" \
	"$(jq -r '[.employers[].status] | join(" ")' "$T/check.json")" "every employer found among 605 certificates"
echo "PASS"
