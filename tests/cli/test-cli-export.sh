#!/usr/bin/env bash
# imss-renew export of certificates imported for RSA and EC keys: DER (the
# default) and PEM files that openssl reads, with the fingerprint of the
# imported certificate, which `openssl verify` accepts with the CA; mode
# 0644.  An existing file is left as it is without --force and replaced
# with it; a symbolic link or a device is never replaced.  A URI that
# matches no certificate or names none (no id= or object=), and a
# directory that does not exist: exit 1 and no file.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/cli-lib.sh
. "$TESTS_DIR/cli/cli-lib.sh"
t_need openssl jq
umask 022

t_make_token "IMSS CLI export"
pki_init
pki_ca ca

for type in rsa:2048 ec:prime256v1; do
	key_and_cert "export ${type/:/ }" "$type" "/O=Empresa Ejemplo SA de CV/OU=Y1234567890/CN=$type"
	uri=$CERT_URI
	want=$(fingerprint "$T/cert.pem")

	rm -f "$T/out.cer" "$T/out.pem"
	assert_exit 0 capture "$T/out" imss export --cert "$uri" --out "$T/out.cer"
	assert_eq "" "$(<"$T/out")" "$type: nothing on stdout"
	openssl x509 -inform DER -in "$T/out.cer" -noout 2>/dev/null ||
		die "$type: openssl x509 -inform DER cannot read the export"
	assert_eq "$want" "$(fingerprint "$T/out.cer")" "$type: DER export has the imported fingerprint"
	cmp -s "$T/cert.der" "$T/out.cer" || die "$type: DER export differs from the imported file"
	assert_eq 644 "$(stat -c %a "$T/out.cer")" "$type: mode 0644"
	assert_eq "$T/out.cer: OK" "$(openssl verify -CAfile "$T/ca.pem" "$T/out.cer" 2>&1)" \
		"$type: openssl verify accepts the export"

	assert_exit 0 capture "$T/export.json" imss --json export --cert "$uri" --out "$T/out.pem" --pem
	assert_eq "-----BEGIN CERTIFICATE-----" "$(head -n 1 "$T/out.pem")" "$type: PEM export"
	assert_eq "$want" "$(fingerprint "$T/out.pem")" "$type: PEM export has the imported fingerprint"
	assert_eq "$T/out.pem|pem|$want" \
		"$(jq -r '[.file, .format, .fingerprint_sha256] | join("|")' "$T/export.json")" \
		"$type: --json file, format, fingerprint"
done

# An existing file: left as it is without --force, replaced with it.
sum=$(sha256sum <"$T/out.cer")
assert_exit 1 imss export --cert "$uri" --out "$T/out.cer" --pem
assert_contains "$(<"$T/stderr")" "exists already" "existing file: refused"
assert_contains "$(<"$T/stderr")" "--force" "existing file: the refusal names --force"
assert_eq "$sum" "$(sha256sum <"$T/out.cer")" "existing file: unchanged"
assert_exit 0 imss export --cert "$uri" --out "$T/out.cer" --pem --force
assert_eq "-----BEGIN CERTIFICATE-----" "$(head -n 1 "$T/out.cer")" "--force replaces the file"
[[ -z $(find "$T" -maxdepth 1 -name 'out.*.*') ]] || die "a temporary file was left"
# Not a regular file: a device or a symbolic link is not replaced, even with --force.
ln -s out.cer "$T/link.cer"
assert_exit 1 imss export --cert "$uri" --out "$T/link.cer" --force
assert_contains "$(<"$T/stderr")" "not a regular file" "a symbolic link: refused"
[[ -L $T/link.cer ]] || die "the symbolic link was replaced"
assert_exit 1 imss export --cert "$uri" --out /dev/null --force
assert_contains "$(<"$T/stderr")" "not a regular file" "a device: refused"
[[ -c /dev/null ]] || die "/dev/null was replaced"

# No certificate, no object named, nowhere to write: exit 1, no file.
assert_exit 1 imss export --cert "$IMSS_TOKEN_URI;object=no-such;type=cert" --out "$T/none.cer"
assert_contains "$(<"$T/stderr")" "No matching object" "no such certificate"
assert_exit 1 imss export --cert "$IMSS_TOKEN_URI;type=cert" --out "$T/none.cer"
assert_contains "$(<"$T/stderr")" "names no object" "a URI without id= or object="
assert_exit 1 imss export --cert "$uri" --out "$T/no-such-dir/x.cer"
assert_contains "$(<"$T/stderr")" "Cannot write '$T/no-such-dir/x.cer'" "no such directory"
[[ ! -e $T/none.cer ]] || die "a file was written for a failed export"

echo "PASS: $T_NAME"
