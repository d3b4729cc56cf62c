#!/usr/bin/env bash
# fleet renew does not hold the token across a renewal's network
# exchanges (issue 12, fleet wall time): a renewal signs its login, letter
# and request with the token held for the signature alone, so another
# worker uses the token while the service answers.  Through a slow service
# (hostile-proxy "slow": every POST /renewal answered 3 s late), the two
# workers' submissions are under way at the same time; a renewal that held
# the token while it waited for the answer would make the other wait for
# the token, one submission after the other.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$TESTS_DIR/fleet/lib.sh"
[[ -x ${HOSTILE_PROXY:-} ]] || { echo "skip: hostile-proxy was not built"; exit 77; }

svc_init
svc_start
fleet_new 2
proxy_start --stall 3
printf 'slow renewal\n' >"$T/mode"
SVC_URL=$SERVER # the renewals go through the slow proxy

rc=0
fleet_run renew --jobs 2 --report "$T/report.json" >"$T/run.out" || rc=$?
assert_eq 0 "$rc" "both employers renewed through the slow service: $(<"$T/err")"
assert_eq 2 "$(jq .renewed "$T/report.json")" "two renewed"
# The proxy's log, in order: each slow answer's start, then its end.
events=$(sed -n 's#.*POST /idse/v1/renewal: .*answered as .slow.*#start#p; s#.*POST /idse/v1/renewal: slow answer sent#end#p' \
	"$T/proxy.log" | tr '\n' ' ')
assert_eq "start start end end " "$events" \
	"the second submission was under way before the first was answered (the token was free meanwhile)"
echo "ok: fleet-network"
