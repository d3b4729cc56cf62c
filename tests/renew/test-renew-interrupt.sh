#!/usr/bin/env bash
# Ctrl-C during renew (issue 10, Interface): SIGINT at a chosen PKCS#11 call
# of each step (the fault module sends it, FAULT_KILL_SIGNAL=INT; step 6,
# which signs nothing on the token, while it waits for the certificate) ends the
# run after that step with exit 130, a message naming the step in words,
# what is kept (the new key, the journal) and the command that continues;
# the journal says where it stopped; the same command then completes with
# the same key.  --json: one error line with code INTERRUPTED and exit 130.
# Also the questions nobody answers: a declined terms letter names
# --abandon for the key already made; with no terminal and no --yes the
# run says it needs --yes.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=tty-lib.sh
. "$TESTS_DIR/renew/tty-lib.sh"

svc_init
svc_start

# interrupt NAME CALL STEP STATE: SIGINT just before CALL (NAME:N); the run
# stops after STEP, the journal in STATE; then the same command completes.
interrupt() {
	local name=$1 call=$2 rc=0
	case_new "$name" token
	FAULT_KILL=$call FAULT_KILL_SIGNAL=INT renew_run >"$C/out.txt" || rc=$?
	assert_eq 130 "$rc" "$name: exit 130 after SIGINT at $call"
	stopped "$@"
}

# stopped NAME CALL STEP STATE: what an interrupted run said and kept; then
# the same command completes.
stopped() {
	local name=$1 step=$3 state=$4 key_id
	assert_contains "$(<"$C/err")" "imss-renew: Interrupted" "$name: the headline"
	assert_contains "$(<"$C/err")" "Interrupted after step $step (" "$name: names the step"
	assert_contains "$(<"$C/err")" "Run the same command again to continue" "$name: says how to continue"
	assert_contains "$(<"$C/err")" "--abandon" "$name: says how to undo"
	assert_eq "$state" "$(journal_state)" "$name: the journal says where it stopped"
	if [[ $step -ge 3 ]]; then
		assert_contains "$(<"$C/err")" "Kept: the new key 'IMSS $RP" "$name: names the key kept"
		assert_contains "$(<"$C/err")" "the journal $(journal)" "$name: names the journal"
		key_id=$(jq -r .key_id "$(journal)")
	fi
	renew_run >"$C/out.txt" || die "$name: the run after the interruption failed: $(<"$C/err")"
	check_renewed "$name"
	[[ $step -lt 3 ]] || assert_eq "$key_id" "$(jq -r .key_id "$(journal)")" "$name: the same key"
}

# Step 1 signs the login challenge with the current key (C_Sign 1), step 3
# makes the key, 4 signs the request with it, 5 signs the letter (binding
# the request).
interrupt login C_Sign:1 1 none
interrupt keygen C_GenerateKeyPair:1 3 key-generated
interrupt request C_Sign:2 4 request-built
interrupt letter C_Sign:3 5 letter-signed

# Step 6 signs nothing (the letter's signature binds the request): SIGINT
# while it waits for a certificate the service issues 4 s later.
svc_stop
svc_start --issue-delay 4
case_new submit token
renew_run >"$C/out.txt" &
bg=$!
for _ in $(seq 300); do [[ $(journal_state) == submitted ]] && break; sleep 0.05; done
assert_eq submitted "$(journal_state)" "submit: the request was sent"
kill -INT "$(pgrep -P "$bg" -x imss-renew)" || die "submit: no imss-renew to interrupt"
rc=0
wait "$bg" || rc=$?
assert_eq 130 "$rc" "submit: exit 130 after SIGINT while waiting"
stopped submit wait 5 submitted   # step 6 not finished: "after step 5"

# --json: the error is one line with its code and exit status.
case_new json token
rc=0
JSON=1 FAULT_KILL=C_GenerateKeyPair:1 FAULT_KILL_SIGNAL=INT renew_run >"$C/out.json" || rc=$?
assert_eq 130 "$rc" "json: exit 130"
line=$(grep '"error"' "$C/out.json") || die "json: no error line: $(<"$C/out.json")"
assert_eq "INTERRUPTED 130" "$(jq -r '.error.code + " " + (.error.exit | tostring)' <<<"$line")" "json: code and exit"

# === questions nobody answers ===================================================
command -v script >/dev/null || { echo "script is missing: the rest skipped" >&2; exit 0; }
case_new declined token
renew_args
unset 'RENEW_ARGS[-1]'   # --yes
CMD=$(printf '%q ' "$IMSS_RENEW" --module "$SOFTHSM" renew "${RENEW_ARGS[@]}")
tty_drive "$C/tty.txt" "$CMD" "E-mail for the new certificate" "" "[y/N]" n
assert_eq 1 "$TTY_RC" "declined: the run stops"
assert_contains "$(<"$C/tty.txt")" "Kept: the new key 'IMSS $RP" "declined: names the key made"
assert_contains "$(<"$C/tty.txt")" "imss-renew renew --abandon" "declined: says how to remove it"

case_new no-terminal token
renew_args
unset 'RENEW_ARGS[-1]'   # --yes
rc=0
setsid -w "$IMSS_RENEW" --module "$SOFTHSM" renew "${RENEW_ARGS[@]}" </dev/null >"$C/out.txt" 2>"$C/err" || rc=$?
assert_eq 1 "$rc" "no-terminal: the run stops"
[[ $(<"$C/err") != *"Stopped at the user's request"* ]] || die "no-terminal: says the user stopped it: $(<"$C/err")"
assert_contains "$(<"$C/err")" "there is no terminal" "no-terminal: says nobody could be asked"
assert_contains "$(<"$C/err")" "--yes" "no-terminal: says --yes is needed"

echo "$T_NAME: all passed"
