#!/usr/bin/env bash
# Review 4, finding: a fleet file's row whose current column names ANOTHER
# employer's credential (a row copied from the line above with only the
# registro patronal changed) renewed that other employer and reported the
# row's employer as renewed: the report, the summary and the notify
# command said F0000000001 was renewed while its certificate was left to
# expire, and fleet check then called it ok.  Now the current credential
# must name the row's registro patronal (its OU): else the row fails,
# saying so, before anything is sent or made.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
rp1=F0000000001 rp2=F0000000002
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/../fleet/lib.sh
. "$TESTS_DIR/fleet/lib.sh"

svc_init
svc_start
fleet_new 0
for i in 1 2; do
	rp=$(printf 'F%010d' "$i")
	printf 'Clave0000%s' "$i" >"$T/secrets/$rp.pass"
	printf 'pfxpass0%s' "$i" >"$T/pfx$i.pass"
	"$IMSS_SERVICE" employer add --dir "$D" --registro-patronal "$rp" \
		--razon-social "EMPRESA $i SA DE CV" --rfc EPR010101AB1 --email "rh@$rp.example.mx" \
		--user "FLEET000$i" --address 'Av. Reforma 1, CDMX' \
		--password-source "file:$T/secrets/$rp.pass" >/dev/null || die "employer add $rp"
	"$IMSS_SERVICE" issue --dir "$D" --registro-patronal "$rp" --expired --key-type ec:prime256v1 \
		--pfx "$T/old$i.pfx" --pfx-password-source "file:$T/pfx$i.pass" >/dev/null || die "issue $rp"
done
# The mistake: the row of F0000000001 with the user and .pfx of employer 2
# (and the IDSE password that goes with them).
{
	printf 'registro_patronal,user,current,password_source,idse_password_source\n'
	printf '%s,FLEET0002,%s,file:%s,file:%s\n' "$rp1" "$T/old2.pfx" "$T/pfx2.pass" "$T/secrets/$rp2.pass"
} >"$T/fleet.csv"

rc=0
fleet_run check >"$T/check.out" || rc=$?
assert_eq 1 "$rc" "fleet check: exit 1 (the row's credential is another employer's)"
assert_contains "$(cat "$T/err")" "$rp2" "fleet check: the message names the credential's employer"

rc=0
fleet_run renew --report "$T/report.json" >"$T/renew.out" || rc=$?
assert_eq 1 "$rc" "fleet renew: exit 1 (the row failed)"
assert_eq failed "$(jq -r '.employers[0].status' "$T/report.json")" "report: the row failed"
assert_eq MISMATCH "$(jq -r '.employers[0].error' "$T/report.json")" "report: error MISMATCH"
assert_contains "$(jq -r '.employers[0].detail' "$T/report.json")" "$rp2" \
	"report: the detail names the employer of the credential"
assert_eq 0 "$(calls C_GenerateKeyPair)" "no key generated"
[[ -z $(ls "$T/state"/renew-* 2>/dev/null) ]] || die "a journal was written: $(ls "$T/state")"
echo "PASS"
