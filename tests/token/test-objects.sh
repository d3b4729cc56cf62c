#!/usr/bin/env bash
# Certificate objects, deletion and ambiguous URIs through the public API
# (test-objects.c), on a SoftHSM token; the certificates come from the
# openssl command line (a throwaway CA key on disk signs certificates for
# the token keys' public keys), and the result is checked from the outside
# with OpenSC's pkcs11-tool and GnuTLS's p11tool.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${TEST_OBJECTS:?TEST_OBJECTS is not set (run the test through ctest)}"
t_need pkcs11-tool p11tool openssl

t_make_token "IMSS objects"
W=$T/work
mkdir "$W"
objects() { "$TEST_OBJECTS" "$SOFTHSM2_MODULE" "$IMSS_TOKEN_URI" "$T/pin" "$@"; }
# The test's own throwaway PIN: acceptable on an outside tool's command line.
p11_list() { pkcs11-tool --module "$SOFTHSM2_MODULE" --login --pin "$USER_PIN" -O 2>/dev/null; }
gnutls_list() {
	GNUTLS_PIN=$USER_PIN p11tool --provider "$SOFTHSM2_MODULE" --login --list-all \
		"$IMSS_TOKEN_URI" 2>/dev/null
}
# p11_id CLASS LABEL: the ID pkcs11-tool shows for the CLASS ("Private Key",
# "Certificate") object labelled LABEL, one line per such object.
p11_id() {
	p11_list | awk -v class="$1" -v label="$2" '
		/^[^ \t]/ { keep = index($0, class " Object") == 1; l = "" }
		keep && /^[ \t]+label:/ { l = $0; sub(/^[ \t]+label:[ \t]*/, "", l) }
		keep && /^[ \t]+ID:/ && l == label { id = $0; sub(/^[ \t]+ID:[ \t]*/, "", id); print id }'
}
# gnutls_id TYPE LABEL: the IDs p11tool shows for objects of type= TYPE
# (private, cert) labelled LABEL, without the colons.
gnutls_id() {
	gnutls_list | awk -v type="$1" -v label="$2" '
		/^Object / { keep = 0; l = "" }
		/^[ \t]+URL:/ { keep = index($0, ";type=" type) > 0 }
		keep && /^[ \t]+Label:/ { l = $0; sub(/^[ \t]+Label:[ \t]*/, "", l) }
		keep && /^[ \t]+ID:/ && l == label { id = $0; sub(/^[ \t]+ID:[ \t]*/, "", id); gsub(":", "", id); print id }'
}

# 1. Keys, with their public keys exported by the C test (PEM_write_PUBKEY).
objects keys "$W"
for k in A B; do
	[[ -s $W/$k.pub.pem && -s $W/$k.uri ]] || die "no public key or URI for key $k"
done

# A second key labelled "twin", made outside (keygen refuses a label in use),
# so that object=twin matches two private keys.
pkcs11-tool --module "$SOFTHSM2_MODULE" --login --pin "$USER_PIN" --keypairgen \
	--key-type EC:prime256v1 --label twin --id 7717 >/dev/null 2>&1 ||
	die "pkcs11-tool cannot make the second twin"
assert_eq 2 "$(p11_id "Private Key" twin | wc -l)" "two private keys labelled twin"

# 2. A throwaway CA on disk signs a certificate for each token key's public
# key (the request is signed by the CA key; -force_pubkey puts the token
# key's public key in the certificate).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/ca.key" 2>/dev/null ||
	die "openssl cannot make the CA key"
openssl req -new -x509 -key "$W/ca.key" -subj "/CN=imss-objects test CA" -days 2 \
	-out "$W/ca.pem" 2>/dev/null || die "openssl cannot make the CA certificate"
for k in A B; do
	openssl req -new -key "$W/ca.key" -subj "/CN=imss-objects-$k" -out "$W/$k.csr" 2>/dev/null ||
		die "openssl cannot make the request for $k"
	openssl x509 -req -in "$W/$k.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" \
		-force_pubkey "$W/$k.pub.pem" -set_serial "0x$k$k" -days 2 -outform DER \
		-out "$W/$k.der" 2>/dev/null || die "openssl cannot sign the certificate for $k"
	assert_eq "$(openssl pkey -pubin -in "$W/$k.pub.pem" -outform DER | openssl dgst -sha256 -r)" \
		"$(openssl x509 -inform DER -in "$W/$k.der" -pubkey -noout | openssl pkey -pubin -outform DER |
			openssl dgst -sha256 -r)" "the certificate for $k holds $k's public key"
done
openssl verify -CAfile "$W/ca.pem" <(openssl x509 -inform DER -in "$W/A.der") >/dev/null ||
	die "the certificate for A does not verify against the CA"

# 3. Store: once, with the key's ID and label; mismatches refused.
p11_list >"$W/before-store.txt"
objects store "$W"
[[ -s $W/A.cert.uri ]] || die "the store step gave no certificate URI"

# 4. Outside views: the certificate has the ID of its private key.
priv_id=$(p11_id "Private Key" "objects A")
[[ $priv_id =~ ^[0-9a-f]{40}$ ]] || die "pkcs11-tool shows no single private key 'objects A': '$priv_id'"
assert_eq "$priv_id" "$(p11_id Certificate "objects A")" \
	"pkcs11-tool: one certificate 'objects A' with the ID of its private key"
assert_eq 1 "$(p11_list | grep -c '^Certificate Object')" "pkcs11-tool: one certificate on the token"
assert_contains "$(p11_list | awk '/^Certificate Object/,/^$/')" "CN=imss-objects-A" \
	"pkcs11-tool: the certificate's subject"
assert_eq "$priv_id" "$(gnutls_id private "objects A")" "p11tool: the private key 'objects A' and its ID"
assert_eq "$priv_id" "$(gnutls_id cert "objects A")" "p11tool: the certificate 'objects A' has the same ID"
assert_eq "$priv_id" "$(p11tool --provider "$SOFTHSM2_MODULE" --list-all "$IMSS_TOKEN_URI" 2>/dev/null |
	awk '/;type=cert/ { c = 1 } c && /ID:/ { sub(/^[ \t]+ID:[ \t]*/, ""); gsub(":", ""); print; exit }')" \
	"p11tool without login: the certificate is public, with the key's ID"
# The certificate on the token is the one made here.
pkcs11-tool --module "$SOFTHSM2_MODULE" --read-object --type cert --id "$priv_id" \
	-o "$W/A.read.der" >/dev/null 2>&1 || die "pkcs11-tool cannot read the certificate back"
cmp -s "$W/A.der" "$W/A.read.der" || die "the certificate on the token differs from A.der"
echo "ok: the certificate read back with pkcs11-tool is A.der"
# Only the certificate was added by the store step.
p11_list >"$W/after-store.txt"
assert_eq 1 "$(diff "$W/before-store.txt" "$W/after-store.txt" | grep -c '^> Certificate Object')" \
	"the store step added one certificate"
assert_eq 0 "$(diff "$W/before-store.txt" "$W/after-store.txt" | grep -c '^< ')" \
	"the store step removed nothing"

# 5. Delete, only what the expected public key names.
objects delete "$W"
assert_eq 0 "$(p11_list | grep -c '^Certificate Object')" "pkcs11-tool: the certificate is gone"
assert_eq "$priv_id" "$(p11_id "Private Key" "objects A")" "pkcs11-tool: key A is still there"
[[ -n $(p11_id "Private Key" "objects B") ]] || die "key B's private key was deleted"
echo "ok: key B's private key is still there"
assert_eq "" "$(gnutls_list | awk '/;type=public/ && /object=objects%20B/')" \
	"p11tool: B's public key was deleted"
assert_eq 2 "$(p11_id "Private Key" twin | wc -l)" "both twins are still there"

# 6. Two initialised tokens: "pkcs11:" (and NULL, "") are ambiguous.
first_serial=$IMSS_TOKEN_SERIAL first_uri=$IMSS_TOKEN_URI
t_make_token "IMSS objects 2"
[[ $IMSS_TOKEN_SERIAL != "$first_serial" ]] || die "the second token has the first one's serial"
IMSS_TOKEN_URI=$first_uri objects tokens \
	"serial=$first_serial;token=IMSS%20objects" "serial=$IMSS_TOKEN_SERIAL;token=IMSS%20objects%202"

echo "PASS: $T_NAME"
