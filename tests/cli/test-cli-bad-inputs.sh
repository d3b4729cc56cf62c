#!/usr/bin/env bash
# Bad inputs to import, sign, status and csr: a certificate for another key,
# a truncated DER file, a garbage file, an empty file, a PKCS#7 with no
# certificate, a .pfx with the wrong password or not a .pfx at all, a .key
# that does not match its .cer, a .key with the wrong password or cut
# short.  Each: exit 1, a message naming the problem (also as a JSON error),
# and the token, every input file and the output directory unchanged.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/cli-lib.sh
. "$TESTS_DIR/cli/cli-lib.sh"
t_need openssl jq

t_make_token "IMSS CLI bad inputs"
pki_init
pki_ca ca
mkdir -p "$T/outdir" "$T/in"
subject='/O=Empresa Ejemplo SA de CV/OU=Y1234567890/CN=Juan Perez'

# The token holds a key with its certificate.
keygen "imss rsa" rsa:2048
csr_for "$KEY_URI" "$T/req.pem" "$subject"
pki_issue ca "$T/req.pem" "$T/in/good.pem"
openssl x509 -in "$T/in/good.pem" -outform DER -out "$T/in/good.der"
assert_exit 0 capture "$T/out" imss import --token "$IMSS_TOKEN_URI" \
	--cert "$T/in/good.der" --pin-source "file:$T/pin"

# The bad files.
pki_user user "$subject"
pki_user other "/O=Otra Empresa/OU=Z9999999999/CN=Otra"
mv "$T"/user.* "$T"/other.* "$T/in/"
printf 'not the password' >"$T/in/wrong.pw"
head -c 200 "$T/in/good.der" >"$T/in/truncated.der"
head -c 1200 /dev/urandom >"$T/in/garbage.der"
: >"$T/in/empty.der"
openssl crl2pkcs7 -nocrl -outform DER -out "$T/in/empty.p7b"
openssl crl2pkcs7 -nocrl -out "$T/in/empty.p7b.pem"
head -c 1200 /dev/urandom >"$T/in/garbage.pfx"
mkdir -p "$T/in/mismatch" "$T/in/short"
cp "$T/in/user.cer" "$T/in/mismatch/empresa.cer"
cp "$T/in/other.key" "$T/in/mismatch/empresa.key"
cp "$T/in/user.cer" "$T/in/short/empresa.cer"
head -c 300 "$T/in/user.key" >"$T/in/short/empresa.key"
printf 'carta' >"$T/in/letter.txt"
mapfile -t inputs < <(find "$T/in" -type f | sort)
before=$(token_state "${inputs[@]}")

# refused CODE MESSAGE ARGS...: exit 1, MESSAGE on stderr, the JSON error
# CODE with --json, nothing changed.
refused() {
	local code=$1 message=$2
	shift 2
	assert_exit 1 capture "$T/out" imss "$@"
	cat "$T/stderr" >>"$T/messages"
	assert_contains "$(<"$T/stderr")" "$message" "$*: names the problem"
	assert_eq "" "$(<"$T/out")" "$*: nothing on stdout"
	assert_exit 1 capture "$T/out.json" imss --json "$@"
	assert_eq "$code 1" "$(jq -r '"\(.error.code) \(.error.exit)"' "$T/out.json")" "$*: JSON error code"
	assert_unchanged "$before" "$*" "${inputs[@]}"
}
pin=(--pin-source "file:$T/pin")
sign=(sign --in "$T/in/letter.txt" --out "$T/outdir/sig")

# import (error codes: no object, format, I/O).
refused NO_OBJECT "not on this token" import --token "$IMSS_TOKEN_URI" --cert "$T/in/other.cer" "${pin[@]}"
refused FORMAT "holds no certificate" import --token "$IMSS_TOKEN_URI" --cert "$T/in/truncated.der" "${pin[@]}"
refused FORMAT "holds no certificate" import --token "$IMSS_TOKEN_URI" --cert "$T/in/garbage.der" "${pin[@]}"
refused FORMAT "holds no certificate" import --token "$IMSS_TOKEN_URI" --cert "$T/in/empty.der" "${pin[@]}"
refused FORMAT "holds no certificate" import --token "$IMSS_TOKEN_URI" --cert "$T/in/empty.p7b" "${pin[@]}"
refused FORMAT "holds no certificate" import --token "$IMSS_TOKEN_URI" --cert "$T/in/empty.p7b.pem" "${pin[@]}"
refused IO "Cannot open" import --token "$IMSS_TOKEN_URI" --cert "$T/in/no-such.der" "${pin[@]}"
refused FORMAT "holds no certificate" import --token "$IMSS_TOKEN_URI" --cert "$T/in/good.der" \
	--ca "$T/in/garbage.der" "${pin[@]}"

# sign and status with credential files (wrong password, mismatch).
refused PASSWORD_INCORRECT "password of '$T/in/user.pfx' is wrong" "${sign[@]}" --credential "$T/in/user.pfx" \
	--password-source "file:$T/in/wrong.pw"
refused PASSWORD_INCORRECT "is wrong" status --credential "$T/in/user.pfx" --password-source "file:$T/in/wrong.pw"
refused FORMAT "is not a PKCS#12" "${sign[@]}" --credential "$T/in/garbage.pfx" \
	--password-source "file:$T/in/user.pw"
refused PASSWORD_INCORRECT "password of '$T/in/user.key' is wrong" "${sign[@]}" --credential "$T/in/user.cer" \
	--password-source "file:$T/in/wrong.pw"
refused MISMATCH "does not belong to the certificate" "${sign[@]}" \
	--credential "$T/in/mismatch/empresa.cer" --password-source "file:$T/in/other.pw"
refused MISMATCH "does not belong" status --credential "$T/in/user.cer" \
	--key-file "$T/in/other.key" --password-source "file:$T/in/other.pw"
refused FORMAT "is not an encrypted PKCS#8" "${sign[@]}" --credential "$T/in/short/empresa.cer" \
	--password-source "file:$T/in/user.pw"
refused FORMAT "holds no certificate" "${sign[@]}" --credential "$T/in/garbage.der" \
	--key-file "$T/in/user.key" --password-source "file:$T/in/user.pw"
refused IO "Cannot open" "${sign[@]}" --credential "$T/in/user.cer" \
	--key-file "$T/in/no-such.key" --password-source "file:$T/in/user.pw"
refused IO "Cannot open '$T/in/no-such.txt'" sign --in "$T/in/no-such.txt" \
	--out "$T/outdir/sig" --credential "$T/in/user.pfx" --password-source "file:$T/in/user.pw"

# status and csr with bad certificate files.
refused FORMAT "holds no certificate" status --cert "$T/in/truncated.der"
refused FORMAT "holds no certificate" csr --key "$KEY_URI" --subject-from "$T/in/garbage.der" \
	--out "$T/outdir/req.pem" "${pin[@]}"

# No password in any message.
for f in "$T/in/user.pw" "$T/in/other.pw" "$T/in/wrong.pw"; do
	[[ $(<"$T/messages") != *"$(<"$f")"* ]] || die "a password appears in a message"
done

echo "PASS: $T_NAME"
