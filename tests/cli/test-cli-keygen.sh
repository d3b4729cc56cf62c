#!/usr/bin/env bash
# imss-renew keygen of every key type on a SoftHSM token, checked from the
# outside with OpenSC's pkcs11-tool and openssl: the private key is
# sensitive, never extractable and local, and its CKA_ID is the RFC 5280
# key identifier (SHA-1 of the subjectPublicKey BIT STRING contents).
# Also: tokens --json lists the token, objects --json lists the keys, and
# doctor passes on SoftHSM.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
t_need pkcs11-tool openssl jq

t_make_token "IMSS CLI keygen"

imss() { "$IMSS_RENEW" --module "$SOFTHSM2_MODULE" "$@"; }
# capture FILE CMD...: CMD with its stdout in FILE.
capture() { local file=$1; shift; "$@" >"$file"; }
# The test's own throwaway PIN: acceptable on pkcs11-tool's command line.
p11_login() { pkcs11-tool --module "$SOFTHSM2_MODULE" --login --pin "$USER_PIN" "$@"; }

# p11_block CLASS LABEL: the `pkcs11-tool -O` block of the object of CLASS
# ("Private Key", "Public Key") labelled LABEL.
p11_block() {
	p11_login -O 2>/dev/null | awk -v class="$1" -v label="$2" '
		function flush() { if (keep && matched) printf "%s", blk; blk = ""; keep = matched = 0 }
		/^[^ \t]/ { flush(); keep = index($0, class " Object") == 1 }
		{ blk = blk $0 "\n" }
		/^[ \t]+label:/ { l = $0; sub(/^[ \t]+label:[ \t]*/, "", l); if (l == label) matched = 1 }
		END { flush() }'
}

# field BLOCK NAME: the value of "  NAME:  value" in a pkcs11-tool block.
field() { sed -n "s/^[[:space:]]*$2:[[:space:]]*//p" <<<"$1" | head -n 1; }

# key_identifier PUBLIC_DER: the RFC 5280 key identifier of a public key.
key_identifier() {
	openssl pkey -pubin -inform DER -in "$1" -outform DER -out "$T/spki.der" ||
		die "openssl cannot read the public key $1"
	spki_key_identifier "$T/spki.der"
}

# ec_spki PUBBLOCK OUT: DER SubjectPublicKeyInfo built by openssl from the
# EC_PARAMS and EC_POINT that `pkcs11-tool -O` shows of an EC public key.
# OpenSC 0.23's --read-object cannot export P-384 public keys ("cannot
# create EVP_PKEY"), so this stands in for it there.
ec_spki() {
	local params point curve
	params=$(field "$1" EC_PARAMS) point=$(field "$1" EC_POINT)
	[[ -n $params && -n $point ]] || die "no EC_PARAMS or EC_POINT in: $1"
	curve=$(xxd -r -p <<<"$params" | openssl asn1parse -inform DER |
		sed -n 's/.*OBJECT *:\([^ ]*\).*/\1/p')
	# CKA_EC_POINT is a DER OCTET STRING holding the point.
	point=$(xxd -r -p <<<"$point" | openssl asn1parse -inform DER |
		sed -n 's/.*OCTET STRING *\[HEX DUMP\]://p')
	[[ -n $curve && -n $point ]] || die "cannot decode EC_PARAMS or EC_POINT in: $1"
	printf '%s\n' "asn1=SEQUENCE:spki" "[spki]" "alg=SEQUENCE:alg" \
		"key=FORMAT:HEX,BITSTRING:$point" "[alg]" "oid=OID:id-ecPublicKey" \
		"curve=OID:$curve" >"$T/spki.cnf"
	openssl asn1parse -genconf "$T/spki.cnf" -noout -out "$2" ||
		die "openssl cannot encode the EC public key"
}

# The token is listed, and passes the doctor.
assert_exit 0 capture "$T/tokens.json" imss --json tokens
assert_eq "$IMSS_TOKEN_SERIAL" \
	"$(jq -r --arg l "$IMSS_TOKEN_LABEL" '.tokens[] | select(.label == $l) | .serial' "$T/tokens.json")" \
	"tokens --json lists the token"
assert_eq true "$(jq '.tokens[0].login_required' "$T/tokens.json")" "tokens --json flags"
assert_exit 0 capture "$T/tokens.txt" imss tokens
assert_contains "$(<"$T/tokens.txt")" "$IMSS_TOKEN_LABEL" "tokens lists the token"
assert_exit 0 capture "$T/doctor.txt" imss doctor --token "$IMSS_TOKEN_URI"
assert_contains "$(<"$T/doctor.txt")" "Verdict: " "doctor prints a verdict"
assert_exit 0 capture "$T/doctor.json" imss --json doctor --token "$IMSS_TOKEN_URI"
verdict=$(jq -r .verdict "$T/doctor.json")
[[ $verdict == OK || $verdict == WARN ]] || die "doctor --json verdict: $verdict"

for type in rsa:2048 rsa:3072 rsa:4096 ec:prime256v1 ec:secp384r1; do
	label="cli ${type/:/ }"
	if [[ $type == ec:secp384r1 ]]; then
		# JSON mode: one object with the report.
		assert_exit 0 capture "$T/keygen.json" imss --json keygen \
			--token "$IMSS_TOKEN_URI" --label "$label" --type "$type" \
			--pin-source "file:$T/pin"
		uri=$(jq -r .uri "$T/keygen.json")
		tool_id=$(jq -r .id "$T/keygen.json")
		assert_eq true "$(jq .id_is_key_identifier "$T/keygen.json")" "$type: JSON id_is_key_identifier"
		assert_eq "true false true true" \
			"$(jq -r '[.sensitive, .extractable, .local, .never_extractable] | map(tostring) | join(" ")' "$T/keygen.json")" \
			"$type: JSON key protection"
		assert_eq "$type" "$(jq -r .type "$T/keygen.json")" "$type: JSON type"
	else
		assert_exit 0 capture "$T/keygen.txt" imss keygen \
			--token "$IMSS_TOKEN_URI" --label "$label" --type "$type" \
			--pin-source "file:$T/pin"
		uri=$(head -n 1 "$T/keygen.txt")
		tool_id=$(sed -n 's/^  ID: *//p' "$T/keygen.txt")
		assert_contains "$(<"$T/keygen.txt")" "RFC 5280 key identifier (" "$type: ID is the key identifier"
	fi
	[[ $uri == pkcs11:* && $uri != *$'\n'* ]] || die "$type: first line is not a URI: $uri"
	assert_contains "$uri" "type=private" "$type: URI of the private key"

	priv=$(p11_block "Private Key" "$label")
	[[ -n $priv ]] || die "$type: pkcs11-tool shows no private key labelled '$label'"
	access=$(field "$priv" Access)
	assert_contains "$access" "sensitive" "$type: private key sensitive"
	assert_contains "$access" "never extract" "$type: private key never extractable"
	assert_contains "$access" "local" "$type: private key local"
	id=$(field "$priv" ID)
	assert_eq "$id" "$tool_id" "$type: the tool reports the token's CKA_ID"

	if ! pkcs11-tool --module "$SOFTHSM2_MODULE" --read-object --type pubkey \
		--id "$id" -o "$T/pub.der" 2>"$T/p11.err"; then
		[[ $type == ec:* ]] || die "$type: cannot read the public key: $(<"$T/p11.err")"
		ec_spki "$(p11_block "Public Key" "$label")" "$T/pub.der"
	fi
	assert_eq "$(key_identifier "$T/pub.der")" "$id" "$type: CKA_ID = RFC 5280 key identifier"

	assert_exit 0 capture "$T/objects.json" imss --json objects \
		--token "$IMSS_TOKEN_URI" --pin-source "file:$T/pin"
	assert_eq "$uri" \
		"$(jq -r --arg id "$id" '.objects[] | select(.class == "private-key" and .id == $id) | .uri' "$T/objects.json")" \
		"$type: objects --json lists the private key"
	assert_eq "$label|true|false|true|true" \
		"$(jq -r --arg id "$id" '.objects[] | select(.class == "private-key" and .id == $id) |
			[.label, .sensitive, .extractable, .local, .never_extractable] | map(tostring) | join("|")' \
			"$T/objects.json")" "$type: objects --json key attributes"
done

# Text listing after login shows the keys; without login, no private keys.
assert_exit 0 capture "$T/objects.txt" imss objects --token "$IMSS_TOKEN_URI" --login \
	--pin-source "file:$T/pin"
assert_eq 5 "$(grep -c '^Private key: ' "$T/objects.txt")" "objects --login lists 5 private keys"
assert_exit 0 capture "$T/objects.txt" imss objects --token "$IMSS_TOKEN_URI"
assert_eq 0 "$(grep -c '^Private key: ' "$T/objects.txt" || true)" "objects without login: no private keys"

echo "PASS: $T_NAME"
