#!/usr/bin/env bash
# README promises about interrupted renewals that tests/renew does not
# cover:
#  - "A corrupt journal stops the run with a message; it is never taken as
#    empty": a journal cut short, emptied, or not JSON stops the run (exit
#    1, the message names the journal), the journal and the token stay as
#    they were (no second key); the journal put back, the run completes;
#  - "--timeout (how long to wait for a delayed certificate)" and "After
#    ... a certificate not issued in time, run the same command again": a
#    run with --timeout 1 against a service that issues 6 s later gives up
#    well before, non-zero, with the journal at 'submitted' and nothing
#    stored; the same command run again once the certificate is due
#    completes with the same key, never a second one.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"

svc_init
svc_start

# objects_summary FILE: the token's objects, in a stable order.
objects_summary() { objects_json "$C/objects.json"; jq -c '.objects | sort_by(.uri)' "$C/objects.json" >"$1"; }

# === a corrupt journal ===========================================================
case_new corrupt token
rc=0
FAULT_KILL=C_GenerateKeyPair:1:after renew_run >"$C/out.txt" || rc=$?
assert_eq 137 "$rc" "corrupt: the first run was killed after keygen"
[[ -s $(journal) ]] || die "corrupt: no journal after the kill"
cp -p "$(journal)" "$C/journal.good"
objects_summary "$C/objects.before"
good=$(<"$C/journal.good")
declare -A spoiled=(
	[cut-short]=${good:0:$((${#good} / 2))}
	[empty]=''
	[not-json]='this is not a journal'
	[not-an-object]='[1, 2, 3]'
)
for what in cut-short empty not-json not-an-object; do
	printf '%s' "${spoiled[$what]}" >"$(journal)"
	cp -p "$(journal)" "$C/journal.spoiled"
	rc=0
	renew_run >"$C/out.txt" || rc=$?
	assert_eq 1 "$rc" "corrupt ($what): the run stops"
	grep -qF "$(journal)" "$C/err" || grep -qi 'journal' "$C/err" ||
		die "corrupt ($what): the message does not name the journal: $(<"$C/err")"
	printf 'ok: corrupt (%s): the message names the journal: %s\n' "$what" "$(head -n1 "$C/err")"
	cmp -s "$(journal)" "$C/journal.spoiled" || die "corrupt ($what): the journal was replaced"
	objects_summary "$C/objects.after"
	cmp -s "$C/objects.before" "$C/objects.after" ||
		die "corrupt ($what): the token changed: $(brief "$(new_objects "$C/objects.json")")"
	echo "ok: corrupt ($what): the journal and the token are as they were"
done
cp -p "$C/journal.good" "$(journal)"
renew_run >"$C/out.txt" || die "corrupt: the run with the journal put back failed: $(<"$C/err")"
check_renewed "corrupt, journal put back"
echo "ok: corrupt: the journal put back, the renewal completed with the key it recorded"

# === --timeout: the certificate not issued in time ==============================
svc_stop
svc_start --issue-delay 6
case_new timeout token
rc=0
start=$SECONDS
renew_run --timeout 1 >"$C/out.txt" || rc=$?
elapsed=$((SECONDS - start))
[[ $rc != 0 ]] || die "timeout: the run succeeded before the certificate was due"
((elapsed < 6)) || die "timeout: --timeout 1 waited ${elapsed}s"
cp "$C/err" "$C/timeout.err"
printf 'ok: timeout: --timeout 1 gave up after %ss, exit %s: %s\n' "$elapsed" "$rc" "$(tr "\n" " " <"$C/err")"
assert_eq submitted "$(journal_state)" "timeout: the journal keeps the submitted request"
check_candidate_only "timeout"
key_id=$(jq -r .key_id "$(journal)")
sleep 6
renew_run >"$C/rerun.txt" || die "timeout: the same command run again failed: $(<"$C/err")"
check_renewed "timeout, run again"
assert_eq "$key_id" "$(jq -r .key_id "$(journal)")" "timeout: the rerun used the key generated before"

echo "$T_NAME: all passed"
