#!/usr/bin/env bash
# fleet renew (issue 12) with a service that issues later (--issue-delay):
# with --timeout 1 both employers' certificates are still pending, exit 12
# and the message says to run the same command again; run again once the
# service has issued them, the journals continue and both are renewed
# (no key generated again).
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$TESTS_DIR/fleet/lib.sh"

svc_init
svc_start --issue-delay 4
fleet_new 2

rc=0
fleet_run renew --timeout 1 --report "$T/report.json" >"$T/out1" || rc=$?
assert_eq 12 "$rc" "certificates not issued yet: exit 12"
assert_eq "pending pending" "$(jq -r '[.employers[].status] | join(" ")' "$T/report.json")" \
	"report: both pending"
assert_contains "$(<"$T/err")" "still pending; run the same command again later" \
	"the message says to run it again later"
sleep 5
rc=0
fleet_run renew --report "$T/report.json" >"$T/out2" || rc=$?
[[ $rc == 0 ]] || { cat "$T/out2" "$T/err" >&2; die "run after the delay: exit $rc"; }
assert_eq 2 "$(jq .renewed "$T/report.json")" "run after the delay: both renewed"
assert_eq 0 "$(calls C_GenerateKeyPair)" "run after the delay: no key generated again"
echo "PASS"
