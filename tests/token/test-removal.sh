#!/usr/bin/env bash
# The token pulled out (CKR_DEVICE_REMOVED) or the session lost
# (CKR_SESSION_HANDLE_INVALID) in the middle of a keygen and of an objects
# listing.  The fault module plays the removal: from one call on, every
# later call on the token fails (FAULT_FAIL=NAME:N+:RV for every function).
# For each call position: exit 1, no crash (the tool may be an ASan/UBSan
# build), the message says the token was removed / the session was lost
# and what to do; after a keygen cut short, the message names the label and
# ID of every object left, so that a later run can delete them by that ID.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
: "${FAULT_MODULE:?FAULT_MODULE is not set (run the test through ctest)}"
t_need pkcs11-tool jq

t_make_token "IMSS removal"
# shellcheck source=lib.sh
. "$TESTS_DIR/token/lib.sh"

if ldd "$IMSS_RENEW" 2>/dev/null | grep -q libasan; then
	echo "note: $IMSS_RENEW is an AddressSanitizer build"
fi

calls_of_log() { grep -v '^C_GetFunctionList ' "$FAULT_LOG" | awk '{ print $1 }'; }

# Every function the token layer may call on a token (C_Finalize excluded:
# a module still finalises after its token is gone).
TOKEN_FUNCTIONS=(C_GetSlotList C_GetSlotInfo C_GetTokenInfo C_GetMechanismList
	C_GetMechanismInfo C_OpenSession C_CloseSession C_Login C_Logout
	C_FindObjectsInit C_FindObjects C_FindObjectsFinal C_GenerateKeyPair
	C_GetAttributeValue C_SetAttributeValue C_DestroyObject C_CreateObject
	C_SignInit C_Sign)

# pull_rules CALLS POS RV: FAULT_FAIL that fails call number POS (1-based)
# of the list CALLS (one function name a line) and every later call on the
# token, with RV.
pull_rules() {
	local calls=$1 pos=$2 rv=$3 f n rules=()
	for f in "${TOKEN_FUNCTIONS[@]}"; do
		n=$(head -n $((pos - 1)) "$calls" | grep -cx "$f" || true)
		rules+=("$f:$((n + 1))+:$rv")
	done
	(IFS=,; printf '%s' "${rules[*]}")
}

failures=0
fail_soft() { printf '%s: FAIL: %s\n' "$T_NAME" "$*" >&2; failures=$((failures + 1)); }
# check_message WHAT RV: the last run's stderr says what happened and what to do.
check_message() {
	local what=$1 rv=$2 err
	err=$(<"$T/stderr")
	if grep -Eq 'Sanitizer|runtime error:' "$T/stderr"; then
		fail_soft "$what: sanitizer report: $err"
		return
	fi
	case $rv in
	CKR_DEVICE_REMOVED)
		[[ $err == *"imss-renew: The token was removed"* ]] ||
			fail_soft "$what: the message does not say the token was removed: $err"
		[[ $err == *"insert it again and re-run the command"* ]] ||
			fail_soft "$what: the message does not say what to do: $err" ;;
	CKR_SESSION_HANDLE_INVALID)
		[[ $err == *"imss-renew: The session with the token was lost"* ]] ||
			fail_soft "$what: the message does not say the session was lost: $err"
		[[ $err == *"re-run the command"* ]] ||
			fail_soft "$what: the message does not say what to do: $err" ;;
	esac
	[[ $err == *"($rv)"* ]] || fail_soft "$what: the message does not name $rv: $err"
	# It names the function that failed (the first to fail, or a later one
	# when a failure is of no consequence, like that of C_FindObjectsFinal).
	local fn
	fn=$(sed -n 's/^\(C_[A-Za-z]*\): .*/\1/p' "$T/stderr" | head -n 1)
	if [[ -z $fn ]]; then
		fail_soft "$what: the message names no PKCS#11 function: $err"
	elif ! grep -q "^$fn 0x[0-9a-f]*[1-9a-f]" "$FAULT_LOG"; then
		fail_soft "$what: the message names $fn, which did not fail: $err"
	fi
}

# --- keygen ----------------------------------------------------------------------
assert_exit 0 capture "$T/out" fault keygen --token "$IMSS_TOKEN_URI" --label clean \
	--type ec:prime256v1 --pin-source "file:$T/pin"
calls_of_log >"$T/keygen.calls"
first=$(grep -nx C_Login "$T/keygen.calls" | cut -d: -f1)
last=$(grep -nx C_CloseSession "$T/keygen.calls" | cut -d: -f1)
gen=$(grep -nx C_GenerateKeyPair "$T/keygen.calls" | cut -d: -f1)
[[ -n $first && -n $last && -n $gen ]] || die "unexpected keygen calls: $(tr '\n' ' ' <"$T/keygen.calls")"
after_gen=0
i=0
for ((pos = first; pos < last; pos++)); do
	call=$(sed -n "${pos}p" "$T/keygen.calls")
	for rv in CKR_DEVICE_REMOVED CKR_SESSION_HANDLE_INVALID; do
		i=$((i + 1))
		label="pulled $i"
		what="keygen, $rv from call $pos ($call) on"
		rc=0
		FAULT_FAIL=$(pull_rules "$T/keygen.calls" "$pos" "$rv") \
			capture "$T/out" fault keygen --token "$IMSS_TOKEN_URI" --label "$label" \
			--type ec:prime256v1 --pin-source "file:$T/pin" 2>"$T/stderr" || rc=$?
		[[ $rc == 1 ]] || { fail_soft "$what: exit $rc, expected 1: $(<"$T/stderr")"; continue; }
		[[ -z $(<"$T/out") ]] || fail_soft "$what: output on stdout: $(<"$T/out")"
		check_message "$what" "$rv"
		left=$(with_label "$label")
		named_line=$(grep -F "A key pair labelled '$label'" "$T/stderr" || true)
		named_ids=$(grep -Eo '\b[0-9a-f]{40}\b' <<<"$named_line" | sort -u || true)
		if ((pos > gen)); then
			after_gen=$((after_gen + 1))
			[[ -n $left ]] || fail_soft "$what: expected the key pair made before the removal to be left (nothing can delete it)"
		fi
		if [[ -z $left ]]; then
			echo "ok: $what: exit 1, message right, nothing left"
			continue
		fi
		if [[ -z $named_line || -z $named_ids ]]; then
			fail_soft "$what: objects left ($(tr '\n' ' ' <<<"$left")) but the message does not name them with label and ID: $(<"$T/stderr")"
			continue
		fi
		# Every object left must carry an ID the message names: that is
		# what a user deletes by.
		stray=$(comm -23 <(sed 's/.*=//' <<<"$left" | sort -u) <(echo "$named_ids"))
		if [[ -n $stray ]]; then
			fail_soft "$what: the message names ID $(tr '\n' ' ' <<<"$named_ids")but left are: $(tr '\n' ' ' <<<"$left")"
		else
			echo "ok: $what: exit 1, message right, leftover '$label' $(tr '\n' ' ' <<<"$named_ids")named"
		fi
		# A later run can clean up by the named IDs.
		for id in $named_ids; do
			for type in privkey pubkey; do
				pkcs11-tool --module "$SOFTHSM2_MODULE" --login --pin "$USER_PIN" \
					--delete-object --type "$type" --id "$id" >/dev/null 2>&1 || true
			done
		done
		[[ -n $stray || -z $(with_label "$label") ]] ||
			fail_soft "$what: deleting by the named IDs left: $(with_label "$label")"
	done
done
((after_gen > 0)) || die "no removal after C_GenerateKeyPair was tried"

# The same in JSON mode: the error object, with the leftover in its detail.
pos=$((gen + 1))
FAULT_FAIL=$(pull_rules "$T/keygen.calls" "$pos" CKR_DEVICE_REMOVED) \
	assert_exit 1 capture "$T/err.json" fault --json keygen --token "$IMSS_TOKEN_URI" \
	--label "pulled json" --type ec:prime256v1 --pin-source "file:$T/pin"
assert_eq TOKEN_REMOVED "$(jq -r .error.code "$T/err.json")" "keygen --json: IMSS_ERR_TOKEN_REMOVED"
assert_contains "$(jq -r .error.detail "$T/err.json")" "A key pair labelled 'pulled json' with ID " \
	"keygen --json: the detail names the leftover"
FAULT_FAIL=$(pull_rules "$T/keygen.calls" "$pos" CKR_SESSION_HANDLE_INVALID) \
	assert_exit 1 capture "$T/err.json" fault --json keygen --token "$IMSS_TOKEN_URI" \
	--label "pulled json 2" --type ec:prime256v1 --pin-source "file:$T/pin"
assert_eq SESSION_LOST "$(jq -r .error.code "$T/err.json")" "keygen --json: IMSS_ERR_SESSION_LOST"

# --- objects listing --------------------------------------------------------------
# More objects than one C_FindObjects batch would hold are not needed: two
# key pairs give the listing several C_GetAttributeValue calls to cut.
assert_exit 0 capture "$T/out" fault keygen --token "$IMSS_TOKEN_URI" --label second \
	--type rsa:2048 --pin-source "file:$T/pin"
assert_exit 0 capture "$T/objects.out" fault objects --token "$IMSS_TOKEN_URI" \
	--pin-source "file:$T/pin"
calls_of_log >"$T/objects.calls"
first=$(grep -nx C_Login "$T/objects.calls" | cut -d: -f1)
last=$(grep -nx C_CloseSession "$T/objects.calls" | cut -d: -f1)
[[ -n $first && -n $last ]] || die "unexpected objects calls: $(tr '\n' ' ' <"$T/objects.calls")"
(($(grep -cx C_GetAttributeValue "$T/objects.calls") >= 4)) ||
	die "the listing read too few attributes: $(tr '\n' ' ' <"$T/objects.calls")"
for ((pos = first; pos < last; pos++)); do
	call=$(sed -n "${pos}p" "$T/objects.calls")
	for rv in CKR_DEVICE_REMOVED CKR_SESSION_HANDLE_INVALID; do
		for json in "" --json; do
			what="objects${json:+ $json}, $rv from call $pos ($call) on"
			rc=0
			FAULT_FAIL=$(pull_rules "$T/objects.calls" "$pos" "$rv") \
				capture "$T/out" fault $json objects --token "$IMSS_TOKEN_URI" \
				--pin-source "file:$T/pin" 2>"$T/stderr" || rc=$?
			[[ $rc == 1 ]] || { fail_soft "$what: exit $rc, expected 1: $(<"$T/stderr")"; continue; }
			check_message "$what" "$rv"
			if [[ -n $json ]]; then
				code=$(jq -re .error.code "$T/out" 2>/dev/null) ||
					{ fail_soft "$what: stdout is not one JSON error: $(<"$T/out")"; continue; }
				[[ $code == $([[ $rv == CKR_DEVICE_REMOVED ]] && echo TOKEN_REMOVED || echo SESSION_LOST) ]] ||
					fail_soft "$what: JSON error code $code"
				[[ $(jq 'has("objects")' "$T/out") == false ]] || fail_soft "$what: a partial listing in the JSON"
			else
				[[ -z $(<"$T/out") ]] || fail_soft "$what: a partial listing on stdout: $(<"$T/out")"
			fi
			echo "ok: $what: exit 1, message right"
		done
	done
done

# Nothing left by the listing runs; the two clean key pairs are intact.
objects_json
assert_eq 4 "$(jq '[.objects[] | select(.label == "clean" or .label == "second")] | length' "$T/objects.json")" \
	"the key pairs made before are intact"

((failures == 0)) || die "$failures removal case(s) failed (see above)"
echo "PASS: $T_NAME"
