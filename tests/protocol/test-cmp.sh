#!/usr/bin/env bash
# CMP key update (issue 13) against OpenSSL's own CMP server (`openssl cmp
# -port`, the mock server of OpenSSL 3), on a port of its own, killed at the
# end.  That mock always answers with its -rsp_cert, so the test makes the
# new key first (`imss-renew keygen`), issues -rsp_cert for it from a test
# CA, and renews with --new-key:
#
#  (1) the current credential as a .cer + encrypted .key: KUR protected by
#      it, the certificate stored next to the new key, equal to -rsp_cert,
#      `openssl verify` against the CA; the journal done, no letter;
#  (2) the same with the current key on the token (through the provider);
#  (2b) kill -9 while the request is signed, inside the key update (the
#      proof of possession), right after the certificate was stored: the
#      same command run again finishes the renewal;
#  (3) a -rsp_cert for ANOTHER key: refused, the token unchanged (objects
#      listed before and after), the journal keeps the key;
#  (3b) answers signed under another CA than --ca: refused, token unchanged;
#  (4) http:// refused for --protocol idse; --protocol cmp without --ca.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=cmp-lib.sh
. "$TESTS_DIR/protocol/cmp-lib.sh"

# ---- (1) current credential as .cer + encrypted .key
current_files actual
answer_for 'cmp nueva 1' "$T/actual.pem" "$T/rsp1.pem"
mock_start "$T/rsp1.pem"
cmp_renew file --credential "$T/actual.cer" --password-source "file:$T/key.pass" ||
	die "renew --protocol cmp (.cer + .key): $(<"$T/file.err") $(cat "$T/mock.log")"
check_stored file "$T/rsp1.pem"

# ---- (2) current key on the token
tool keygen --token "$IMSS_TOKEN_URI" --label 'cmp actual' --type ec:prime256v1 \
	--pin-source "file:$T/pin" >"$T/cur-keygen.out" || die "keygen of the current key"
CUR_URI='pkcs11:token=IMSS;object=cmp%20actual;type=private'
tool csr --key "$CUR_URI" --subject "$SUBJECT" --out "$T/cur2.csr" --pin-source "file:$T/pin" \
	>/dev/null || die "csr of the current key"
issue "$T/cur2.csr" "$T/actual2.pem"
tool import --token "$IMSS_TOKEN_URI" --cert "$T/actual2.pem" --ca "$T/ca.pem" \
	--pin-source "file:$T/pin" >/dev/null || die "import of the current certificate"
answer_for 'cmp nueva 2' "$T/actual2.pem" "$T/rsp2.pem"
mock_start "$T/rsp2.pem"
cmp_renew token --current "$CUR_URI" ||
	die "renew --protocol cmp (token key): $(<"$T/token.err") $(cat "$T/mock.log")"
check_stored token "$T/rsp2.pem"

# ---- (2b) kill -9 at each step of a renewal (through the fault module),
# then the same command again; the new key made first is the second
# C_Sign's (the request, then the proof of possession)
n=0
for point in C_Sign:1:after C_Sign:2 C_CreateObject:1:after; do
	n=$((n + 1))
	answer_for "cmp kill $n" "$T/actual.pem" "$T/rsp-kill$n.pem"
	mock_start "$T/rsp-kill$n.pem"
	rc=0
	{ FAULT_KILL=$point MODULE=$FAULT_MODULE cmp_renew "kill$n" --credential "$T/actual.cer" \
		--password-source "file:$T/key.pass"; } 2>/dev/null || rc=$?
	[[ $rc == 137 ]] || die "killed at $point: exit $rc: $(<"$T/kill$n.err")"
	cmp_renew "kill$n" --credential "$T/actual.cer" --password-source "file:$T/key.pass" ||
		die "after a kill at $point: $(<"$T/kill$n.err")"
	check_stored "kill$n" "$T/rsp-kill$n.pem"
	assert_eq 1 "$(tool --json objects --login --token "$IMSS_TOKEN_URI" --pin-source "file:$T/pin" |
		jq --arg id "$NEW_ID" '[.objects[] | select(.id == $id and .class == "certificate")] | length')" \
		"killed at $point: one certificate next to the key"
done

# ---- (3) an answer for another key: refused, the token unchanged
new_key 'cmp nueva 3'
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/other.key" \
	-subj "$SUBJECT" -out "$T/other.csr" 2>/dev/null || die "another key's request"
issue "$T/other.csr" "$T/rsp3.pem" "$(serial_of "$T/actual.pem")"
mock_start "$T/rsp3.pem"
before=$(objects_summary)
rc=0
cmp_renew wrong --credential "$T/actual.cer" --password-source "file:$T/key.pass" || rc=$?
[[ $rc != 0 ]] || die "a certificate for another key was accepted"
assert_contains "$(<"$T/wrong.err")" 'another key' "another key's certificate refused, saying why"
assert_eq "$before" "$(objects_summary)" "the token is unchanged"
assert_eq "$NEW_ID" "$(jq -r .key_id "$T/wrong-state"/renew-*.json)" "the journal keeps the key"

# ---- (3b) answers signed under another CA than --ca: refused, the token
# unchanged (the server's protection is checked against --ca alone)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/other-ca.key" \
	-out "$T/other-ca.pem" -subj '/CN=otra CA' -days 30 \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	2>/dev/null || die "another CA"
mkdir -m 700 "$T/other-ca-state"
mock_start "$T/rsp3.pem"
before=$(objects_summary)
rc=0
tool renew --protocol cmp --server "$CMP_URL" --credential "$T/actual.cer" \
	--password-source "file:$T/key.pass" --token "$IMSS_TOKEN_URI" --new-key "$NEW_URI" \
	--ca "$T/other-ca.pem" --pin-source "file:$T/pin" --state-dir "$T/other-ca-state" \
	--out-dir "$T/other-ca-out" --yes >/dev/null 2>"$T/other-ca.err" || rc=$?
[[ $rc == 1 ]] || die "answers under another CA: exit $rc: $(<"$T/other-ca.err")"
assert_contains "$(<"$T/other-ca.err")" 'failed' "answers under another CA refused"
assert_eq "$before" "$(objects_summary)" "answers under another CA: the token is unchanged"

# ---- (4) http:// only for scep and cmp; cmp needs --ca
rc=0
tool renew --server "$CMP_URL" --user U --credential "$T/actual.cer" --token "$IMSS_TOKEN_URI" \
	--yes 2>"$T/idse-http.err" || rc=$?
[[ $rc == 2 ]] || die "http:// for idse: exit $rc"
assert_contains "$(<"$T/idse-http.err")" 'https://' "http:// refused for idse"
rc=0
tool renew --protocol cmp --server "$CMP_URL" --credential "$T/actual.cer" \
	--token "$IMSS_TOKEN_URI" --yes 2>"$T/no-ca.err" || rc=$?
[[ $rc == 2 ]] || die "cmp without --ca: exit $rc"
assert_contains "$(<"$T/no-ca.err")" '--ca' "cmp without --ca refused"
echo "cmp-key-update: OK"
