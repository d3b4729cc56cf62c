#!/usr/bin/env bash
# Crash safety of `imss-renew renew`: whatever stops a run, running the same
# command again ends with exactly one new key pair, its certificate stored
# with the same ID, the old credential intact and the journal "done".
#
#  (a) kill -9 at every PKCS#11 call of the flow, just before it reaches the
#      token and just after it returned (the fault module's FAULT_KILL);
#      the calls are those of one clean renewal (FAULT_LOG);
#  (b) each token call of the flow failed in turn: CKR_DEVICE_ERROR (that
#      call only) and CKR_DEVICE_REMOVED (that call and every later one, as
#      a token pulled out): the run fails with a clear message, or goes on
#      when the failure is of no consequence; never a second key, no orphan;
#  (c) the service stopped at each journal step: the client killed there,
#      a run against the stopped service fails clearly and changes nothing
#      (journal and token as they were), the service restarted on the same
#      address, the run completes;
#  (d) delayed issuance: kill -9 during the polling wait, and the service
#      stopped during it;
#  (e) (a) and (b) again around keygen with an RSA key.
# Every case has its own employer and token (case_new); one service serves
# them all (restarted on the same address where the case says so).
# CRASH_KEY_TYPE (default ec:prime256v1, the fastest keygen) is the new key
# of (a) to (d).
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=lib.sh
. "$TESTS_DIR/renew/lib.sh"

TYPE=${CRASH_KEY_TYPE:-ec:prime256v1}
failures=0
fail_soft() { printf '%s: FAIL: %s\n' "$T_NAME" "$*" >&2; failures=$((failures + 1)); }
# A check that dies ends only the case: run it in a subshell.
soft() { ("$@") || fail_soft "$*"; }

svc_init
svc_start
PORT=$(svc_port)

# --- the flow: one clean renewal, its PKCS#11 calls ------------------------------
case_new clean token
renew_run --type "$TYPE" >"$C/out.txt" || die "clean renewal failed: $(<"$C/err")"
check_renewed "clean renewal"
FLOW=$T/flow.calls
grep -v '^C_GetFunctionList ' "$C/calls.log" | awk '{ print $1 }' >"$FLOW"
N=$(wc -l <"$FLOW")
echo "The flow makes $N PKCS#11 calls: $(tr '\n' ' ' <"$FLOW")"

# call_at POS: "NAME K", the POS-th call of the flow ($FLOW) and its number
# among the calls of that function.
call_at() {
	local name
	name=$(sed -n "${1}p" "$FLOW")
	printf '%s %s' "$name" "$(head -n "$1" "$FLOW" | grep -cx "$name")"
}

# rerun_renews WHAT: a rerun completes the renewal (status 0); else a soft
# failure naming WHAT (status 1).
rerun_renews() {
	local what=$1 rc=0
	renew_run --type "$TYPE" >"$C/rerun.txt" || rc=$?
	[[ $rc == 0 ]] || { fail_soft "$what: the rerun failed: $(<"$C/err")"; return 1; }
	(check_renewed "$what, then rerun") || { fail_soft "$what, then rerun"; return 1; }
}

# --- (a) kill -9 at every call, before and after ---------------------------------
declare -A first_kill=()     # journal state after the kill -> "POS WHEN"
kill_case() {
	local pos=$1 when=$2 name k rc=0 state
	read -r name k <<<"$(call_at "$pos")"
	case_new "kill-${TYPE//:/-}-$pos-$when" token
	FAULT_KILL=$name:$k:$when renew_run --type "$TYPE" >"$C/out.txt" || rc=$?
	[[ $rc == 137 ]] || { fail_soft "kill $when $name #$k: exit $rc, not killed: $(<"$C/err")"; return; }
	state=$(journal_state)
	[[ -n ${first_kill[$state]:-} ]] || first_kill[$state]="$pos $when"
	# Killed before a certificate was stored: only the candidate key may be new.
	case $state in
	none | logged-in | keygen-started | key-generated | request-built | letter-signed | submit-started | submitted | certificate-received)
		soft check_candidate_only "kill $when $name #$k" ;;
	esac
	rerun_renews "kill $when $name #$k (journal '$state')" || return
	# After the journal said done, the rerun renews nothing again.
	[[ $state != done ]] || grep -q 'was renewed already' "$C/rerun.txt" ||
		fail_soft "kill $when $name #$k (journal done): the rerun does not say it was done"
	printf 'ok: kill -9 %-6s call %2d %-22s journal %-22s -> rerun done\n' "$when" "$pos" "$name" "'$state'"
}
echo "== (a) kill -9 at every call, $TYPE [${SECONDS}s]"
for ((pos = 1; pos <= N; pos++)); do
	kill_case "$pos" before
	kill_case "$pos" after
done

# --- (b) each token call failed in turn ------------------------------------------
TOKEN_FUNCTIONS=$(grep -vx -e C_Initialize -e C_Finalize "$FLOW" | sort -u)
# removed_rules POS: every token call from the POS-th on fails (token pulled).
removed_rules() {
	local pos=$1 f n rules=()
	for f in $TOKEN_FUNCTIONS; do
		n=$(head -n $((pos - 1)) "$FLOW" | grep -cx "$f" || true)
		rules+=("$f:$((n + 1))+:CKR_DEVICE_REMOVED")
	done
	(IFS=,; printf '%s' "${rules[*]}")
}
fault_case() {
	local pos=$1 rv=$2 name k rc=0 state rules what
	read -r name k <<<"$(call_at "$pos")"
	[[ $name != C_Initialize && $name != C_Finalize ]] || return 0
	if [[ $rv == CKR_DEVICE_REMOVED ]]; then rules=$(removed_rules "$pos"); else rules=$name:$k:$rv; fi
	what="$rv at call $pos ($name #$k)"
	case_new "fail-${TYPE//:/-}-$pos-$rv" token
	FAULT_FAIL=$rules renew_run --type "$TYPE" >"$C/out.txt" || rc=$?
	state=$(journal_state)
	if [[ $rc == 0 ]]; then
		outcome="run went on (no consequence)"
		[[ $state == done ]] || { fail_soft "$what: exit 0 but journal '$state'"; return; }
	elif [[ $rc == 1 ]]; then
		outcome="run failed, journal '$state'"
		# A clear message: what happened to the token, what to do.
		if [[ $rv == CKR_DEVICE_REMOVED ]]; then
			# "the token was removed; insert it again and re-run the command",
			# or, when it is gone before it was opened, "Is the token plugged in?"
			grep -Eqi 'the token was removed; insert it again|Is the token plugged in' "$C/err" ||
				fail_soft "$what: unclear message: $(<"$C/err")"
		else
			grep -q "$rv" "$C/err" || fail_soft "$what: the message does not name $rv: $(<"$C/err")"
		fi
		# Never a second key; a new key is the journal's candidate (no orphan).
		objects_json "$C/objects.json"
		keys=$(new_objects "$C/objects.json" | jq -c '[.[] | select(.class == "private-key")]')
		[[ $(jq length <<<"$keys") -le 1 ]] || fail_soft "$what: more than one new key"
		[[ $(jq length <<<"$keys") == 0 || $(jq -r '.[0].label' <<<"$keys") == "$(jq -r .key_label "$(journal)" 2>/dev/null)" ]] ||
			fail_soft "$what: a new key the journal does not name: $(brief "$keys")"
	else
		fail_soft "$what: exit $rc: $(<"$C/err")"
		return
	fi
	# A failed C_GenerateKeyPair with a session public key is tried again
	# with a token public key (Invariants, 10): that pair keeps its public
	# key object.
	local expect_public=
	[[ $rc != 0 || $name != C_GenerateKeyPair ]] || expect_public=1
	EXPECT_PUBLIC_KEY=$expect_public rerun_renews "$what ($outcome)" || return
	printf 'ok: %-18s at call %2d %-22s %s -> rerun done\n' "$rv" "$pos" "$name" "$outcome"
}
echo "== (b) each token call failed, $TYPE [${SECONDS}s]"
for ((pos = 1; pos <= N; pos++)); do
	fault_case "$pos" CKR_DEVICE_ERROR
	fault_case "$pos" CKR_DEVICE_REMOVED
done

# --- (c) the service stopped at each journal step --------------------------------
# For each journal state a kill left in (a), its first kill point again; then
# the service is stopped, a run fails and changes nothing; the service is
# started again on the same address and the run completes.
service_case() {
	local state=$1 pos when name k rc=0
	read -r pos when <<<"${first_kill[$state]}"
	read -r name k <<<"$(call_at "$pos")"
	case_new "svc-$pos-$when" token
	FAULT_KILL=$name:$k:$when renew_run --type "$TYPE" >"$C/out.txt" || rc=$?
	[[ $rc == 137 && $(journal_state) == "$state" ]] ||
		{ fail_soft "service down at '$state': the kill did not leave it (exit $rc, '$(journal_state)')"; return; }
	[[ ! -e $(journal) ]] || cp "$(journal)" "$C/journal.before"
	objects_json "$C/objects.before"
	svc_stop
	rc=0
	renew_run --type "$TYPE" >"$C/down.txt" || rc=$?
	svc_start_on "$PORT"
	if [[ $rc != 1 ]]; then
		fail_soft "service down at '$state': exit $rc, expected 1: $(<"$C/err")"
		return
	fi
	grep -q "Cannot reach $SVC_URL" "$C/err" || fail_soft "service down at '$state': unclear message: $(<"$C/err")"
	if [[ -e $C/journal.before ]]; then
		cmp -s "$C/journal.before" "$(journal)" || fail_soft "service down at '$state': the journal changed"
	else
		[[ ! -e $(journal) ]] || fail_soft "service down at '$state': a journal appeared"
	fi
	objects_json "$C/objects.after"
	[[ $(jq -c '.objects | sort_by(.uri)' "$C/objects.before") == "$(jq -c '.objects | sort_by(.uri)' "$C/objects.after")" ]] ||
		fail_soft "service down at '$state': the token changed"
	rerun_renews "service down at '$state', restarted" || return
	printf 'ok: service down at journal %-22s (kill %s call %d %s): run fails, nothing changed; restarted -> done\n' \
		"'$state'" "$when" "$pos" "$name"
}
echo "== (c) the service stopped at each journal step [${SECONDS}s]"
for state in "${!first_kill[@]}"; do
	service_case "$state"
done

# --- (d) delayed issuance: the wait interrupted ----------------------------------
echo "== (d) delayed issuance [${SECONDS}s]"
svc_stop
svc_start_on "$PORT" --issue-delay 4
# wait_submitted PID: until the background run's journal says submitted.
wait_submitted() {
	for _ in $(seq 200); do
		[[ $(journal_state) != submitted ]] || return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
# run_until_submitted CASE WHAT: a new case CASE whose renewal runs in the
# background (its PID in pid) until its journal says submitted.
run_until_submitted() {
	case_new "$1" token
	renew_args
	"$IMSS_RENEW" --module "$SOFTHSM" renew "${RENEW_ARGS[@]}" --type "$TYPE" >"$C/out.txt" 2>"$C/err" &
	pid=$!
	BG_PIDS+=("$pid")
	wait_submitted "$pid" || die "$2: the run never reached 'submitted': $(<"$C/err")"
}
# kill -9 during the countdown; the rerun asks for the same request again.
run_until_submitted poll-kill "polling, kill"
sleep 1
kill -KILL "$pid"
wait "$pid" 2>/dev/null || :
assert_eq submitted "$(journal_state)" "polling, kill -9 during the wait: journal 'submitted'"
renew_run --type "$TYPE" >"$C/rerun.txt" || die "polling, kill: the rerun failed: $(<"$C/err")"
grep -q 'Asking again for request' "$C/rerun.txt" || die "polling, kill: the rerun did not poll the same request"
check_renewed "polling, kill -9 during the wait, rerun"
echo "ok: kill -9 during the polling wait -> rerun polls the same request -> done"
# The service stopped during the countdown: the run fails, the journal keeps
# the request; the service restarted (it issues what fell due), rerun done.
run_until_submitted poll-down "polling, service down"
svc_stop
rc=0
wait "$pid" || rc=$?
assert_eq 1 "$rc" "polling, service stopped during the wait: the run fails"
assert_contains "$(<"$C/err")" "Cannot reach" "polling, service stopped: it says the service cannot be reached"
assert_eq submitted "$(journal_state)" "polling, service stopped: the journal keeps the request"
svc_start_on "$PORT" --issue-delay 4
renew_run --type "$TYPE" >"$C/rerun.txt" || die "polling, service down: the rerun failed: $(<"$C/err")"
check_renewed "polling, service stopped during the wait, restarted, rerun"
echo "ok: service stopped during the polling wait -> run fails -> restarted -> rerun done"
svc_stop
svc_start_on "$PORT"

# --- (e) keygen cut short, with an RSA key ---------------------------------------
# An RSA private key is found without its public object, so a pair left on
# two IDs (private key renamed, public key not yet) shows only in the IDs:
# (a) and (b) again with rsa:2048 from C_GenerateKeyPair to the request.
TYPE=rsa:2048
case_new clean-rsa token
renew_run --type "$TYPE" >"$C/out.txt" || die "clean RSA renewal failed: $(<"$C/err")"
check_renewed "clean RSA renewal"
FLOW=$T/flow-rsa.calls
grep -v '^C_GetFunctionList ' "$C/calls.log" | awk '{ print $1 }' >"$FLOW"
TOKEN_FUNCTIONS=$(grep -vx -e C_Initialize -e C_Finalize "$FLOW" | sort -u)
first=$(grep -nx C_GenerateKeyPair "$FLOW" | cut -d: -f1)
last=$(awk -v f="$first" 'NR > f && $1 == "C_SignInit" { print NR; exit }' "$FLOW")
[[ -n $first && -n $last ]] || die "no keygen in the RSA flow: $(tr '\n' ' ' <"$FLOW")"
echo "== (e) around keygen, $TYPE [${SECONDS}s]"
for ((pos = first; pos <= last; pos++)); do
	kill_case "$pos" before
	kill_case "$pos" after
	fault_case "$pos" CKR_DEVICE_ERROR
	fault_case "$pos" CKR_DEVICE_REMOVED
done

echo "Boundaries covered: $N calls x (kill before, kill after, CKR_DEVICE_ERROR, CKR_DEVICE_REMOVED);"
echo "with rsa:2048, calls $first to $last of its flow (keygen to the request) the same way;"
echo "journal states left by a kill: ${!first_kill[*]}"
((failures == 0)) || die "$failures case(s) failed"
echo "$T_NAME: all passed ($N_CASES cases, ${SECONDS}s)"
