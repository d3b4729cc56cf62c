#!/usr/bin/env bash
# fleet renew (issue 12) when things go wrong:
#  - one employer's IDSE password file is wrong: the others are renewed,
#    the run exits 1 and the message counts the failure; the report names
#    the failing employer with PASSWORD_INCORRECT; with the password fixed
#    a second run renews only that one;
#  - kill -9 right after the third key pair was generated: the next run
#    completes every employer, adopting the key already made (one new key
#    per employer, never two);
#  - SIGTERM during a renewal: exit 130, the employers under way (one
#    per worker) interrupted, those after them not started; the next run
#    completes;
#  - a malformed fleet file (unknown column, duplicate registro patronal, a
#    bad value) is refused naming the line, before any token is touched.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$TESTS_DIR/fleet/lib.sh"

svc_init
svc_start
fleet_new 4

# -- a malformed file: nothing touched ---------------------------------
cp "$T/fleet.csv" "$T/good.csv"
bad_file() {
	local want=$1 rc=0
	fleet_run renew >"$T/bad.out" || rc=$?
	assert_eq 1 "$rc" "malformed file ($want): exit 1"
	assert_contains "$(<"$T/err")" "$want" "malformed file: the message says '$want'"
	assert_eq 0 "$(wc -l <"$T/calls.log")" "malformed file ($want): no PKCS#11 call"
}
{ printf 'registro_patronal,user,colour\n'; tail -n +2 "$T/good.csv" | sed 's/$/,red/'; } >"$T/fleet.csv"
bad_file "unknown column 'colour'"
{ cat "$T/good.csv"; sed -n 2p "$T/good.csv"; } >"$T/fleet.csv"
bad_file "line 6: the registro patronal ${FLEET_RPS[0]} is on line 2 too"
{ cat "$T/good.csv"; printf 'y1,FLEET0009\n'; } >"$T/fleet.csv"
bad_file "line 6: registro_patronal must be"
{ printf 'user,registro_patronal,email\n'; printf 'FLEET0001,%s,not-an-address\n' "${FLEET_RPS[0]}"; } >"$T/fleet.csv"
bad_file "line 2: email is not a valid"
cp "$T/good.csv" "$T/fleet.csv"

# -- one employer fails, the others are renewed ------------------------
bad=${FLEET_RPS[1]}
cp "$T/secrets/$bad.pass" "$T/right.pass"
printf 'Equivocada1' >"$T/secrets/$bad.pass"
rc=0
fleet_run renew --report "$T/report.json" \
	--notify-command "cat >'$T/notify.json'; echo mail server down; exit 3" >"$T/out1" || rc=$?
assert_eq 1 "$rc" "one wrong IDSE password: exit 1 (the notify command's own failure changes nothing)"
assert_contains "$(<"$T/err")" "the notify command failed (exit status 3); the result above stands" \
	"the notify command's failure is a warning"
assert_contains "$(<"$T/err")" "mail server down" "the notify command's output goes to stderr"
jq -e "$FLEET_RENEW_SHAPE" "$T/notify.json" >/dev/null ||
	die "--notify-command: not the documented summary: $(<"$T/notify.json")"
assert_eq "1 1 $bad PASSWORD_INCORRECT" \
	"$(jq -r '"\(.exit) \(.failed) " + (.employers[] | select(.status == "failed") | .registro_patronal + " " + .error)' "$T/notify.json")" \
	"--notify-command: the summary names the failed employer, its code, exit 1"
jq -e --arg rp "$bad" '.employers[] | select(.registro_patronal == $rp) | .detail | test("password"; "i")' \
	"$T/notify.json" >/dev/null || die "--notify-command: the failed employer's detail: $(<"$T/notify.json")"
assert_eq "$(jq -c . "$T/report.json")" "$(jq -c . "$T/notify.json")" "--notify-command: the report's document"
assert_contains "$(<"$T/err")" "1 of 4 employers failed" "the message counts the failures"
assert_eq 3 "$(jq .renewed "$T/report.json")" "the three others renewed"
assert_eq "$bad PASSWORD_INCORRECT" \
	"$(jq -r '.employers[] | select(.status == "failed") | .registro_patronal + " " + .error' "$T/report.json")" \
	"the report names the failing employer and why"
assert_eq 1 "$(calls C_Login)" "one C_Login, even with a failure"
cp "$T/right.pass" "$T/secrets/$bad.pass"
# On a terminal (script(1)): one line per employer with its step.
t_need script
fleet_args renew
rc=0
script -qec "$(printf '%q ' "$IMSS_RENEW" --module "$SOFTHSM" "${FLEET_ARGS[@]}" \
	--report "$T/report.json")" /dev/null </dev/null >"$T/tty.out" 2>&1 || rc=$?
assert_eq 0 "$rc" "password fixed: exit 0"
tr '\r' '\n' <"$T/tty.out" >"$T/tty.lines"
grep -q "^.*\[2/4\] $bad EMPRESA 2 SA DE CV: Generating the new" "$T/tty.lines" ||
	die "no progress line with the step on the terminal: $(cat "$T/tty.lines")"
grep -q "^.*\[1/4\] ${FLEET_RPS[0]} EMPRESA 1 SA DE CV: not-due" "$T/tty.lines" ||
	die "no progress line with the outcome on the terminal: $(cat "$T/tty.lines")"
printf 'ok: on a terminal, one line per employer with its step\n'
assert_eq "1 3" "$(jq -r '"\(.renewed) \(.not_due)"' "$T/report.json")" "only the failed employer renewed"

# -- kill -9 after the third key pair, then SIGTERM -----------------------
# Four more employers on the same token, their credentials expired.
fleet_add 5 6 7 8
rc=0
FAULT_KILL=C_GenerateKeyPair:2:after fleet_run renew >"$T/out3" || rc=$?
assert_eq 137 "$rc" "killed (-9) right after the second key of this run"
rc=0
FAULT_KILL=C_GenerateKeyPair:2 FAULT_KILL_SIGNAL=TERM fleet_run renew --report "$T/report.json" >"$T/out4" || rc=$?
assert_eq 130 "$rc" "SIGTERM during the next run: exit 130"
assert_contains "$(<"$T/err")" "run the same command again" "interrupted: says to run it again"
# One employer under way per worker (--jobs, default 3): each says so.
interrupted=$(jq .interrupted "$T/report.json")
((interrupted >= 1 && interrupted <= ${FLEET_JOBS:-3})) ||
	die "interrupted: the employers under way say so: $interrupted interrupted"
echo "ok: interrupted: the employers under way say so ($interrupted)"
rc=0
fleet_run renew --report "$T/report.json" --notify-command 'exit 7' >"$T/out5" || rc=$?
[[ $rc == 0 ]] || { cat "$T/out5" "$T/err" >&2; die "run after the kills: exit $rc"; }
assert_contains "$(<"$T/err")" "the notify command failed (exit status 7)" \
	"renewed, the notify command fails: a warning, exit 0"
assert_eq 0 "$(jq '.failed + .pending + .interrupted + .not_run' "$T/report.json")" "after the kills: every employer done"
"$IMSS_RENEW" --json --module "$SOFTHSM" objects --login --token "$IMSS_TOKEN_URI" \
	--pin-source "file:$T/pin" >"$T/objects.json" || die "objects --login"
for rp in $(cut -d, -f1 "$T/fleet.csv" | tail -n +2); do
	journal_file=$T/state/renew-$rp-$IMSS_TOKEN_SERIAL.json
	assert_eq "done" "$(jq -r .state "$journal_file")" "$rp: journal done"
	n=$(jq --arg rp "$rp" '[.objects[] | select(.class == "private-key" and (.label | contains($rp)))] | length' "$T/objects.json")
	assert_eq 2 "$n" "$rp: the old key and exactly one new key"
done
rc=0
fleet_run renew --report "$T/report.json" >"$T/out6" || rc=$?
assert_eq 0 "$rc" "once more: exit 0"
assert_eq 0 "$(calls C_GenerateKeyPair)" "once more: nothing renewed"
assert_eq 8 "$(jq .not_due "$T/report.json")" "once more: eight not due"
echo "PASS"
