#!/bin/bash
# enroll --protocol scep (issue 13): a FIRST certificate, no current
# credential, against micromdm's SCEP server (Debian package scep):
#  (1) the key made on SoftHSM (sensitive, never extractable, allowed to
#      decrypt: the CA encrypts its answer to it), PKCSReq signed by a
#      self-signed certificate of that key, the answer decrypted by the
#      token; the certificate verified against the depot's CA, for the new
#      key, with the subject asked for, stored next to the key and copied
#      into --out-dir;
#  (2) a wrong challenge: refused with a clear message, no key left behind;
#      but a resumed run (its key made by a killed one) keeps the key and
#      journal when refused;
#  (3) an EC key: refused before anything is sent or made;
#  (4) renew --protocol scep from the enrolled certificate (its key on the
#      token) works;
#  (5) usage: enroll without --protocol scep, without --subject;
#  (6) an enrollment does not continue a renewal left unfinished in its
#      state directory (nor, refused, delete its key).
. "$TESTS_DIR/lib/common.sh"
. "$TESTS_DIR/protocol/scep-lib.sh"
. "$TESTS_DIR/protocol/lib.sh"
scep_token
printf 'otro-secreto' >"$T/wrong"
chmod 600 "$T/wrong"
SUBJECT='/CN=Empresa Nueva/O=EMPRESA NUEVA SA DE CV/C=MX'

# enroll NAME ARGS...: output in $T/NAME.json, stderr in $T/NAME.err
# (ENROLL_SUBJECT: another subject).
enroll() {
	local name=$1 rc=0
	shift
	mkdir -p "$T/$name-state" "$T/$name-out"
	chmod 700 "$T/$name-state"
	tool --json enroll --protocol scep --server "$SCEP_URL" --ca "$SCEP_DEPOT/ca.pem" \
		--token "$IMSS_TOKEN_URI" --pin-source "file:$T/pin" --subject "${ENROLL_SUBJECT:-$SUBJECT}" \
		--state-dir "$T/$name-state" --out-dir "$T/$name-out" "$@" \
		>"$T/$name.json" 2>"$T/$name.err" || rc=$?
	return "$rc"
}

scep_start

# ---- (2) a wrong challenge first: nothing may be left behind
before=$(objects)
rc=0
enroll wrong --challenge-source "file:$T/wrong" --label 'scep wrong' || rc=$?
[[ $rc != 0 ]] || die "a wrong challenge was accepted"
assert_contains "$(<"$T/wrong.err")" "challenge" "a wrong challenge: the message says so"
assert_eq "$before" "$(objects)" "a wrong challenge: no key left on the token"
assert_contains "$(<"$T/wrong.err")" "the key this run made was deleted" \
	"a wrong challenge: the key made (before the request was sent) was deleted"
grep -q 'PKCSReq (19)' "$T/scepserver.log" || die "a wrong challenge: no PKCSReq was sent"
assert_eq "" "$(ls "$T/wrong-state" | grep -v "\.lock$" || :)" "a wrong challenge: no journal or request left (the lock file stays)"

# ---- a run killed after its key was made, resumed with a wrong challenge:
# refused, and the key (made by the killed run, not this one) and the
# journal stay for the user to undo
rc=0
{ MODULE=$FAULT_MODULE FAULT_KILL=C_Sign:1:after enroll resumed --challenge-source \
	"file:$T/challenge" --label 'scep resumed'; } 2>/dev/null || rc=$?
[[ $rc == 137 ]] || die "killed at C_Sign: exit $rc: $(<"$T/resumed.err")"
rc=0
enroll resumed --challenge-source "file:$T/wrong" --label 'scep resumed' || rc=$?
[[ $rc != 0 ]] || die "a resumed enrollment with a wrong challenge was accepted"
assert_contains "$(<"$T/resumed.err")" "was not made by this run and was kept" \
	"a resumed enrollment refused: the key is kept, saying so"
assert_eq 1 "$(objects | jq '[.[] | select(.label == "scep resumed" and .class == "private-key")] | length')" \
	"a resumed enrollment refused: its key is still there"
[[ -e $(echo "$T/resumed-state"/renew-*.json) ]] || die "a resumed enrollment refused: the journal is gone"
# the undo it points to deletes the key (its own, recorded in the journal)
tool renew --abandon --force --token "$IMSS_TOKEN_URI" --pin-source "file:$T/pin" \
	--state-dir "$T/resumed-state" >"$T/resumed-abandon.out" 2>"$T/resumed.err" || die "--abandon after a refusal: $(<"$T/resumed.err")"
assert_eq "$before" "$(objects)" "--abandon after a refusal: the key is gone"

# ---- (3) EC: refused before anything is sent or made
sent=$(scep_operations)
rc=0
enroll ec --challenge-source "file:$T/challenge" --type ec:prime256v1 --label 'scep ec' || rc=$?
[[ $rc != 0 ]] || die "an EC key was accepted for a SCEP enrollment"
assert_contains "$(<"$T/ec.err")" "RSA" "EC refused, saying why"
assert_eq "$before" "$(objects)" "EC: no key made"
assert_eq "$sent" "$(scep_operations)" "EC: nothing sent"

# ---- (1) the first certificate
enroll first --challenge-source "file:$T/challenge" --label 'scep first' ||
	die "enroll --protocol scep: $(<"$T/first.err")"
grep -q 'PKCSReq (19)' "$T/scepserver.log" || die "the server saw no PKCSReq"
id=$(tool --json objects --login --token "$IMSS_TOKEN_URI" --pin-source "file:$T/pin" |
	jq -r '.objects[] | select(.label == "scep first" and .class == "private-key") | .id')
[[ -n $id ]] || die "no key 'scep first' on the token"
assert_eq 1 "$(objects | jq --arg id "$id" '[.[] | select(.id == $id and .class == "certificate")] | length')" \
	"one certificate next to the new key"
p11 --read-object --type cert --id "$id" -o "$T/first.der" >/dev/null 2>&1 || die "cannot read the certificate"
openssl x509 -inform DER -in "$T/first.der" -out "$T/first.pem"
assert_exit 0 openssl verify -CAfile "$SCEP_DEPOT/ca.pem" "$T/first.pem"
# micromdm sorts the entries (C, O, ..., CN): the same ones, in its order
assert_eq 'subject=/C=MX/O=EMPRESA NUEVA SA DE CV/CN=Empresa Nueva' \
	"$(openssl x509 -in "$T/first.pem" -noout -subject -nameopt compat)" "the subject asked for"
rsa_key_signs_for "$id" "$T/first.pem" || die "the certificate is not for the new key"
echo "ok: the certificate is for the new key (it signs what the certificate verifies)"
# the JSON Lines of docs/json.md: every event with its name, step and
# message; the last one done, with the documented fields
jq -se 'all(.[]; (.event | type == "string") and (.step | type == "number")
	and (.event == "done" or (.message | type == "string")))' "$T/first.json" >/dev/null ||
	die "enroll --json: not the event shape: $(<"$T/first.json")"
assert_eq '["certificate_file","certificate_uri","event","key_uri","letter_file","not_after","not_before","serial","step","subject"]' \
	"$(tail -n 1 "$T/first.json" | jq -c 'keys')" "enroll --json: the done event's fields"
copy=$(jq -r 'select(.event == "done") | .certificate_file' "$T/first.json")
[[ $copy == "$T/first-out/"* && -s $copy ]] || die "no certificate copy in --out-dir: '$copy'"
attrs=$(pkcs11-tool --module "$SOFTHSM" --token-label IMSS -l --pin "$USER_PIN" -O --type privkey \
	--id "$id" 2>/dev/null)
assert_contains "$attrs" "sensitive" "the new key is sensitive"
assert_contains "$attrs" "never extractable" "the new key was never extractable"
assert_contains "$attrs" "decrypt" "the new key may decrypt (the CA's answer is encrypted to it)"

# ---- kill -9 while the token decrypts the CA's answer (the request was
# sent): the next run asks for the same transaction and finishes
rc=0
{ MODULE=$FAULT_MODULE FAULT_KILL=C_Decrypt:1:before enroll kill --challenge-source \
	"file:$T/challenge" --label 'scep kill'; } 2>/dev/null || rc=$?
[[ $rc == 137 ]] || die "killed at C_Decrypt: exit $rc: $(<"$T/kill.err")"
assert_eq submit-started "$(jq -r .state "$T/kill-state"/renew-*.json)" "killed: the request was sent"
txid=$(jq -r .request_id "$T/kill-state"/renew-*.json)
enroll kill --challenge-source "file:$T/challenge" --label 'scep kill' ||
	die "after a kill at C_Decrypt: $(<"$T/kill.err")"
assert_eq 'done' "$(jq -r .state "$T/kill-state"/renew-*.json)" "after the kill: the journal is done"
assert_eq 'PKCSReq CertPoll PKCSReq' \
	"$(grep "parsed scep pkiMessage.*transaction_id=$txid" "$T/scepserver.log" |
		sed 's/.*scep_message_type="\([A-Za-z]*\).*/\1/' | paste -sd' ')" \
	"after the kill: CertPoll, then the same request again, one transactionID"
assert_eq 1 "$(objects | jq '[.[] | select(.label == "scep kill" and .class == "private-key")] | length')" \
	"after the kill: one key, the same"

# ---- (4) renew --protocol scep from the enrolled certificate
protocol_renew renewal scep "$SCEP_URL" --current "pkcs11:token=IMSS;object=scep%20first;type=private" \
	--ca "$SCEP_DEPOT/ca.pem" --challenge-source "file:$T/challenge" --label 'scep renewed' ||
	die "renew --protocol scep after enroll: $(<"$T/renewal.err")"
grep -q 'RenewalReq (17)' "$T/scepserver.log" || die "the server saw no RenewalReq"
assert_eq 'done' "$(jq -r .state "$T/renewal-state"/renew-*.json)" "the renewal's journal is done"

# ---- (6) an enrollment never continues (nor, refused, deletes) a renewal
# left unfinished in the same state directory: the key and journal stay
rc=0
{ MODULE=$FAULT_MODULE FAULT_KILL=C_Decrypt:1:before protocol_renew mixed scep "$SCEP_URL" \
	--current "pkcs11:token=IMSS;object=scep%20first;type=private" --ca "$SCEP_DEPOT/ca.pem" \
	--challenge-source "file:$T/challenge" --label 'scep mixed'; } 2>/dev/null || rc=$?
[[ $rc == 137 ]] || die "renewal killed at C_Decrypt: exit $rc: $(<"$T/mixed.err")"
assert_eq 'submit-started renew' "$(jq -r '.state + " " + .kind' "$T/mixed-state"/renew-*.json)" \
	"killed renewal: its journal says a renewal, the request sent"
# the subject of the certificate renewed, in micromdm's order: the same
# journal as the renewal's
rc=0
ENROLL_SUBJECT='/C=MX/O=EMPRESA NUEVA SA DE CV/CN=Empresa Nueva' enroll mixed --challenge-source "file:$T/wrong" --label 'scep other' || rc=$?
[[ $rc != 0 ]] || die "an enrollment continued an unfinished renewal"
assert_contains "$(<"$T/mixed.err")" "unfinished renewal" "enroll over a renewal: refused, saying why"
assert_eq 1 "$(objects | jq '[.[] | select(.label == "scep mixed" and .class == "private-key")] | length')" \
	"enroll over a renewal: the renewal's key is kept"
assert_eq submit-started "$(jq -r .state "$T/mixed-state"/renew-*.json)" \
	"enroll over a renewal: the renewal's journal is kept"

# ---- (5) usage
assert_exit 2 tool enroll --server "$SCEP_URL" --ca "$SCEP_DEPOT/ca.pem" --token "$IMSS_TOKEN_URI" \
	--subject "$SUBJECT" --challenge-source "file:$T/challenge"
assert_exit 2 tool enroll --protocol scep --server "$SCEP_URL" --ca "$SCEP_DEPOT/ca.pem" \
	--token "$IMSS_TOKEN_URI" --challenge-source "file:$T/challenge"
echo "scep-enroll: all passed"
