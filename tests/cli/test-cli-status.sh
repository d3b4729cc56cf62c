#!/usr/bin/env bash
# imss-renew status of a certificate file, of a credential (.pfx, .cer +
# .key) and of a token with and without login: subject fields (razon
# social, registro patronal, RFC, CURP), issuer, serial, fingerprint and
# validity as openssl sees them, days left sane for a valid certificate and
# negative for an expired one, and where the private key is (a token key
# URI, the credential file, or not checked without login).  --json parses
# with jq and has every key.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/cli-lib.sh
. "$TESTS_DIR/cli/cli-lib.sh"
t_need openssl jq

t_make_token "IMSS CLI status"
pki_init
pki_ca ca
subject='/O=Empresa Ejemplo SA de CV/OU=Y1234567890/x500UniqueIdentifier=EEJ920101AB1'
subject+='/serialNumber=PEGJ800101HDFRRN09/emailAddress=rh@empresa.mx/CN=Juan Perez'

iso() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
# expect_cert JSON_OBJECT PEM LABEL: the fields openssl reads from PEM.
expect_cert() {
	local obj=$1 pem=$2 label=$3
	assert_eq "$(iso "$(openssl x509 -in "$pem" -noout -enddate | cut -d= -f2)")" \
		"$(jq -r .not_after <<<"$obj")" "$label: not_after (ISO 8601 UTC)"
	assert_eq "$(iso "$(openssl x509 -in "$pem" -noout -startdate | cut -d= -f2)")" \
		"$(jq -r .not_before <<<"$obj")" "$label: not_before (ISO 8601 UTC)"
	assert_eq "$(openssl x509 -in "$pem" -noout -serial | cut -d= -f2)" \
		"$(jq -r .serial <<<"$obj")" "$label: serial"
	assert_eq "$(fingerprint "$pem")" "$(jq -r .fingerprint_sha256 <<<"$obj")" "$label: fingerprint"
	assert_eq "$(openssl x509 -in "$pem" -noout -issuer -nameopt RFC2253 | cut -d= -f2-)" \
		"$(jq -r .issuer <<<"$obj")" "$label: issuer"
}
keys='["source","location","subject","razon_social","registro_patronal","rfc","curp",
	"email","issuer","serial","fingerprint_sha256","not_before","not_after","days_left",
	"expired","not_yet_valid","key_checked","key_present","key_location"]'

# A token with a valid and an expired certificate.
keygen "imss valid" rsa:2048
valid_uri=$KEY_URI
csr_for "$KEY_URI" "$T/req1.pem" "$subject"
pki_issue ca "$T/req1.pem" "$T/valid.pem" 30
keygen "imss expired" ec:prime256v1
expired_uri=$KEY_URI
csr_for "$KEY_URI" "$T/req2.pem" "$subject"
pki_issue_dated ca "$T/req2.pem" "$T/expired.pem" 20200101000000Z 20200201000000Z
for f in valid expired; do
	openssl x509 -in "$T/$f.pem" -outform DER -out "$T/$f.cer"
	assert_exit 0 capture "$T/out" imss import --token "$IMSS_TOKEN_URI" --cert "$T/$f.cer" \
		--force --pin-source "file:$T/pin"
done

# --cert FILE (DER and PEM).
for f in valid.cer valid.pem; do
	assert_exit 0 capture "$T/status.json" imss --json status --cert "$T/$f"
	obj=$(jq -c '.certificates[0]' "$T/status.json")
	assert_eq 1 "$(jq '.certificates | length' "$T/status.json")" "$f: one certificate"
	assert_eq true "$(jq --argjson k "$keys" '[$k[] as $key | has($key)] | all' <<<"$obj")" \
		"$f: every JSON key"
	expect_cert "$obj" "$T/valid.pem" "--cert $f"
	assert_eq "file|$T/$f|Empresa Ejemplo SA de CV|Y1234567890|EEJ920101AB1|PEGJ800101HDFRRN09|rh@empresa.mx" \
		"$(jq -r '[.source, .location, .razon_social, .registro_patronal, .rfc, .curp, .email] | join("|")' <<<"$obj")" \
		"$f: source, location, razon social, registro patronal, RFC, CURP, e-mail"
	days=$(jq .days_left <<<"$obj")
	((days == 29 || days == 30)) || die "$f: a 30-day certificate has $days days left"
	assert_eq "false|false|false|null" \
		"$(jq -r '[.expired, .not_yet_valid, .key_checked, .key_present] | map(tostring) | join("|")' <<<"$obj")" \
		"$f: valid, key not checked"
done
assert_exit 0 capture "$T/status.txt" imss status --cert "$T/valid.cer"
text=$(<"$T/status.txt")
for field in "razon social: *Empresa Ejemplo SA de CV" "registro patronal: *Y1234567890" \
	"RFC: *EEJ920101AB1" "CURP: *PEGJ800101HDFRRN09" "issuer: *CN=ca,O=Test PKI" "serial: " \
	"valid from: *20[0-9-]*T[0-9:]*Z" "valid until: " "status: *valid, (29|30) days left" \
	"private key: *not checked"; do
	grep -Eq "^  $field" <<<"$text" || die "--cert text: no line '$field' in: $text"
done
printf 'ok: --cert text fields\n'

# An expired certificate: negative days, EXPIRED.
assert_exit 0 capture "$T/status.json" imss --json status --cert "$T/expired.pem"
obj=$(jq -c '.certificates[0]' "$T/status.json")
expect_cert "$obj" "$T/expired.pem" "expired"
want=$(( ($(date -u -d 2020-02-01 +%s) - $(date -u +%s)) / 86400 - 1 ))
days=$(jq .days_left <<<"$obj")
((days == want || days == want + 1)) || die "expired: days_left $days, expected about $want"
assert_eq true "$(jq .expired <<<"$obj")" "expired: expired true"
assert_exit 0 capture "$T/status.txt" imss status --cert "$T/expired.pem"
grep -Eq "^  status: *EXPIRED $((-days)) days ago" "$T/status.txt" ||
	die "expired text: $(<"$T/status.txt")"
printf 'ok: expired text\n'

# --credential: a .pfx and a .cer + .key.
pki_user user "$subject"
assert_exit 0 capture "$T/status.json" imss --json status --credential "$T/user.pfx" \
	--password-source "file:$T/user.pw"
obj=$(jq -c '.certificates[0]' "$T/status.json")
expect_cert "$obj" "$T/user.pem" ".pfx"
assert_eq "credential|true|true|$T/user.pfx" \
	"$(jq -r '[.source, .key_checked, .key_present, .key_location] | map(tostring) | join("|")' <<<"$obj")" \
	".pfx: the key is in the file"
assert_exit 0 capture "$T/status.json" imss --json status --credential "$T/user.cer" \
	--key-file "$T/user.key" --password-source "file:$T/user.pw"
assert_eq "true|$T/user.key" "$(jq -r '.certificates[0] | [.key_present, .key_location] | map(tostring) | join("|")' \
	"$T/status.json")" ".cer + --key-file: the key file"
assert_exit 0 capture "$T/status.txt" imss status --credential "$T/user.cer" \
	--password-source "file:$T/user.pw"
assert_contains "$(<"$T/status.txt")" "private key:" ".cer text: private key line"

# --token without login: the keys are not checked.
assert_exit 0 capture "$T/status.json" imss --json status --token "$IMSS_TOKEN_URI"
assert_contains "$(<"$T/stderr")" "--login" "without login: a hint on stderr"
assert_eq 2 "$(jq '.certificates | length' "$T/status.json")" "--token: two certificates"
assert_eq "token|false|null|null" \
	"$(jq -r '[.certificates[] | [.source, .key_checked, .key_present, .key_location] | map(tostring) | join("|")] | unique | .[]' \
	"$T/status.json")" "--token without login: keys not checked"
assert_exit 0 capture "$T/status.txt" imss status --token "$IMSS_TOKEN_URI"
assert_eq 2 "$(grep -c 'private key: *not checked (log in with --login)' "$T/status.txt")" \
	"--token text: not checked"

# --token with login (--pin-source implies it, --login asks on the tty).
assert_exit 0 capture "$T/status.json" imss --json status --token "$IMSS_TOKEN_URI" \
	--pin-source "file:$T/pin"
valid=$(jq -c --arg fp "$(fingerprint "$T/valid.pem")" \
	'.certificates[] | select(.fingerprint_sha256 == $fp)' "$T/status.json")
expired=$(jq -c --arg fp "$(fingerprint "$T/expired.pem")" \
	'.certificates[] | select(.fingerprint_sha256 == $fp)' "$T/status.json")
expect_cert "$valid" "$T/valid.pem" "--token valid"
expect_cert "$expired" "$T/expired.pem" "--token expired"
assert_eq "true|true|$valid_uri" "$(jq -r '[.key_checked, .key_present, .key_location] | map(tostring) | join("|")' \
	<<<"$valid")" "--token --login: the valid certificate's key URI"
assert_eq "true|$expired_uri" "$(jq -r '[.key_present, .key_location] | map(tostring) | join("|")' \
	<<<"$expired")" "--token --login: the expired certificate's key URI"
[[ $(jq .days_left <<<"$expired") -lt 0 && $(jq .days_left <<<"$valid") -gt 0 ]] ||
	die "--token: days left not sane"
assert_contains "$(jq -r .location <<<"$valid")" "type=cert" "--token: location is the certificate URI"
# Without a source: the one token present.
assert_exit 0 capture "$T/status.txt" imss status --login --pin-source "file:$T/pin"
assert_contains "$(<"$T/status.txt")" "on the token: $valid_uri" "no source: the one token, logged in"
assert_contains "$(<"$T/status.txt")" "EXPIRED" "no source: the expired certificate"

echo "PASS: $T_NAME"
