#!/usr/bin/env bash
# imss-renew csr for RSA and EC token keys, on SoftHSM and on a raw-only
# token (fault module): `openssl req -verify` accepts every request, its
# public key is the token's (pkcs11-tool's copy for RSA, the RFC 5280 key
# identifier that keygen made the CKA_ID for both), the subject copied with
# --subject-from (a file made by openssl, or a certificate on the token) is
# that certificate's, --subject works, PEM and DER, stdout and --out
# (mode 0644), --json.  A key that is not there: exit 1, nothing written.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/cli-lib.sh
. "$TESTS_DIR/cli/cli-lib.sh"
t_need openssl pkcs11-tool jq
umask 022

t_make_token "IMSS CLI csr"
pki_init

# The current certificate, with the subject fields IMSS and SAT use.
subject_in='/C=MX/O=Empresa Ejemplo SA de CV/OU=Y1234567890/x500UniqueIdentifier=EEJ920101AB1'
subject_in+='/serialNumber=PEGJ800101HDFRRN09/emailAddress=rh@empresa.mx/CN=Juan Perez'
openssl req -x509 -newkey rsa:2048 -nodes -config "$T/pki.cnf" -extensions v3_leaf \
	-subj "$subject_in" -days 30 -keyout "$T/old.key" -out "$T/old.pem" 2>/dev/null ||
	die "openssl cannot make the current certificate"
openssl x509 -in "$T/old.pem" -outform DER -out "$T/old.cer"
name_of() { openssl "$1" -inform "$2" -in "$3" -noout -subject -nameopt RFC2253,show_type; }
want_subject=$(name_of x509 PEM "$T/old.pem")

# The current certificate also on the token, for --subject-from URI.
p11 --write-object "$T/old.cer" --type cert --id 99 --label old-cert >/dev/null ||
	die "pkcs11-tool cannot store the current certificate"
old_uri=$(imss --json objects --token "$IMSS_TOKEN_URI" |
	jq -r '.objects[] | select(.class == "certificate" and .label == "old-cert") | .uri')
[[ $old_uri == pkcs11:*type=cert* ]] || die "no URI for the stored certificate: $old_uri"

# check_request FORM FILE TYPE LABEL: verifies, and carries the token's key.
check_request() {
	local form=$1 file=$2 type=$3 label=$4
	openssl req -inform "$form" -in "$file" -noout -verify 2>"$T/verify.out" ||
		die "$label: openssl req -verify failed: $(<"$T/verify.out")"
	assert_contains "$(<"$T/verify.out")" "verify OK" "$label: openssl req -verify"
	spki_der req "$file" "$T/req-spki.der"
	assert_eq "$KEY_ID" "$(spki_key_identifier "$T/req-spki.der")" \
		"$label: the request's public key has the token key's identifier"
	if [[ $type == rsa:* ]]; then
		assert_eq "$(sha256sum <"$T/token-pub.der")" "$(sha256sum <"$T/req-spki.der")" \
			"$label: the request's public key is pkcs11-tool's copy of the token key"
	fi
}

for type in rsa:2048 ec:prime256v1; do
	keygen "csr ${type/:/ }" "$type"
	if [[ $type == rsa:* ]]; then
		p11 --read-object --type pubkey --id "$KEY_ID" -o "$T/token-pub.der" ||
			die "$type: pkcs11-tool cannot read the public key"
	fi

	# --subject-from a certificate file, PEM to --out.
	rm -f "$T/req.pem"
	assert_exit 0 capture "$T/out" imss csr --key "$KEY_URI" --subject-from "$T/old.pem" \
		--out "$T/req.pem" --pin-source "file:$T/pin"
	assert_eq "" "$(<"$T/out")" "$type: nothing on stdout with --out"
	check_request PEM "$T/req.pem" "$type" "$type --subject-from file"
	assert_eq "$want_subject" "$(name_of req PEM "$T/req.pem")" \
		"$type: --subject-from copies the subject, string types included"
	assert_eq 644 "$(stat -c %a "$T/req.pem")" "$type: request file mode 0644"
	[[ -z $(find "$T" -maxdepth 1 -name 'req.pem.*') ]] || die "$type: temporary file left"

	# --subject-from a DER certificate, DER to --out.
	assert_exit 0 imss csr --key "$KEY_URI" --subject-from "$T/old.cer" --der \
		--out "$T/req.der" --pin-source "file:$T/pin"
	check_request DER "$T/req.der" "$type" "$type --der"
	assert_eq "$want_subject" "$(name_of req DER "$T/req.der")" "$type: DER request subject"

	# --subject-from the certificate on the token.
	assert_exit 0 capture "$T/req-uri.pem" imss csr --key "$KEY_URI" \
		--subject-from "$old_uri" --pin-source "file:$T/pin"
	check_request PEM "$T/req-uri.pem" "$type" "$type --subject-from URI, to stdout"
	assert_eq "$want_subject" "$(name_of req PEM "$T/req-uri.pem")" \
		"$type: --subject-from URI copies the subject"

	# --subject, --json without --out: the PEM is in the JSON.
	assert_exit 0 capture "$T/csr.json" imss --json csr --key "$KEY_URI" \
		--subject '/O=Empresa Ejemplo SA de CV/OU=Y1234567890/CN=Juan Perez' \
		--pin-source "file:$T/pin"
	jq -r .pem "$T/csr.json" >"$T/req-json.pem"
	check_request PEM "$T/req-json.pem" "$type" "$type --subject --json"
	assert_eq "subject=CN=Juan Perez,OU=Y1234567890,O=Empresa Ejemplo SA de CV" \
		"$(openssl req -in "$T/req-json.pem" -noout -subject -nameopt RFC2253)" \
		"$type: --subject sets the subject"
	assert_eq "$KEY_URI|pem|null" "$(jq -r '[.key_uri, .format, .file] | map(tostring) | join("|")' \
		"$T/csr.json")" "$type: --json key_uri, format, file"

	# A raw-only token: the host hashes, the token signs the digest.
	assert_exit 0 imss_raw --verbose csr --key "$KEY_URI" --subject-from "$T/old.pem" \
		--out "$T/req-raw.pem" --pin-source "file:$T/pin"
	assert_contains "$(<"$T/stderr")" "hashing on the host" "$type: raw-only token signs a digest"
	check_request PEM "$T/req-raw.pem" "$type" "$type raw-only"
	assert_eq "$want_subject" "$(name_of req PEM "$T/req-raw.pem")" "$type raw-only: subject"
done

# A key that is not there: exit 1, the reason, nothing written.
rm -f "$T/none.pem"
assert_exit 1 imss csr --key "$IMSS_TOKEN_URI;object=no-such-key;type=private" \
	--subject /CN=x --out "$T/none.pem" --pin-source "file:$T/pin"
assert_contains "$(<"$T/stderr")" "imss-renew: No matching object" "missing key named"
[[ ! -e $T/none.pem ]] || die "a request was written for a missing key"
# A --subject-from file that holds no certificate.
head -c 300 /dev/urandom >"$T/garbage.cer"
assert_exit 1 imss csr --key "$KEY_URI" --subject-from "$T/garbage.cer" \
	--out "$T/none.pem" --pin-source "file:$T/pin"
assert_contains "$(<"$T/stderr")" "holds no certificate" "--subject-from garbage named"
[[ ! -e $T/none.pem ]] || die "a request was written without a subject"

echo "PASS: $T_NAME"
