#!/bin/bash
# The SCEP client alone (scep-probe, src/protocol/scep.c) against
# micromdm's server: RenewalReq signed by the current credential as a .cer
# + encrypted .key and as a token key (its answer decrypted by C_Decrypt
# through the provider), the certificate chaining to the server's CA; an EC
# current key refused before anything is sent; a server whose CA is not
# the one given refused before anything is sent.
. "$TESTS_DIR/lib/common.sh"
. "$TESTS_DIR/protocol/scep-lib.sh"
: "${SCEP_PROBE:?SCEP_PROBE is not set (run the test through ctest)}"
t_need pkcs11-tool

scep_start
scep_first_cert "$T/first"
SUBJ='/C=MX/O=EMPRESA SA DE CV/OU=Y0000000000/CN=Empresa SCEP'

# The current credential as IMSS hands it out: DER .cer, encrypted PKCS#8 .key.
printf 'clave-del-key' >"$T/key.pass"
openssl x509 -in "$T/first/first.pem" -outform DER -out "$T/current.cer"
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$T/first/first.key" -passout "file:$T/key.pass" \
	-outform DER -out "$T/current.key"

# new_request NAME: a new key and its request (with the challenge: micromdm
# 2.1 asks for it on renewals too).
new_request() {
	openssl genrsa -out "$T/$1.pem" 2048 2>/dev/null
	printf '[req]\ndistinguished_name=dn\nattributes=attrs\nprompt=no\n[dn]\nC=MX\nO=EMPRESA SA DE CV\nOU=Y0000000000\nCN=Empresa SCEP\n[attrs]\nchallengePassword=%s\n' \
		"$SCEP_CHALLENGE" >"$T/req.cnf"
	openssl req -new -key "$T/$1.pem" -config "$T/req.cnf" -outform DER -out "$T/$1.req"
}

# issued_for NAME: the certificate is for that key and chains to the CA.
issued_for() {
	assert_eq "$(openssl pkey -in "$T/$1.pem" -pubout)" \
		"$(openssl x509 -inform DER -in "$T/$1.der" -noout -pubkey)" "$1: certificate for the new key"
	openssl x509 -inform DER -in "$T/$1.der" -out "$T/$1.crt"
	assert_exit 0 openssl verify -CAfile "$SCEP_DEPOT/ca.pem" "$T/$1.crt"
	assert_eq "$(openssl x509 -in "$T/first/first.pem" -noout -subject)" \
		"$(openssl x509 -in "$T/$1.crt" -noout -subject)" "$1: same subject"
}

# 1. Files.
new_request files
assert_exit 0 "$SCEP_PROBE" "$SCEP_URL" "$SCEP_DEPOT/ca.pem" "$T/files.req" "$T/files.der" \
	--files "$T/current.cer" "$T/current.key" "file:$T/key.pass"
issued_for files
grep -q 'RenewalReq (17)' "$T/scepserver.log" || die "the server saw no RenewalReq"

# 2. The same key on a token: its answer is decrypted by the token.
t_make_token SCEP
p11() { pkcs11-tool --module "$SOFTHSM2_MODULE" --token-label SCEP -l --pin "$USER_PIN" "$@"; }
p11 --write-object "$T/first/first.key" --type privkey --id 01 --label actual >/dev/null 2>&1 ||
	die "cannot put the key on the token"
p11 --write-object "$T/current.cer" --type cert --id 01 --label actual >/dev/null 2>&1 ||
	die "cannot put the certificate on the token"
new_request token
assert_exit 0 "$SCEP_PROBE" "$SCEP_URL" "$SCEP_DEPOT/ca.pem" "$T/token.req" "$T/token.der" \
	--token "$SOFTHSM2_MODULE" "$IMSS_TOKEN_URI" "pkcs11:token=SCEP;object=actual;type=private" \
	"file:$T/pin"
issued_for token

# 3. An EC current key cannot decrypt the answer: refused, nothing sent.
sent=$(scep_operations)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ec.pem" \
	-subj "$SUBJ" -days 30 -out "$T/ec.crt" 2>/dev/null
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$T/ec.pem" -passout "file:$T/key.pass" -outform DER \
	-out "$T/ec.key"
new_request ec-new
assert_exit 1 "$SCEP_PROBE" "$SCEP_URL" "$SCEP_DEPOT/ca.pem" "$T/ec-new.req" "$T/ec-new.der" \
	--files "$T/ec.crt" "$T/ec.key" "file:$T/key.pass"
assert_contains "$(cat "$T/stderr")" "not RSA: it cannot decrypt" "EC current key refused"
assert_eq "$sent" "$(scep_operations)" "nothing sent for the EC key"
[[ ! -e $T/ec-new.der ]] || die "a certificate was written for the EC key"

# 4. Another CA given: the server's CA does not chain to it; nothing sent.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other-ca.key" -subj '/CN=Otra CA' \
	-addext basicConstraints=critical,CA:TRUE -days 30 -out "$T/other-ca.pem" 2>/dev/null
new_request other
assert_exit 1 "$SCEP_PROBE" "$SCEP_URL" "$T/other-ca.pem" "$T/other.req" "$T/other.der" \
	--files "$T/current.cer" "$T/current.key" "file:$T/key.pass"
assert_contains "$(cat "$T/stderr")" "does not chain to the CA given" "other CA refused"
assert_eq "$sent" "$(scep_operations)" "nothing sent to a server of another CA"
echo "scep-client: all passed"
