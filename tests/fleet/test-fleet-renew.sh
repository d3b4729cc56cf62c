#!/usr/bin/env bash
# fleet renew (issue 12): five employers whose credentials are EXPIRED, all
# on one SoftHSM token, one fleet file.  One run renews every one with ONE
# C_Login for the whole run (counted by the fault module); each employer
# gets its new key and certificate next to it, verified by openssl against
# the service's CA; the --report file says so.  A second run renews nothing
# (no key generated), and fleet check then exits 0 with every employer ok.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$TESTS_DIR/fleet/lib.sh"

svc_init
svc_start
fleet_new 5

rc=0
fleet_run renew --report "$T/report.json" >"$T/out1" || rc=$?
[[ $rc == 0 ]] || { cat "$T/out1" "$T/err" >&2; die "first run: exit $rc"; }
assert_eq 1 "$(calls C_Login)" "first run: one C_Login for five employers"
assert_eq 5 "$(calls C_GenerateKeyPair)" "first run: five keys generated"
assert_eq 5 "$(jq '.renewed' "$T/report.json")" "report: five renewed"
assert_eq 0 "$(jq '.failed' "$T/report.json")" "report: none failed"
assert_eq "$(printf '%s\n' "${FLEET_RPS[@]}")" \
	"$(jq -r '.employers[] | select(.status == "renewed") | .registro_patronal' "$T/report.json")" \
	"report: every employer renewed, in file order"
for rp in "${FLEET_RPS[@]}"; do
	journal_file=$T/state/renew-$rp-$IMSS_TOKEN_SERIAL.json
	assert_eq "done" "$(jq -r .state "$journal_file")" "$rp: journal done"
	cert=$(jq -r .cert_path "$journal_file")
	openssl verify -CAfile "$D/ca.pem" "$cert" >/dev/null 2>&1 || die "$rp: openssl verify refuses $cert"
	subj=$(openssl x509 -inform DER -in "$cert" -noout -subject)
	assert_contains "$subj" "$rp" "$rp: the new certificate names the employer"
	serial=$(jq -r --arg rp "$rp" '.employers[] | select(.registro_patronal == $rp) | .new_serial' "$T/report.json")
	assert_eq "$(openssl x509 -inform DER -in "$cert" -noout -serial | cut -d= -f2 | tr A-F a-f)" \
		"$(tr A-F a-f <<<"$serial")" "$rp: the report names the new certificate"
done
grep -q 'renewed: 5' "$T/out1" || die "no summary line: $(cat "$T/out1")"
[[ ! -s $T/err ]] || die "first run: stderr not empty (not a terminal: no progress): $(cat "$T/err")"

rc=0
fleet_run renew --report "$T/report2.json" >"$T/out2" || rc=$?
[[ $rc == 0 ]] || { cat "$T/out2" "$T/err" >&2; die "second run: exit $rc"; }
assert_eq 0 "$(calls C_GenerateKeyPair)" "second run: no key generated"
assert_eq 5 "$(jq '.not_due' "$T/report2.json")" "second run: five not due"

rc=0
fleet_run check --json >"$T/check.json" || rc=$?
[[ $rc == 0 ]] || { cat "$T/check.json" "$T/err" >&2; die "fleet check after the renewals: exit $rc"; }
assert_eq 5 "$(jq '.ok' "$T/check.json")" "fleet check: five ok"
assert_eq "$(jq -r '.employers[].new_serial' "$T/report.json")" \
	"$(jq -r '.employers[].serial' "$T/check.json")" "fleet check: every employer's certificate is the new one"
echo "PASS"
