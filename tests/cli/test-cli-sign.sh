#!/usr/bin/env bash
# imss-renew sign: a throwaway CA issues certificates for RSA and EC token
# keys (from the tool's own requests); after import, `sign --key` makes
# detached and attached signatures, PEM and DER, and `openssl cms -verify`
# with the CA accepts each (SHA-256, signing time, signer certificate
# inside); also on a raw-only token.  The files IMSS users hold sign too: a
# .pfx (password from a file), a .cer + .key pair next to each other or
# named with --key-file.  A token key without a certificate: exit 1 and a
# message naming `import`, nothing written.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/cli-lib.sh
. "$TESTS_DIR/cli/cli-lib.sh"
t_need openssl jq
umask 022

t_make_token "IMSS CLI sign"
pki_init
pki_ca ca
printf 'Carta de Terminos y Condiciones\r\nfirmada por la empresa.\n' >"$T/letter.txt"
head -c 5000 /dev/urandom >>"$T/letter.txt"  # binary content must survive

# verify LABEL FILE FORM MODE: openssl cms -verify with the CA accepts the
# signature; an attached one gives back the letter.
verify() {
	local label=$1 file=$2 form=$3 mode=$4 content=()
	[[ $mode == attached ]] || content=(-content "$T/letter.txt")
	rm -f "$T/verified.out"
	openssl cms -verify -binary -inform "$form" -in "$file" "${content[@]}" \
		-CAfile "$T/ca.pem" -out "$T/verified.out" 2>"$T/cms.err" ||
		die "$label: openssl cms -verify failed: $(<"$T/cms.err")"
	assert_contains "$(<"$T/cms.err")" "Verification successful" "$label: openssl cms -verify"
	if [[ $mode == attached ]]; then
		cmp -s "$T/letter.txt" "$T/verified.out" || die "$label: attached content differs"
	fi
}

# sign_all LABEL ARGS...: every mode and format with these signer options.
sign_all() {
	local label=$1 mode form args
	shift
	for mode in detached attached; do
		for form in PEM DER; do
			args=()
			[[ $mode == detached ]] || args+=(--attached)
			[[ $form == PEM ]] || args+=(--der)
			rm -f "$T/sig"
			assert_exit 0 capture "$T/out" imss sign "$@" --in "$T/letter.txt" \
				--out "$T/sig" "${args[@]}"
			assert_eq "" "$(<"$T/out")" "$label $mode $form: nothing on stdout"
			if [[ $form == PEM ]]; then
				assert_eq "-----BEGIN CMS-----" "$(head -n 1 "$T/sig")" "$label: PEM type CMS"
			fi
			verify "$label $mode $form" "$T/sig" "$form" "$mode"
		done
	done
	# The last one (attached, DER): what is inside.
	openssl cms -cmsout -print -inform DER -in "$T/sig" >"$T/sig.txt"
	assert_contains "$(<"$T/sig.txt")" "signingTime" "$label: signing time"
	assert_contains "$(<"$T/sig.txt")" "sha256" "$label: SHA-256"
	assert_eq 644 "$(stat -c %a "$T/sig")" "$label: signature file mode 0644"
}

for type in rsa:2048 ec:prime256v1; do
	keygen "sign ${type/:/ }" "$type"
	# No certificate yet: refused, and the message says what to do.
	rm -f "$T/sig"
	assert_exit 1 imss sign --key "$KEY_URI" --in "$T/letter.txt" --out "$T/sig" \
		--pin-source "file:$T/pin"
	assert_contains "$(<"$T/stderr")" "imss-renew import" "$type: no certificate: names import"
	[[ ! -e $T/sig ]] || die "$type: a signature was written without a certificate"

	csr_for "$KEY_URI" "$T/req.pem" "/O=Empresa Ejemplo SA de CV/OU=Y1234567890/CN=$type"
	pki_issue ca "$T/req.pem" "$T/cert.pem"
	openssl x509 -in "$T/cert.pem" -outform DER -out "$T/cert.der"
	assert_exit 0 capture "$T/out" imss import --token "$IMSS_TOKEN_URI" \
		--cert "$T/cert.der" --pin-source "file:$T/pin"

	sign_all "$type --key" --key "$KEY_URI" --pin-source "file:$T/pin"

	# A raw-only token: the host hashes, the token signs the digest.
	rm -f "$T/sig"
	assert_exit 0 imss_raw --verbose sign --key "$KEY_URI" --in "$T/letter.txt" \
		--out "$T/sig" --der --pin-source "file:$T/pin"
	assert_contains "$(<"$T/stderr")" "hashing on the host" "$type: raw-only token signs a digest"
	verify "$type raw-only" "$T/sig" DER detached
done

# --json names what was written.
assert_exit 0 capture "$T/sign.json" imss --json sign --key "$KEY_URI" \
	--in "$T/letter.txt" --out "$T/sig" --pin-source "file:$T/pin"
assert_eq "$T/sig|pem|false|$KEY_URI" \
	"$(jq -r '[.file, .format, .attached, .key_location] | map(tostring) | join("|")' "$T/sign.json")" \
	"--json file, format, attached, key_location"

# The files IMSS users hold.
pki_user user "/O=Empresa Ejemplo SA de CV/OU=Y1234567890/CN=Representante"
sign_all ".pfx" --credential "$T/user.pfx" --password-source "file:$T/user.pw"
sign_all ".cer + .key" --credential "$T/user.cer" --password-source "file:$T/user.pw"
mkdir -p "$T/elsewhere"
cp "$T/user.key" "$T/elsewhere/Claveprivada_FIEL.key"
cp "$T/user.cer" "$T/elsewhere/empresa.cer"
rm -f "$T/sig"
assert_exit 0 imss sign --credential "$T/elsewhere/empresa.cer" \
	--key-file "$T/elsewhere/Claveprivada_FIEL.key" --password-source "file:$T/user.pw" \
	--in "$T/letter.txt" --out "$T/sig" --attached
verify ".cer + --key-file" "$T/sig" PEM attached
# The password from the environment and from a descriptor.
rm -f "$T/sig"
USER_PW=$(<"$T/user.pw") assert_exit 0 imss sign --credential "$T/user.pfx" \
	--password-source env:USER_PW --in "$T/letter.txt" --out "$T/sig" --der
verify ".pfx env:" "$T/sig" DER detached
rm -f "$T/sig"
assert_exit 0 imss sign --credential "$T/user.pfx" --password-source fd:3 \
	--in "$T/letter.txt" --out "$T/sig" 3<"$T/user.pw"
verify ".pfx fd:" "$T/sig" PEM detached

# An empty file signs too.
: >"$T/empty.txt"
rm -f "$T/sig"
assert_exit 0 imss sign --credential "$T/user.pfx" --password-source "file:$T/user.pw" \
	--in "$T/empty.txt" --out "$T/sig" --der
openssl cms -verify -binary -inform DER -in "$T/sig" -content "$T/empty.txt" \
	-CAfile "$T/ca.pem" -out /dev/null 2>/dev/null || die "signature of an empty file"

echo "PASS: $T_NAME"
