#!/usr/bin/env bash
# `imss-renew renew` end to end on SoftHSM against the reference service.
# Each case: a new employer whose certificate expired yesterday, a new
# token, a renewal through the fault module (no faults: it logs the
# PKCS#11 calls).  After each: the journal says done; exactly one new
# private key, public key and certificate, with the journal's ID; the
# certificate on the token is the copy on disk, certifies the new key, and
# `openssl verify` accepts it against the service's CA; the old key and
# certificate (or .pfx) are unchanged; `status` shows the new certificate;
# exactly one C_Login in the run.  Then the lock, --abandon and recover.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=lib.sh
. "$TESTS_DIR/renew/lib.sh"
command -v flock >/dev/null || { echo "flock is missing: skipped" >&2; exit 77; }

# after_renewal WHAT: the checks every successful renewal must pass.
after_renewal() {
	local what=$1 serial logins
	check_renewed "$what"
	logins=$(grep -c '^C_Login ' "$C/calls.log" || true)
	assert_eq 1 "$logins" "$what: one C_Login for the whole run"
	serial=$(jq -r .cert_serial "$(journal)")
	"$IMSS_RENEW" --json --module "$SOFTHSM" status --token "$TOKEN_URI" >"$C/status.json" \
		2>"$C/status.err" || die "$what: status --token failed: $(<"$C/status.err")"
	jq -e --arg s "$serial" '.certificates[] | select(.serial == $s and .expired == false)' \
		"$C/status.json" >/dev/null || die "$what: status does not show $serial: $(<"$C/status.json")"
	printf 'ok: %s: renewed, certificate %s on the token\n' "$what" "$serial"
}

svc_init
svc_start

# --- from a token credential, RSA (default type), --json -------------------------
# Every line of stdout is one JSON object; one event per step (1 to 6),
# then a final "done" event with the serial and the certificate's URI.
case_new token-rsa token
JSON=1 renew_run >"$C/out.json" || die "token, RSA: renew failed: $(<"$C/err")"
jq -e . "$C/out.json" >/dev/null || die "token, RSA: --json output does not parse"
while IFS= read -r line; do
	jq -e 'type == "object" and (.event | type == "string")' <<<"$line" >/dev/null ||
		die "token, RSA: a line is not one JSON event: $line"
done <"$C/out.json"
steps=$(jq -s -c '[.[].step] | unique' "$C/out.json")
assert_eq '[1,2,3,4,5,6,7]' "$steps" "token, RSA: an event for each of the seven steps"
events=$(jq -s -r '[.[].event] | unique | join(" ")' "$C/out.json")
for ev in login company keygen request letter submit certificate store done; do
	[[ " $events " == *" $ev "* ]] || die "token, RSA: no '$ev' event (got: $events)"
done
last=$(tail -n1 "$C/out.json")
assert_eq done "$(jq -r .event <<<"$last")" "token, RSA: the last event is 'done'"
assert_eq "$(jq -r .cert_serial "$(journal)")" "$(jq -r .serial <<<"$last")" \
	"token, RSA: the done event names the new serial"
[[ $(jq -r .certificate_uri <<<"$last") == pkcs11:* ]] || die "token, RSA: no certificate_uri"
after_renewal "token, RSA"
# The same command again: the credential was renewed already; nothing new
# is made, the run only checks the certificate is on the token.
renew_run >"$C/again.txt" || die "token, RSA, again: renew failed: $(<"$C/err")"
assert_contains "$(<"$C/again.txt")" "was renewed already" "token, RSA, again: it says the renewal was done"
check_renewed "token, RSA, run again"
assert_eq rsa "$(new_objects "$C/objects.json" | jq -r '[.[] | select(.class == "private-key")][0].key_type')" \
	"token, RSA: the new key is RSA"

# --- from a legacy .pfx, EC P-256, with an e-mail change -------------------------
# The certificate carries the new e-mail (subject and the service's data).
case_new pfx-ec-email pfx
renew_run --type ec:prime256v1 --email "nuevo@$RP.example.mx" >"$C/out.txt" ||
	die "pfx, EC, e-mail: renew failed: $(<"$C/err")"
grep -q 'The e-mail was changed' "$C/out.txt" || die "pfx, EC, e-mail: no e-mail change shown"
after_renewal "pfx, EC, e-mail"
assert_eq ec "$(new_objects "$C/objects.json" | jq -r '[.[] | select(.class == "private-key")][0].key_type')" \
	"pfx, EC, e-mail: the new key is EC"
subject=$(openssl x509 -inform DER -in "$C/new-cert.der" -noout -subject -nameopt RFC2253)
assert_contains "$subject" "emailAddress=nuevo@$RP.example.mx" "pfx, EC, e-mail: the certificate has the new e-mail"
[[ -s $(jq -r .letter_path "$(journal)") ]] || die "pfx, EC, e-mail: no terms letter saved"

# --- from a token credential, EC P-384, a delayed certificate (polling) ----------
# The service answers 202 and issues 3 s later; the text output shows the
# countdown and the run goes on by itself.
svc_stop
svc_start --issue-delay 3
case_new token-ec-delayed token
start=$SECONDS
renew_run --type ec:secp384r1 >"$C/out.txt" || die "delayed: renew failed: $(<"$C/err")"
grep -q 'the service will issue the certificate shortly' "$C/out.txt" ||
	die "delayed: the request was not answered 202: $(<"$C/out.txt")"
grep -q 'Waiting for the certificate: next check in [0-9]* s' "$C/out.txt" ||
	die "delayed: no countdown shown: $(<"$C/out.txt")"
((SECONDS - start >= 2)) || die "delayed: finished before the certificate was due"
after_renewal "token, EC P-384, delayed"
# recover, EC: with its certificate deleted the new EC key has no public
# half on the token (no point on an EC private key, and its public key was
# a session object); recover proves it is the certificate's key by a
# signature and stores the certificate beside it again.
serial=$(jq -r .cert_serial "$(journal)")
p11 --login --pin "$USER_PIN" --delete-object --type cert --id "$(jq -r .key_id "$(journal)")" \
	>/dev/null 2>&1 || die "recover, EC: pkcs11-tool could not delete the certificate"
objects_json "$C/objects.json"
assert_eq private-key "$(new_objects "$C/objects.json" | jq -r '[.[] | .class] | join(",")')" \
	"recover, EC: the new key is alone on the token"
recover_run "$serial" "recover, EC: failed"
check_renewed "recover, EC key with no public key object"

# --- a legacy .pfx, RSA, delayed, --json: the countdown as events ----------------
case_new pfx-rsa-delayed-json pfx
JSON=1 renew_run --type rsa:2048 >"$C/out.json" || die "pfx, delayed, json: renew failed: $(<"$C/err")"
jq -s -e '[.[] | select(.event == "wait" and (.seconds | tonumber) > 0)] | length > 0' \
	"$C/out.json" >/dev/null || die "pfx, delayed, json: no wait events"
assert_eq done "$(tail -n1 "$C/out.json" | jq -r .event)" "pfx, delayed, json: the last event is 'done'"
after_renewal "pfx, RSA, delayed, json"
svc_stop
svc_start

# --- the lock: a second renewal of the same token fails clearly, or waits --------
# The test holds the lock file the engine uses (STATE/token-SERIAL.lock) with
# flock(1), as a running renewal would; no second process opens the token.
case_new locked token
exec {lock_fd}>"$C/state/token-$IMSS_TOKEN_SERIAL.lock"
flock -x "$lock_fd"
rc=0
renew_run {lock_fd}>&- >"$C/out.txt" || rc=$?
assert_eq 1 "$rc" "locked: a second renewal fails"
assert_contains "$(<"$C/err")" "Another imss-renew is renewing on token 'IMSS'" "locked: it says why"
assert_contains "$(<"$C/err")" "--wait" "locked: it says what to do"
assert_eq none "$(journal_state)" "locked: no journal was started"
objects_json "$C/objects.json"
assert_eq '[]' "$(new_objects "$C/objects.json")" "locked: nothing was made on the token"
# --wait: the renewal waits for the lock, released 2 s later, and goes on.
renew_run --wait {lock_fd}>&- >"$C/out.txt" &
waiter=$!
BG_PIDS+=("$waiter")
sleep 2
[[ $(journal_state) == none ]] || die "locked, --wait: the renewal did not wait for the lock"
flock -u "$lock_fd"
exec {lock_fd}>&-
wait "$waiter" || die "locked, --wait: renew failed: $(<"$C/err")"
after_renewal "locked, then --wait"

# --- --abandon after an interrupted run ------------------------------------------
# The run is killed (SIGKILL) just after the key was made; --abandon deletes
# that key pair only (checked by its public key), says so, removes the
# journal; the old credential stays.  A new renewal then completes.
case_new abandon token
rc=0
FAULT_KILL=C_GenerateKeyPair:1:after renew_run >"$C/out.txt" || rc=$?
assert_eq 137 "$rc" "abandon: the run was killed after keygen"
objects_json "$C/objects.json"
label=$(new_objects "$C/objects.json" | jq -r '[.[] | select(.class == "private-key")][0].label')
[[ -n $label && $label != null ]] || die "abandon: no candidate key on the token"
"$IMSS_RENEW" --module "$SOFTHSM" renew --abandon --token "$TOKEN_URI" --state-dir "$C/state" \
	--pin-source "file:$T/pin" >"$C/abandon.out" 2>"$C/err" || die "abandon failed: $(<"$C/err")"
no_sanitizer_report "$C/err"
assert_contains "$(<"$C/abandon.out")" "Removed: the new key '$label'" "abandon: it names the key it removed"
objects_json "$C/objects.json"
assert_eq '[]' "$(new_objects "$C/objects.json")" "abandon: only the candidate pair was deleted"
check_old_intact "abandon"
assert_eq none "$(journal_state)" "abandon: the journal is gone"
rc=0
"$IMSS_RENEW" --module "$SOFTHSM" renew --abandon --token "$TOKEN_URI" --state-dir "$C/state" \
	--pin-source "file:$T/pin" >/dev/null 2>"$C/err" || rc=$?
assert_eq 1 "$rc" "abandon twice: nothing to undo"
assert_contains "$(<"$C/err")" "nothing to undo" "abandon twice: it says so"
renew_run >"$C/out.txt" || die "abandon, then renew: failed: $(<"$C/err")"
after_renewal "abandon, then renew"

# --- recover: the certificate deleted from the token is fetched and stored again --
serial=$(jq -r .cert_serial "$(journal)")
id=$(jq -r .key_id "$(journal)")
p11 --login --pin "$USER_PIN" --delete-object --type cert --id "$id" >/dev/null 2>&1 ||
	die "recover: pkcs11-tool could not delete the certificate"
objects_json "$C/objects.json"
assert_eq 0 "$(new_objects "$C/objects.json" | jq '[.[] | select(.class == "certificate")] | length')" \
	"recover: the new certificate was deleted"
renew_args
: >"$C/calls.log"
FAULT_LOG=$C/calls.log "$IMSS_RENEW" --module "$FAULT_MODULE" recover --serial "$serial" \
	"${RENEW_ARGS[@]:0:${#RENEW_ARGS[@]}-1}" >"$C/recover.out" 2>"$C/err" ||
	die "recover failed: $(<"$C/err")"
no_sanitizer_report "$C/err"
assert_contains "$(<"$C/recover.out")" "$serial" "recover: it reports the serial"
after_renewal "recover"

# The recovered certificate was stored once; recovering again stores nothing new.
FAULT_LOG=$C/calls.log "$IMSS_RENEW" --module "$FAULT_MODULE" recover --serial "$serial" \
	"${RENEW_ARGS[@]:0:${#RENEW_ARGS[@]}-1}" >"$C/recover.out" 2>"$C/err" ||
	die "recover again failed: $(<"$C/err")"
check_renewed "recover again"

# --- a later renewal from the new certificate is a new renewal -------------------
# (The journal of the last one is done; its certificate is now the current one.)
old_key=$(jq -r .key_id "$(journal)")
CURRENT=(--current "pkcs11:token=IMSS;id=$(sed 's/../%&/g' <<<"$old_key");type=private")
renew_run --type ec:prime256v1 >"$C/next.txt" || die "renewal from the new certificate failed: $(<"$C/err")"
assert_eq done "$(journal_state)" "renewal from the new certificate: done"
[[ $(jq -r .key_id "$(journal)") != "$old_key" ]] || die "renewal from the new certificate: no new key"
objects_json "$C/objects.json"
assert_eq 2 "$(new_objects "$C/objects.json" | jq '[.[] | select(.class == "certificate")] | length')" \
	"renewal from the new certificate: a second certificate, for a second new key"

echo "$T_NAME: all passed"
