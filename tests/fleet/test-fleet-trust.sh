#!/usr/bin/env bash
# Fleet's choice of an employer's current certificate when the file has no
# current column (safety finding 4): the newest certificate of that
# registro patronal on the token is taken only if it chains to the CA the
# renewal trusts (--ca, else the CA pinned for the server).  A newer,
# valid certificate with the same OU from another CA (its key beside it)
# is not taken: the expired genuine one is renewed.  Without --ca and
# without a pin nothing on the token is taken, and the run says so.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$TESTS_DIR/fleet/lib.sh"

svc_init
svc_start
fleet_new 1
rp=${FLEET_RPS[0]}

# Another CA issues the same employer a valid certificate on the token.
D2=$T/other-ca
"$IMSS_SERVICE" init --dir "$D2" --kdf-iterations 10000 >/dev/null || die "other CA init"
"$IMSS_SERVICE" employer add --dir "$D2" --registro-patronal "$rp" \
	--razon-social "EMPRESA 1 SA DE CV" --rfc EPR010101AB1 --email "rh@$rp.example.mx" \
	--user FLEET0001 --address 'Av. Reforma 1, CDMX' \
	--password-source "file:$T/secrets/$rp.pass" >/dev/null || die "other CA employer add"
"$IMSS_SERVICE" issue --dir "$D2" --registro-patronal "$rp" --key-type ec:prime256v1 \
	--token "$IMSS_TOKEN_URI" --module "$SOFTHSM" --pin-source "file:$T/pin" \
	--label "ROGUE $rp" >/dev/null || die "other CA issue"

status_of() { jq -r --arg rp "$rp" '.employers[] | select(.registro_patronal == $rp) | .status' "$1"; }

# -- no --ca and no pin: nothing on the token is taken --------------------
fleet_args renew
args=()
for ((i = 0; i < ${#FLEET_ARGS[@]}; i++)); do
	if [[ ${FLEET_ARGS[i]} == --ca ]]; then i=$((i + 1)); else args+=("${FLEET_ARGS[i]}"); fi
done
rc=0
"$IMSS_RENEW" --module "$FAULT_MODULE" "${args[@]}" --report "$T/report0.json" \
	>"$T/out0" 2>"$T/err0" || rc=$?
assert_eq 1 "$rc" "no trust known: exit 1"
assert_eq failed "$(status_of "$T/report0.json")" "no trust known: the employer is not renewed"
assert_contains "$(<"$T/err0")" "no CA to check the token's certificates against" "it says why"

# -- --ca: the other CA's certificate is skipped, the genuine one renewed --
rc=0
fleet_run renew --report "$T/report1.json" >"$T/out1" || rc=$?
[[ $rc == 0 ]] || { cat "$T/out1" "$T/err" >&2; die "fleet renew with --ca: exit $rc"; }
assert_eq renewed "$(status_of "$T/report1.json")" \
	"the expired certificate of the service's CA is renewed, not the other CA's"
assert_contains "$(<"$T/err")" "does not chain to the service's CA; it is not taken as current" \
	"the other CA's certificate is named as skipped"
echo "ok: fleet takes as current only a certificate that chains to the run's CA"
