#!/usr/bin/env bash
# fleet renew (issue 12): five employers whose credentials are EXPIRED, all
# on one SoftHSM token, one fleet file.  One run renews every one with ONE
# C_Login for the whole run (counted by the fault module); each employer
# gets its new key and certificate next to it, verified by openssl against
# the service's CA; the --report file says so.  A second run renews nothing
# (no key generated), and fleet check then exits 0 with every employer ok
# (before the run it exits 11: expired).  A sixth employer's current
# credential is a .pfx named in the file's current column, its password
# from a password_source column: renewed in the same run, the same login.
# --notify-command gets the JSON summary (the --report document) when
# something expires or was renewed, and is not run when all is well.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$TESTS_DIR/fleet/lib.sh"

svc_init
svc_start
fleet_new 5
# The sixth: a .pfx, and the file with the columns current and
# password_source (in another order), empty for the others.
rp6=F0000000006
printf 'Clave00006' >"$T/secrets/$rp6.pass"
printf 'pfxpass06' >"$T/pfx6.pass"
"$IMSS_SERVICE" employer add --dir "$D" --registro-patronal "$rp6" \
	--razon-social "EMPRESA 6 SA DE CV" --rfc EPR010101AB1 --email "rh@$rp6.example.mx" \
	--user FLEET0006 --address 'Av. Reforma 1, CDMX' \
	--password-source "file:$T/secrets/$rp6.pass" >/dev/null || die "employer add $rp6"
"$IMSS_SERVICE" issue --dir "$D" --registro-patronal "$rp6" --expired --key-type ec:prime256v1 \
	--pfx "$T/old6.pfx" --pfx-password-source "file:$T/pfx6.pass" >/dev/null || die "issue --pfx $rp6"
{
	printf 'current,registro_patronal,password_source,user\n'
	tail -n +2 "$T/fleet.csv" | sed 's/^\([^,]*\),\(.*\)$/,\1,,\2/'
	printf '%s,%s,%s,FLEET0006\n' "$T/old6.pfx" "$rp6" "file:$T/pfx6.pass"
} >"$T/fleet6.csv"
mv "$T/fleet6.csv" "$T/fleet.csv"
FLEET_RPS+=("$rp6")

rc=0
fleet_run check --notify-command "cat >'$T/notify0.json'" >"$T/check0.out" || rc=$?
assert_eq 11 "$rc" "fleet check before: exit 11 (expired)"
assert_eq "6 11" "$(jq -r '"\(.expired) \(.exit)"' "$T/notify0.json")" \
	"fleet check --notify-command: the summary on its stdin (six expired)"

rc=0
fleet_run renew --report "$T/report.json" --notify-command "cat >'$T/notify1.json'" >"$T/out1" || rc=$?
[[ $rc == 0 ]] || { cat "$T/out1" "$T/err" >&2; die "first run: exit $rc"; }
assert_eq 1 "$(calls C_Login)" "first run: one C_Login for six employers"
assert_eq 6 "$(calls C_GenerateKeyPair)" "first run: six keys generated"
assert_eq 6 "$(jq '.renewed' "$T/report.json")" "report: six renewed (one from its .pfx)"
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
grep -q 'renewed: 6' "$T/out1" || die "no summary line: $(cat "$T/out1")"
assert_eq "$(jq -c . "$T/report.json")" "$(jq -c . "$T/notify1.json")" \
	"fleet renew --notify-command: the summary (as the report) on its stdin"
[[ ! -s $T/err ]] || die "first run: stderr not empty (not a terminal: no progress): $(cat "$T/err")"

rc=0
fleet_run renew --report "$T/report2.json" --notify-command "cat >'$T/notify2.json'" >"$T/out2" || rc=$?
[[ $rc == 0 ]] || { cat "$T/out2" "$T/err" >&2; die "second run: exit $rc"; }
assert_eq 0 "$(calls C_GenerateKeyPair)" "second run: no key generated"
assert_eq 6 "$(jq '.not_due' "$T/report2.json")" "second run: six not due"
[[ ! -e $T/notify2.json ]] || die "second run: notified although nothing was renewed or failed"

rc=0
fleet_run check --json --notify-command "cat >'$T/notify3.json'" >"$T/check.json" || rc=$?
[[ $rc == 0 ]] || { cat "$T/check.json" "$T/err" >&2; die "fleet check after the renewals: exit $rc"; }
assert_eq 6 "$(jq '.ok' "$T/check.json")" "fleet check: six ok"
[[ ! -e $T/notify3.json ]] || die "fleet check: notified although every certificate is ok"
assert_eq "$(jq -r '.employers[].new_serial' "$T/report.json")" \
	"$(jq -r '.employers[].serial' "$T/check.json")" "fleet check: every employer's certificate is the new one"
echo "PASS"
