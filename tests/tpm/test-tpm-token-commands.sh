#!/usr/bin/env bash
# The token commands on a TPM 2.0 (swtpm) through tpm2-pkcs11 (issue 11):
#  - tokens: two tpm2-pkcs11 tokens, both with serial 0000000000000000, get
#    two identities (the names of their journal and lock);
#  - keygen RSA and EC: tpm2-pkcs11 1.9 refuses the sign-only template with
#    CKR_GENERAL_ERROR; keygen makes the key without the usage flags, says
#    so (refused, refused_reason) and the key is sensitive, not extractable,
#    never extractable, also as objects --login reads it;
#  - csr: the request verifies and carries the TPM key's public key;
#  - import of a certificate for it, sign (CMS, verified by openssl with the
#    CA) and export (the same certificate back);
#  - doctor: a verdict other than FAIL on the TPM token.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
t_need openssl jq
# shellcheck source=lib.sh
. "$TESTS_DIR/tpm/lib.sh"

tpm_start
tpm_add_token "IMSS TPM"
tpm_add_token "IMSS TPM 2"
TOKEN='pkcs11:token=IMSS%20TPM'
PIN=(--pin-source "file:$T/pin")

# --- tokens ----------------------------------------------------------------------
assert_exit 0 capture "$T/tokens.json" tpm_tool --json tokens
jq -r '.tokens[] | select(.label | startswith("IMSS TPM")) | .serial + " " + .identity' \
	"$T/tokens.json" >"$T/ids"
assert_eq 2 "$(wc -l <"$T/ids")" "tokens: the two TPM tokens are listed"
assert_eq "0000000000000000" "$(cut -d' ' -f1 "$T/ids" | sort -u)" "tokens: both have tpm2-pkcs11's serial"
[[ $(cut -d' ' -f2 "$T/ids" | grep -Ec '^id-[0-9a-f]{16}$') == 2 &&
	$(cut -d' ' -f2 "$T/ids" | sort -u | wc -l) == 2 ]] || die "tokens: identities $(tr '\n' ' ' <"$T/ids")"
echo "ok: tokens: two identities for one serial"
assert_exit 0 capture "$T/tokens.txt" tpm_tool tokens
assert_contains "$(<"$T/tokens.txt")" "state name:" "tokens: the text shows the state name"

# --- keygen ----------------------------------------------------------------------
USAGE="CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE, CKA_ENCRYPT, CKA_WRAP"
for type in rsa:2048 ec:prime256v1; do
	label="tpm ${type%%:*}"
	assert_exit 0 capture "$T/keygen.json" tpm_tool --json keygen --token "$TOKEN" \
		--label "$label" --type "$type" "${PIN[@]}"
	assert_eq "$USAGE" "$(jq -r .refused "$T/keygen.json")" "keygen $type: made without the usage flags"
	assert_contains "$(jq -r .refused_reason "$T/keygen.json")" CKR_GENERAL_ERROR \
		"keygen $type: the TPM's answer to the sign-only template is given"
	assert_eq "true false true" \
		"$(jq -r '[.sensitive, .extractable, .never_extractable] | map(tostring) | join(" ")' "$T/keygen.json")" \
		"keygen $type: sensitive, not extractable, never extractable"
	[[ $(<"$T/stderr") != *"plug it in again"* ]] || die "keygen $type: 'plug it in again': $(<"$T/stderr")"
	jq -r .uri "$T/keygen.json" >"$T/uri-${type%%:*}"
done
assert_exit 0 capture "$T/objects.json" tpm_tool --json objects --login --token "$TOKEN" "${PIN[@]}"
assert_eq "tpm ec true false true|tpm rsa true false true" \
	"$(jq -r '[.objects[] | select(.class == "private-key") |
		[.label, .sensitive, .extractable, .never_extractable] | map(tostring) | join(" ")] | sort | join("|")' \
		"$T/objects.json")" "objects --login: both keys read back sensitive and never extractable"

# --- csr, a certificate, import, sign, export --------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -subj "/O=TPM test/CN=TPM test CA" -days 30 \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
	-keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null || die "openssl cannot make the CA"
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n' >"$T/leaf.ext"
printf 'Carta de prueba firmada con el TPM.\n' >"$T/letter.txt"
for kind in rsa ec; do
	key=$(<"$T/uri-$kind")
	assert_exit 0 tpm_tool csr --key "$key" --subject "/O=EMPRESA TPM/CN=tpm $kind" \
		--out "$T/$kind.csr" "${PIN[@]}"
	openssl req -in "$T/$kind.csr" -noout -verify 2>&1 | grep -q 'verify OK' ||
		die "csr $kind: openssl does not verify the request"
	echo "ok: csr $kind: the request verifies"
	openssl x509 -req -in "$T/$kind.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -days 30 \
		-set_serial "0x$(openssl rand -hex 8)" -extfile "$T/leaf.ext" -outform DER \
		-out "$T/$kind.cer" 2>/dev/null || die "openssl cannot issue for the $kind request"
	assert_exit 0 tpm_tool import --token "$TOKEN" --cert "$T/$kind.cer" "${PIN[@]}"
	assert_exit 0 tpm_tool sign --key "$key" --in "$T/letter.txt" --out "$T/$kind.p7s" --der "${PIN[@]}"
	openssl cms -verify -binary -inform DER -in "$T/$kind.p7s" -content "$T/letter.txt" \
		-CAfile "$T/ca.pem" -out /dev/null 2>"$T/cms.err" ||
		die "sign $kind: openssl cms -verify: $(<"$T/cms.err")"
	echo "ok: sign $kind: openssl cms -verify accepts the TPM's signature"
	cert_uri=${key%type=private}type=cert
	assert_exit 0 tpm_tool export --cert "$cert_uri" --out "$T/$kind-back.cer"
	cmp -s "$T/$kind.cer" "$T/$kind-back.cer" || die "export $kind: not the imported certificate"
	echo "ok: export $kind: the certificate imported"
done

# --- doctor --------------------------------------------------------------------------
rc=0
tpm_tool --json doctor --token "$TOKEN" >"$T/doctor.json" 2>"$T/stderr" || rc=$?
verdict=$(jq -r .verdict "$T/doctor.json")
[[ $verdict == OK || $verdict == WARN ]] ||
	die "doctor: verdict '$verdict' (exit $rc): $(jq -c '.checks[] | select(.status == "FAIL")' "$T/doctor.json")"
echo "ok: doctor: verdict $verdict on the TPM token"
echo "PASS: $T_NAME"
