# shellcheck shell=bash
# What the tests of CMP share (test-cmp.sh, test-cmp-poll.sh): a token, a
# test CA ($T/ca.pem) with the CMP server's certificate, the employer's
# subject and extensions, keys made first on the token, and OpenSSL's own
# CMP server (`openssl cmp -port`, the mock server of OpenSSL 3) on a free
# port, killed at the end.  Source after tests/lib/common.sh.
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

# current_files NAME: a current credential as IMSS hands it out, $T/NAME.cer
# and an encrypted PKCS#8 $T/NAME.key (password $T/key.pass), issued by the
# test CA for SUBJECT ($T/NAME.pem: the certificate in PEM).
current_files() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/$1-plain.pem" 2>/dev/null
	openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$T/$1-plain.pem" -outform DER -out "$T/$1.key" \
		-passout "file:$T/key.pass" || die "encrypted .key"
	openssl req -new -key "$T/$1-plain.pem" -subj "$SUBJECT" -out "$T/$1.csr" 2>/dev/null
	issue "$T/$1.csr" "$T/$1.pem"
	openssl x509 -in "$T/$1.pem" -outform DER -out "$T/$1.cer"
	rm -f "$T/$1-plain.pem"
}

# answer_for LABEL CURRENT_PEM OUT: a new key made first (new_key LABEL)
# and the certificate the mock is to answer with for it (OUT), with the
# current certificate's subject and serial.
answer_for() {
	new_key "$1"
	tool csr --key "$NEW_URI" --subject-from "$2" --out "$T/answer.csr" \
		--pin-source "file:$T/pin" >/dev/null || die "csr of the new key"
	issue "$T/answer.csr" "$3" "$(serial_of "$2")"
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
