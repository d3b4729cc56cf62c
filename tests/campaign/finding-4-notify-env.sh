#!/usr/bin/env bash
# Review 4, finding: fleet renew's --idse-password-source and
# --password-source (and the fleet file's idse_password_source and
# password_source columns) with env:NAME put the IDSE and .pfx passwords in
# the environment of --notify-command, which README promises lacks "the
# variables of env: secret sources".  Only --pin-source was withheld.
# Here every secret but the PIN comes from the environment; the notify
# command dumps its environment: none of those variables, and none of the
# passwords, may be in it.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/../fleet/lib.sh
. "$TESTS_DIR/fleet/lib.sh"

svc_init
svc_start
fleet_new 2
# The second employer's current credential is a .pfx whose password comes
# from a variable named in the file's password_source column, its IDSE
# password from a variable named in its idse_password_source column.
rp1=${FLEET_RPS[0]} rp2=F0000000009
printf 'Clave00009' >"$T/secrets/$rp2.pass"
"$IMSS_SERVICE" employer add --dir "$D" --registro-patronal "$rp2" \
	--razon-social "EMPRESA 9 SA DE CV" --rfc EPR010101AB1 --email "rh@$rp2.example.mx" \
	--user FLEET0009 --address 'Av. Reforma 1, CDMX' \
	--password-source "file:$T/secrets/$rp2.pass" >/dev/null || die "employer add $rp2"
printf 'pfxpass09' >"$T/pfx9.pass"
"$IMSS_SERVICE" issue --dir "$D" --registro-patronal "$rp2" --expired --key-type ec:prime256v1 \
	--pfx "$T/old9.pfx" --pfx-password-source "file:$T/pfx9.pass" >/dev/null || die "issue --pfx $rp2"
{
	printf 'registro_patronal,user,current,idse_password_source,password_source\n'
	printf '%s,FLEET0001,,,\n' "$rp1"
	printf '%s,FLEET0009,%s,env:ROW_IDSE_PASS,env:ROW_PFX_PASS\n' "$rp2" "$T/old9.pfx"
} >"$T/fleet.csv"

rc=0
OPT_IDSE_PASS=$(cat "$T/secrets/$rp1.pass") ROW_IDSE_PASS=Clave00009 ROW_PFX_PASS=pfxpass09 \
	"$IMSS_RENEW" --module "$SOFTHSM" fleet renew --file "$T/fleet.csv" \
	--token "$IMSS_TOKEN_URI" --pin-source "file:$T/pin" --server "$SVC_URL" --ca "$D/ca.pem" \
	--type ec:prime256v1 --idse-password-source env:OPT_IDSE_PASS --state-dir "$T/state" \
	--out-dir "$T/out" --yes --notify-command "env >'$T/notify.env'" >"$T/out1" 2>"$T/err" || rc=$?
no_sanitizer_report "$T/err"
[[ $rc == 0 ]] || { cat "$T/out1" "$T/err" >&2; die "fleet renew: exit $rc"; }
[[ -s $T/notify.env ]] || die "the notify command did not run"
for var in OPT_IDSE_PASS ROW_IDSE_PASS ROW_PFX_PASS; do
	! grep -q "^$var=" "$T/notify.env" || die "the notify command's environment has $var (a secret source)"
done
for secret in Clave00001 Clave00009 pfxpass09; do
	! grep -q "$secret" "$T/notify.env" || die "the notify command's environment holds the secret $secret"
done

# More env: sources than can be noted (17 rows, each its own variable):
# the command is not run rather than run with one of them.
{
	printf 'registro_patronal,user,current,password_source\n'
	for i in $(seq 17); do printf 'G%010d,U%d,%s/none%d.pfx,env:PFX_PASS_%d\n' "$i" "$i" "$T" "$i" "$i"; done
} >"$T/many.csv"
rm -f "$T/notify.env"
rc=0
PFX_PASS_17=secret17 "$IMSS_RENEW" --module "$SOFTHSM" fleet check --file "$T/many.csv" \
	--token "$IMSS_TOKEN_URI" --notify-command "env >'$T/notify.env'" >"$T/out2" 2>"$T/err" || rc=$?
assert_eq 1 "$rc" "fleet check of 17 missing .pfx: exit 1"
[[ ! -e $T/notify.env ]] || ! grep -q PFX_PASS_17 "$T/notify.env" ||
	die "the notify command's environment has PFX_PASS_17 (the 17th env: source)"
grep -q 'notify command was not run' "$T/err" || die "no warning that the notify command was not run: $(cat "$T/err")"
echo "PASS"
