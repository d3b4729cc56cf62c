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
# shellcheck source=lib.sh
. "$TESTS_DIR/protocol/lib.sh"
t_need openssl jq pkcs11-tool python3

SOFTHSM=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
t_make_token IMSS
trap cmp_cleanup EXIT

SUBJECT='/O=EMPRESA CMP SA DE CV/OU=Y7777777108/CN=EMPRESA CMP SA DE CV'
printf 'clave-del-key' >"$T/key.pass"
chmod 600 "$T/key.pass"

tool() { "$IMSS_RENEW" --module "${MODULE:-$SOFTHSM}" "$@"; }
export FAULT_PKCS11_REAL=$SOFTHSM

# ---- a test CA, the CMP server's certificate, the employer's extensions
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" \
	-out "$T/ca.pem" -subj '/O=CA de la empresa/CN=CA de prueba CMP' -days 30 \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	2>/dev/null || die "test CA"
cat >"$T/employer.ext" <<'EXT'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,nonRepudiation
extendedKeyUsage=clientAuth,emailProtection
EXT
# issue CSR OUT [SERIAL]: a certificate from the test CA for that request
# (a random serial unless given).
issue() {
	openssl x509 -req -in "$1" -CA "$T/ca.pem" -CAkey "$T/ca.key" -days 60 \
		-set_serial "${3:-0x$(openssl rand -hex 8)}" -extfile "$T/employer.ext" -out "$2" 2>/dev/null ||
		die "issue $2"
}
# serial_of CERT: its serial, as -set_serial takes it.
serial_of() { printf '0x%s' "$(openssl x509 -in "$1" -noout -serial | cut -d= -f2)"; }
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/srv.key" \
	-subj '/CN=servidor CMP de prueba' -out "$T/srv.csr" 2>/dev/null || die "server request"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -days 30 \
	-set_serial 7 -out "$T/srv.pem" 2>/dev/null || die "server certificate"

# objects_summary: the token's objects (class, ID, label), sorted.
objects_summary() {
	tool --json objects --login --token "$IMSS_TOKEN_URI" --pin-source "file:$T/pin" |
		jq -c '[.objects[] | {class: .class, id: .id, label: .label}] | sort_by([.class, .id, .label])'
}

# new_key LABEL: a key pair made first on the token (NEW_URI, NEW_ID).
new_key() {
	tool keygen --token "$IMSS_TOKEN_URI" --label "$1" --type ec:prime256v1 \
		--pin-source "file:$T/pin" >"$T/keygen.out" || die "keygen $1"
	NEW_URI=$(head -n1 "$T/keygen.out")
	NEW_ID=$(tool --json objects --login --token "$IMSS_TOKEN_URI" --pin-source "file:$T/pin" |
		jq -r --arg l "$1" '.objects[] | select(.label == $l and .class == "private-key") | .id')
	[[ -n $NEW_ID ]] || die "keygen $1: no key"
}

# cmp_renew NAME CURRENT...: renew --protocol cmp with the key made first;
# output in $T/NAME.json, stderr in $T/NAME.err, exit status returned.
cmp_renew() {
	local name=$1
	shift
	protocol_renew "$name" cmp "$CMP_URL" "$@" --new-key "$NEW_URI" --ca "$T/ca.pem"
}

# check_stored NAME RSP: the certificate next to the new key is RSP, and
# openssl verifies it against the CA; the journal is done.
check_stored() {
	local name=$1
	pkcs11-tool --module "$SOFTHSM" --token-label IMSS --read-object --type cert --id "$NEW_ID" \
		-o "$T/$name-stored.der" >/dev/null 2>&1 || die "$name: no certificate next to the new key"
	openssl x509 -in "$2" -outform DER | cmp -s - "$T/$name-stored.der" ||
		die "$name: the certificate stored is not the CA's answer"
	openssl verify -CAfile "$T/ca.pem" "$2" >/dev/null || die "$name: openssl verify refuses it"
	assert_eq done "$(jq -r .state "$T/$name-state"/renew-*.json)" "$name: the journal is done"
	assert_eq cmp "$(jq -r .protocol "$T/$name-state"/renew-*.json)" "$name: the journal says cmp"
	jq -s -e 'any(.[]; .event == "done" and .letter_file == null)' "$T/$name.json" >/dev/null ||
		die "$name: no done event without a letter: $(tail -n1 "$T/$name.json")"
	printf 'ok: %s: stored next to the new key, verified against the CA\n' "$name"
}

# ---- (1) current credential as .cer + encrypted .key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/cur-plain.pem" 2>/dev/null
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$T/cur-plain.pem" -outform DER -out "$T/actual.key" \
	-passout "file:$T/key.pass" || die "encrypted .key"
rm -f "$T/cur-plain.pem.unused"
openssl req -new -key "$T/cur-plain.pem" -subj "$SUBJECT" -out "$T/cur.csr" 2>/dev/null
issue "$T/cur.csr" "$T/actual.pem"
openssl x509 -in "$T/actual.pem" -outform DER -out "$T/actual.cer"
rm -f "$T/cur-plain.pem"
new_key 'cmp nueva 1'
tool csr --key "$NEW_URI" --subject-from "$T/actual.pem" --out "$T/new1.csr" \
	--pin-source "file:$T/pin" >/dev/null || die "csr of the new key"
issue "$T/new1.csr" "$T/rsp1.pem" "$(serial_of "$T/actual.pem")"
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
new_key 'cmp nueva 2'
tool csr --key "$NEW_URI" --subject-from "$T/actual2.pem" --out "$T/new2.csr" \
	--pin-source "file:$T/pin" >/dev/null || die "csr of the new key"
issue "$T/new2.csr" "$T/rsp2.pem" "$(serial_of "$T/actual2.pem")"
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
	new_key "cmp kill $n"
	tool csr --key "$NEW_URI" --subject-from "$T/actual.pem" --out "$T/kill$n.csr" \
		--pin-source "file:$T/pin" >/dev/null || die "csr of the new key"
	issue "$T/kill$n.csr" "$T/rsp-kill$n.pem" "$(serial_of "$T/actual.pem")"
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
