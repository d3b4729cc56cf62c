#!/bin/bash
# renew --protocol scep (issue 13) against micromdm's SCEP server (Debian
# package scep): a first certificate made by its own scepclient (file key),
# then renewals with the new key generated on SoftHSM:
#  (1) the current credential as a .cer + encrypted .key: RenewalReq
#      signed by it, the certificate stored next to the new key, `openssl
#      verify` against the depot's CA, the journal done and saying scep;
#  (2) the same key and certificate put on the token (--current URI): the
#      CA's answer decrypted by the token (C_Decrypt through the provider);
#  (3) kill -9 after the request was built, while the token decrypts the
#      CA's answer, and after the certificate was stored: the same command
#      run again finishes (the same transactionID), one certificate;
#  (4) an EC current key (it cannot decrypt the answer): refused before
#      any key is made or anything is sent;
#  (5) the server's CA is not the --ca given: refused, nothing sent, the
#      new key left for the next run (or --abandon);
#  (6) --challenge-source without --protocol scep is a usage error.
. "$TESTS_DIR/lib/common.sh"
. "$TESTS_DIR/protocol/scep-lib.sh"
. "$TESTS_DIR/protocol/lib.sh"
scep_token
printf 'clave-del-key' >"$T/key.pass"
chmod 600 "$T/key.pass"

scep_start
scep_first_cert "$T/first"
openssl x509 -in "$T/first/first.pem" -outform DER -out "$T/actual.cer"
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$T/first/first.key" -passout "file:$T/key.pass" \
	-outform DER -out "$T/actual.key"

# scep_renew NAME CURRENT...: output in $T/NAME.json, stderr in $T/NAME.err.
scep_renew() {
	local name=$1
	shift
	protocol_renew "$name" scep "$SCEP_URL" "$@" --ca "$SCEP_DEPOT/ca.pem" \
		--challenge-source "file:$T/challenge" --label "scep $name"
}
FILES=(--credential "$T/actual.cer" --password-source "file:$T/key.pass")

# check_stored NAME: one certificate next to the key 'scep NAME', for it,
# verified against the CA, with the current subject; the journal is done.
check_stored() {
	local name=$1 id
	id=$(tool --json objects --login --token "$IMSS_TOKEN_URI" --pin-source "file:$T/pin" |
		jq -r --arg l "scep $name" '.objects[] | select(.label == $l and .class == "private-key") | .id')
	[[ -n $id ]] || die "$name: no new key"
	assert_eq 1 "$(objects | jq --arg id "$id" '[.[] | select(.id == $id and .class == "certificate")] | length')" \
		"$name: one certificate next to the new key"
	p11 --read-object --type cert --id "$id" -o "$T/$name-stored.der" >/dev/null 2>&1 ||
		die "$name: cannot read the certificate"
	openssl x509 -inform DER -in "$T/$name-stored.der" -out "$T/$name-stored.pem"
	assert_exit 0 openssl verify -CAfile "$SCEP_DEPOT/ca.pem" "$T/$name-stored.pem"
	assert_eq "$(openssl x509 -in "$T/first/first.pem" -noout -subject)" \
		"$(openssl x509 -in "$T/$name-stored.pem" -noout -subject)" "$name: the current subject"
	rsa_key_signs_for "$id" "$T/$name-stored.pem" || die "$name: the certificate is not for the new key"
	echo "ok: $name: the certificate is for the new key (it signs what the certificate verifies)"
	assert_eq 'done' "$(jq -r .state "$T/$name-state"/renew-*.json)" "$name: the journal is done"
	assert_eq scep "$(jq -r .protocol "$T/$name-state"/renew-*.json)" "$name: the journal says scep"
}

# ---- (1) .cer + encrypted .key
scep_renew file "${FILES[@]}" || die "renew --protocol scep (.cer + .key): $(<"$T/file.err")"
check_stored file
grep -q 'RenewalReq (17)' "$T/scepserver.log" || die "the server saw no RenewalReq"

# ---- (2) the same key and certificate on the token
p11 --write-object "$T/first/first.key" --type privkey --id a1 --label actual >/dev/null 2>&1 ||
	die "cannot put the current key on the token"
p11 --write-object "$T/actual.cer" --type cert --id a1 --label actual >/dev/null 2>&1 ||
	die "cannot put the current certificate on the token"
scep_renew token --current 'pkcs11:token=IMSS;object=actual;type=private' ||
	die "renew --protocol scep (token key): $(<"$T/token.err")"
check_stored token

# ---- (3) kill -9, then the same command again
n=0
for point in C_Sign:1:after C_CreateObject:1:after; do
	n=$((n + 1))
	rc=0
	{ MODULE=$FAULT_MODULE FAULT_KILL=$point scep_renew "kill$n" "${FILES[@]}"; } 2>/dev/null || rc=$?
	[[ $rc == 137 ]] || die "killed at $point: exit $rc: $(<"$T/kill$n.err")"
	scep_renew "kill$n" "${FILES[@]}" || die "after a kill at $point: $(<"$T/kill$n.err")"
	check_stored "kill$n"
done

# kill -9 while the token decrypts the CA's answer (the request was sent:
# the journal says submit-started): the next run asks for the transaction
# (CertPoll; micromdm does not poll, so the same request goes again under
# the same transactionID) and finishes.
rc=0
{ MODULE=$FAULT_MODULE FAULT_KILL=C_Decrypt:1:before scep_renew kill-decrypt \
	--current 'pkcs11:token=IMSS;object=actual;type=private'; } 2>/dev/null || rc=$?
[[ $rc == 137 ]] || die "killed at C_Decrypt: exit $rc: $(<"$T/kill-decrypt.err")"
assert_eq submit-started "$(jq -r .state "$T/kill-decrypt-state"/renew-*.json)" \
	"killed at C_Decrypt: the request was sent"
txid=$(jq -r .request_id "$T/kill-decrypt-state"/renew-*.json)
scep_renew kill-decrypt --current 'pkcs11:token=IMSS;object=actual;type=private' ||
	die "after a kill at C_Decrypt: $(<"$T/kill-decrypt.err")"
check_stored kill-decrypt
assert_eq 'RenewalReq CertPoll RenewalReq' \
	"$(grep "parsed scep pkiMessage.*transaction_id=$txid" "$T/scepserver.log" |
		sed 's/.*scep_message_type="\([A-Za-z]*\).*/\1/' | paste -sd' ')" \
	"after the kill: CertPoll, then the same request again, one transactionID"

# ---- (4) an EC current key: refused before anything
sent=$(scep_operations)
before=$(objects)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ec.pem" \
	-subj '/CN=Empresa EC' -days 30 -out "$T/ec.crt" 2>/dev/null
openssl x509 -in "$T/ec.crt" -outform DER -out "$T/ec.cer"
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$T/ec.pem" -passout "file:$T/key.pass" -outform DER \
	-out "$T/ec.key"
rc=0
scep_renew ec --credential "$T/ec.cer" --password-source "file:$T/key.pass" || rc=$?
[[ $rc != 0 ]] || die "an EC current key was accepted for SCEP"
assert_contains "$(<"$T/ec.err")" "not RSA" "EC current key refused, saying why"
assert_eq "$before" "$(objects)" "EC: no key made"
assert_eq "$sent" "$(scep_operations)" "EC: nothing sent"

# ---- (5) another CA given
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other-ca.key" -subj '/CN=Otra CA' \
	-addext basicConstraints=critical,CA:TRUE -days 30 -out "$T/other-ca.pem" 2>/dev/null
rc=0
protocol_renew other scep "$SCEP_URL" "${FILES[@]}" --ca "$T/other-ca.pem" \
	--challenge-source "file:$T/challenge" --label 'scep other' || rc=$?
[[ $rc != 0 ]] || die "a server of another CA was accepted"
assert_contains "$(<"$T/other.err")" "does not chain to the CA given" "another CA refused"
assert_eq "$sent" "$(scep_operations)" "another CA: nothing sent"

# ---- (6) usage
assert_exit 2 tool renew --server "https://127.0.0.1:1" --user U "${FILES[@]}" \
	--token "$IMSS_TOKEN_URI" --challenge-source "file:$T/challenge"
echo "scep-renew: all passed"
