#!/usr/bin/env bash
# Issue 12, "flat with the number of objects": a renewal makes as many
# PKCS#11 calls on a token that holds 40 other employers' credentials
# (120 more objects) as on one that holds only its own, and no more than
# the call budget (docs/design.md, "Call budget": 26 for a new RSA key,
# the default, with an EC current key on the token: another kind, so the
# preflight asks).  Listing a token's certificates with their keys
# (check --login) costs one C_GetAttributeValue per certificate and
# per private key, plus a fixed part, not a search per certificate.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=lib.sh
. "$TESTS_DIR/renew/lib.sh"

OTHERS=40
svc_init
svc_start

case_new small token
renew_run >"$C/out.txt" || die "small: renew failed: $(<"$C/err")"
check_renewed "small"
small=$(wc -l <"$C/calls.log")

case_new big token
for ((i = 1; i <= OTHERS; i++)); do
	rp=$(printf 'O%010d' "$i")
	"$IMSS_SERVICE" employer add --dir "$D" --registro-patronal "$rp" \
		--razon-social "OTRA $i SA DE CV" --rfc EPR010101AB1 --email "rh@$rp.example.mx" \
		--user "$(printf 'OTRA%06d' "$i")" --password-source "file:$T/idse.pass" >/dev/null ||
		die "employer add $rp"
	"$IMSS_SERVICE" issue --dir "$D" --registro-patronal "$rp" --expired \
		--key-type ec:prime256v1 --token "$TOKEN_URI" --module "$SOFTHSM" \
		--pin-source "file:$T/pin" --label "IMSS $rp" >/dev/null || die "issue $rp"
done
renew_run >"$C/out.txt" || die "big: renew failed: $(<"$C/err")"
assert_eq done "$(jq -r .state "$(journal)")" "big: journal done"
openssl verify -CAfile "$D/ca.pem" "$(jq -r .cert_path "$(journal)")" >/dev/null 2>&1 ||
	die "big: openssl verify refuses the new certificate"
big=$(wc -l <"$C/calls.log")
assert_eq "$small" "$big" "renew: the same calls with 3 and with $((3 * OTHERS + 3)) objects on the token"
((big <= 26)) || die "renew: $big PKCS#11 calls, over the budget of 26 (docs/design.md)"
echo "ok: renew: $big calls, within the budget"

objects_json "$C/objects.json"
certs=$(jq '[.objects[] | select(.class == "certificate")] | length' "$C/objects.json")
keys=$(jq '[.objects[] | select(.class == "private-key")] | length' "$C/objects.json")
: >"$C/calls.log"
FAULT_LOG=$C/calls.log "$IMSS_RENEW" --module "$FAULT_MODULE" check --token "$TOKEN_URI" --login \
	--pin-source "file:$T/pin" >"$C/check.out" 2>"$C/err" || :
grep -q "$(printf 'O%010d' "$OTHERS")" "$C/check.out" || die "check does not list the others: $(<"$C/check.out")"
listed=$(wc -l <"$C/calls.log")
((listed <= certs + keys + 24)) ||
	die "check --login: $listed calls for $certs certificates and $keys keys (more than one read each and 24)"
echo "ok: check --login: $listed calls for $certs certificates and $keys keys"
