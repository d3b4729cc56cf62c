#!/usr/bin/env bash
# The renewal lock is per employer and token (issue 12, pipelined fleet):
# while another imss-renew renews employer A on a token (it holds
# STATE/token-TOKEN-A.lock exclusively and STATE/token-TOKEN.lock shared),
# fleet renew renews employer B on the same token and reports A as BUSY,
# naming the lock; the next run renews A.  A process holding the token's
# lock exclusively (an older imss-renew) still excludes every employer.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$TESTS_DIR/fleet/lib.sh"
t_need flock

svc_init
svc_start
fleet_new 2
a=${FLEET_RPS[0]} b=${FLEET_RPS[1]}
status_of() { jq -r --arg rp "$1" '.employers[] | select(.registro_patronal == $rp) | .status' "$T/report.json"; }

# -- a token-wide exclusive lock: nobody renews --------------------------
exec {tok_fd}>"$T/state/token-$IMSS_TOKEN_SERIAL.lock"
flock -x "$tok_fd"
rc=0
fleet_run renew --report "$T/report.json" {tok_fd}>&- >"$T/out0" || rc=$?
assert_eq 1 "$rc" "token locked exclusively: exit 1"
assert_eq 2 "$(jq .failed "$T/report.json")" "token locked exclusively: both employers wait"
assert_contains "$(<"$T/err")" "Another imss-renew is renewing on token 'IMSS'" "it says why"
exec {tok_fd}>&-

# -- employer A renewed by another process: B still renews ---------------
exec {tok_fd}>"$T/state/token-$IMSS_TOKEN_SERIAL.lock"
flock -s "$tok_fd"
exec {a_fd}>"$T/state/token-$IMSS_TOKEN_SERIAL-$a.lock"
flock -x "$a_fd"
rc=0
fleet_run renew --report "$T/report.json" {tok_fd}>&- {a_fd}>&- >"$T/out1" || rc=$?
assert_eq 1 "$rc" "employer A locked: exit 1 (A failed)"
assert_eq failed "$(status_of "$a")" "employer A locked: not renewed"
assert_eq BUSY "$(jq -r --arg rp "$a" '.employers[] | select(.registro_patronal == $rp) | .error' "$T/report.json")" \
	"employer A locked: BUSY"
assert_eq renewed "$(status_of "$b")" "employer B on the same token: renewed meanwhile"
assert_contains "$(<"$T/err")" "Another imss-renew is renewing employer $a on token 'IMSS'" \
	"it names the employer"
exec {a_fd}>&- {tok_fd}>&-

# -- the lock released: the next run renews A only ----------------------
rc=0
fleet_run renew --report "$T/report.json" >"$T/out2" || rc=$?
assert_eq 0 "$rc" "lock released: exit 0"
assert_eq renewed "$(status_of "$a")" "lock released: A renewed"
assert_eq not-due "$(status_of "$b")" "lock released: B not due any more"
echo "ok: fleet-lock"
