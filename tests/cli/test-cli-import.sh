#!/usr/bin/env bash
# imss-renew import: DER, PEM and PKCS#7 (DER and PEM) inputs store the
# certificate next to its key; importing again makes no duplicate; from a
# bundle only the certificate of the token's key is stored.  OpenSC's
# pkcs11-tool -O and GnuTLS's p11tool --list-all show the certificate with
# the ID of its private key.  --label; --ca with the right CA (also through
# an intermediate from the bundle) is accepted, a foreign CA or a missing
# intermediate refused; an expired or not yet valid certificate is refused
# unless --force.  Every refusal: exit 1, the reason, the token unchanged.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/cli-lib.sh
. "$TESTS_DIR/cli/cli-lib.sh"
t_need openssl pkcs11-tool p11tool jq

t_make_token "IMSS CLI import"
pki_init
pki_ca ca
pki_ca foreign
pki_ca inter ca
subject='/O=Empresa Ejemplo SA de CV/OU=Y1234567890/CN=Juan Perez'

# p11_id_of CLASS LABEL: the ID pkcs11-tool -O shows for that object.
p11_id_of() {
	p11 -O | awk -v class="$1" -v label="$2" '
		/^[^ \t]/ { inside = index($0, class " Object") == 1; l = "" }
		inside && /^[ \t]+label:/ { l = $0; sub(/^[ \t]+label:[ \t]*/, "", l) }
		inside && l == label && /^[ \t]+ID:/ { sub(/^[ \t]+ID:[ \t]*/, ""); print; exit }'
}

# gnutls_id_of TYPE LABEL: the ID p11tool --list-all shows, without colons.
gnutls_id_of() {
	GNUTLS_PIN=$USER_PIN p11tool --provider "$SOFTHSM2_MODULE" --list-all --login \
		"$IMSS_TOKEN_URI" 2>/dev/null | awk -v type="$1" -v label="$2" '
		/^Object / { t = ""; l = "" }
		/^[ \t]+Type:/ { t = $0 }
		/^[ \t]+Label:/ { l = $0; sub(/^[ \t]+Label:[ \t]*/, "", l) }
		/^[ \t]+ID:/ && index(t, type) && l == label { sub(/^[ \t]+ID:[ \t]*/, ""); gsub(":", ""); print; exit }'
}

# --- One key, its certificate in every format --------------------------------
keygen "imss rsa" rsa:2048
k1_uri=$KEY_URI k1_id=$KEY_ID
csr_for "$k1_uri" "$T/req1.pem" "$subject"
pki_issue ca "$T/req1.pem" "$T/c1.pem"
openssl x509 -in "$T/c1.pem" -outform DER -out "$T/c1.der"
# Bundles with the CA first: the tool must pick the certificate of its key.
openssl crl2pkcs7 -nocrl -certfile "$T/ca.pem" -certfile "$T/c1.pem" -outform DER -out "$T/c1.p7b"
openssl crl2pkcs7 -nocrl -certfile "$T/ca.pem" -certfile "$T/c1.pem" -out "$T/c1.p7b.pem"

assert_eq 0 "$(count_certs)" "no certificate before import"
assert_exit 0 capture "$T/import.txt" imss import --token "$IMSS_TOKEN_URI" \
	--cert "$T/c1.der" --pin-source "file:$T/pin"
c1_uri=$(head -n 1 "$T/import.txt")
[[ $c1_uri == pkcs11:*type=cert* ]] || die "first line is not a certificate URI: $c1_uri"
assert_contains "$(<"$T/import.txt")" "$k1_uri" "import names the key"
assert_eq 1 "$(count_certs)" "DER import stores one certificate"
for f in c1.pem c1.p7b c1.p7b.pem c1.der; do
	assert_exit 0 capture "$T/import.txt" imss import --token "$IMSS_TOKEN_URI" \
		--cert "$T/$f" --pin-source "file:$T/pin"
	assert_eq "$c1_uri" "$(head -n 1 "$T/import.txt")" "$f: the same certificate URI"
	assert_eq 1 "$(count_certs)" "$f: imported again, no duplicate (and no CA stored)"
done

# Other PKCS#11 stacks see it next to its key.
assert_eq "$k1_id" "$(p11_id_of "Private Key" "imss rsa")" "pkcs11-tool: the private key's ID"
assert_eq "$k1_id" "$(p11_id_of Certificate "imss rsa")" "pkcs11-tool -O: certificate ID = key ID"
assert_eq "$k1_id" "$(gnutls_id_of "Private key" "imss rsa")" "p11tool: the private key's ID"
assert_eq "$k1_id" "$(gnutls_id_of "X.509 Certificate" "imss rsa")" \
	"p11tool --list-all: certificate ID = key ID"
p11 --read-object --type cert --id "$k1_id" -o "$T/c1-back.der" || die "pkcs11-tool cannot read it"
cmp -s "$T/c1.der" "$T/c1-back.der" || die "the stored certificate differs from the file"

# --json: the URI, the key, the fingerprint.
assert_exit 0 capture "$T/import.json" imss --json import --token "$IMSS_TOKEN_URI" \
	--cert "$T/c1.p7b" --pin-source "file:$T/pin"
assert_eq "$c1_uri|$k1_uri|$(fingerprint "$T/c1.pem")" \
	"$(jq -r '[.uri, .key_uri, .fingerprint_sha256] | join("|")' "$T/import.json")" \
	"--json uri, key_uri, fingerprint_sha256"

# --- Chain checks with --ca, and --label ------------------------------------
keygen "imss ec" ec:prime256v1
k2_id=$KEY_ID
csr_for "$KEY_URI" "$T/req2.pem" "$subject"
pki_issue ca "$T/req2.pem" "$T/c2.pem"
before=$(token_state)
assert_exit 1 imss import --token "$IMSS_TOKEN_URI" --cert "$T/c2.pem" \
	--ca "$T/foreign.pem" --pin-source "file:$T/pin"
assert_contains "$(<"$T/stderr")" "does not chain to the given CA" "foreign CA refused"
assert_unchanged "$before" "foreign CA"
assert_exit 0 capture "$T/import.txt" imss import --token "$IMSS_TOKEN_URI" \
	--cert "$T/c2.pem" --ca "$T/ca.pem" --label "imss cert 2" --pin-source "file:$T/pin"
assert_contains "$(head -n 1 "$T/import.txt")" "object=imss%20cert%202" "--label in the URI"
assert_eq "$k2_id" "$(p11_id_of Certificate "imss cert 2")" "--label: stored with the key's ID"
assert_eq 2 "$(count_certs)" "the right CA: stored"

# Through an intermediate: refused without it, accepted from the bundle.
keygen "imss inter" rsa:2048
csr_for "$KEY_URI" "$T/req3.pem" "$subject"
pki_issue inter "$T/req3.pem" "$T/c3.pem"
openssl crl2pkcs7 -nocrl -certfile "$T/c3.pem" -certfile "$T/inter.pem" -outform DER -out "$T/c3.p7b"
before=$(token_state)
assert_exit 1 imss import --token "$IMSS_TOKEN_URI" --cert "$T/c3.pem" \
	--ca "$T/ca.pem" --pin-source "file:$T/pin"
assert_contains "$(<"$T/stderr")" "does not chain" "missing intermediate refused"
assert_unchanged "$before" "missing intermediate"
# A bundle whose other certificate is not a CA of the leaf does not help.
openssl crl2pkcs7 -nocrl -certfile "$T/c3.pem" -certfile "$T/foreign.pem" -outform DER \
	-out "$T/c3-foreign.p7b"
assert_exit 1 imss import --token "$IMSS_TOKEN_URI" --cert "$T/c3-foreign.p7b" \
	--ca "$T/ca.pem" --pin-source "file:$T/pin"
assert_unchanged "$before" "bundle with a foreign certificate"
assert_exit 0 imss import --token "$IMSS_TOKEN_URI" --cert "$T/c3.p7b" \
	--ca "$T/ca.pem" --pin-source "file:$T/pin"
assert_eq 3 "$(count_certs)" "intermediate from the bundle: the leaf stored, not the intermediate"

# --- Validity -----------------------------------------------------------------
keygen "imss dated" rsa:2048
csr_for "$KEY_URI" "$T/req4.pem" "$subject"
pki_issue_dated ca "$T/req4.pem" "$T/expired.pem" 20200101000000Z 20200201000000Z
pki_issue_dated ca "$T/req4.pem" "$T/future.pem" 20990101000000Z 20991231000000Z
before=$(token_state)
assert_exit 1 imss import --token "$IMSS_TOKEN_URI" --cert "$T/expired.pem" \
	--pin-source "file:$T/pin"
assert_contains "$(<"$T/stderr")" "expired" "expired certificate refused"
assert_contains "$(<"$T/stderr")" "--force" "the refusal names --force"
assert_unchanged "$before" "expired"
assert_exit 1 imss import --token "$IMSS_TOKEN_URI" --cert "$T/expired.pem" \
	--ca "$T/ca.pem" --pin-source "file:$T/pin"
assert_unchanged "$before" "expired, with --ca"
assert_exit 1 imss import --token "$IMSS_TOKEN_URI" --cert "$T/future.pem" \
	--pin-source "file:$T/pin"
assert_contains "$(<"$T/stderr")" "not valid yet" "not yet valid certificate refused"
assert_unchanged "$before" "not yet valid"
assert_exit 0 imss import --token "$IMSS_TOKEN_URI" --cert "$T/expired.pem" \
	--ca "$T/ca.pem" --force --pin-source "file:$T/pin"
assert_eq 4 "$(count_certs)" "--force stores the expired certificate"

echo "PASS: $T_NAME"
