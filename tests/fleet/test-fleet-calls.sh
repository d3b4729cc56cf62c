#!/usr/bin/env bash
# fleet renew's PKCS#11 calls (issue 12): six employers whose current
# column names their key on the token the run opened for --token.  The
# token is opened once (one C_OpenSession, one C_Login: a key's URI on it
# is not opened again; the preflight asks no C_GetMechanismInfo: each
# employer's current EC P-256 key was made on this token), and
# the run costs a fixed part plus at most 19
# calls an employer (its renewal's 17 with EC keys, and the listing's one
# read of its certificate and of its key), whatever the fleet's size.
# Three employers with .pfx/.cer credentials then: one C_GetMechanismInfo
# for their run (asked once a token).
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$TESTS_DIR/fleet/lib.sh"

N=6
svc_init
svc_start
fleet_new "$N"
{
	echo registro_patronal,user,current
	tail -n +2 "$T/fleet.csv" | while IFS=, read -r rp user; do
		printf '%s,%s,pkcs11:token=IMSS;object=IMSS%%20%s;type=private\n' "$rp" "$user" "$rp"
	done
} >"$T/fleet-current.csv"
mv "$T/fleet-current.csv" "$T/fleet.csv"

rc=0
fleet_run renew --report "$T/report.json" >"$T/run.out" || rc=$?
[[ $rc == 0 ]] || { cat "$T/run.out" "$T/err" >&2; die "fleet renew: exit $rc"; }
assert_eq "$N" "$(jq .renewed "$T/report.json")" "every employer renewed"
assert_eq 1 "$(calls C_OpenSession)" "one C_OpenSession for the run"
assert_eq 1 "$(calls C_Login)" "one C_Login for the run"
assert_eq 0 "$(calls C_GetMechanismInfo)" "the preflight asks nothing: the current keys were made on the token"
total=$(wc -l <"$T/calls.log")
((total <= 20 + 19 * N)) || die "$total PKCS#11 calls for $N employers, over 20 + 19 each"
echo "ok: $total PKCS#11 calls for $N employers"

# Three employers whose current credentials are files: nothing on the token
# shows its key pair generation, so the preflight asks, once for the run.
printf 'registro_patronal,user,current,password_source,token\n' >"$T/fleet.csv"
fleet_add_file 7 pfx
fleet_add_file 8 pfx
fleet_add_file 9 cer
rc=0
fleet_run renew --report "$T/report.json" >"$T/run.out" || rc=$?
[[ $rc == 0 ]] || { cat "$T/run.out" "$T/err" >&2; die "fleet renew of files: exit $rc"; }
assert_eq 3 "$(jq .renewed "$T/report.json")" "files: every employer renewed"
assert_eq 1 "$(calls C_GetMechanismInfo)" "files: the preflight asks the token once for the run"
