#!/usr/bin/env bash
# Make the seeds of the fuzz corpus that derive from the key material of
# fuzz/data/ (run after data/make.py).  Hand-written seeds (journals, CSV)
# and regression seeds (crashes found) are committed as they are.
set -euo pipefail
cd "$(dirname "$0")"
D=../data
b64() { base64 -w0; }
sign() { # sign IN [openssl cms options]: CMS SignedData (DER) of IN by the employer
	local in=$1
	shift
	openssl cms -sign -binary -md sha256 -in "$in" -signer $D/employer.pem \
		-inkey $D/employer.key -outform DER "$@"
}
mkdir -p certs certcheck credential service-cms service-csr service-json
cp $D/employer.der certs/employer.der
cp $D/employer.pem certs/employer.pem
cat $D/ca.pem $D/employer.pem >certs/chain.pem
openssl crl2pkcs7 -nocrl -certfile certs/chain.pem -outform DER -out certs/chain.p7b
openssl crl2pkcs7 -nocrl -certfile $D/employer.pem -out certs/employer.p7.pem
cp $D/employer.der certcheck/employer.der
openssl x509 -in $D/ca.pem -outform DER -out certcheck/ca.der
cp $D/employer.csr.der service-csr/rsa.der
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
	-subj '/O=EMPRESA DEMO SA DE CV/OU=Y1234567108/x500UniqueIdentifier=EDE010101AB1/CN=EMPRESA DEMO SA DE CV/emailAddress=rh@example.com' \
	-outform DER -out service-csr/ec-p256.der 2>/dev/null
challenge=$(mktemp)
trap 'rm -f "$challenge"' EXIT
printf '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' >"$challenge"
# service-cms: first byte 0 login challenge, 1 terms letter, 2 renewal.
{ printf '\0'; sign "$challenge" -nodetach; } >service-cms/challenge.bin
{ printf '\1'; sign $D/letter.txt; } >service-cms/letter.bin
{ printf '\2'; sign $D/employer.csr.der -nodetach -nocerts; } >service-cms/renewal.bin
# Regression: the letter's digestAlgorithms naming an unknown digest (SHA-256's
# OID, one byte changed) made OpenSSL's CMS_verify leak (src/service/cmsv.c).
cp service-cms/letter.bin service-cms/leak-detached-unknown-digest.bin
printf '\x4a' | dd of=service-cms/leak-detached-unknown-digest.bin bs=1 seek=35 conv=notrunc status=none
# service-json: first byte picks the route (fuzz-service-json.c).
printf '\0{"user":"usuario01"}' >service-json/challenge.json
{ printf '\1{"user":"usuario01","password":"Secreto123","signature":"'
  sign "$challenge" -nodetach | b64; printf '"}'; } >service-json/session.json
printf '\2{"email":"nuevo@example.com"}\n' >service-json/company.json
{ printf '\3{"signature":"'; sign $D/letter.txt | b64; printf '"}'; } >service-json/letter-signature.json
{ printf '\4{"request":"'; sign service-csr/ec-p256.der -nodetach -nocerts | b64; printf '"}'; } \
	>service-json/renewal.json
{ printf '\4{"request":"'; sign $D/employer.csr.der -nodetach -nocerts | b64; printf '"}'; } \
	>service-json/renewal-key-reused.json
# credential: first byte 0 .pfx; 1 .cer + .key (two bytes: the .cer's length).
# One encryption iteration keeps the target fast; a real count is a seed too.
pw=pass:Secreto123
{ printf '\0'; openssl pkcs12 -export -in $D/employer.pem -inkey $D/employer.key -passout $pw \
	-iter 1; } >credential/employer-iter1.pfx
{ printf '\0'; openssl pkcs12 -export -in $D/employer.pem -inkey $D/employer.key -passout $pw; } \
	>credential/employer.pfx
{ printf '\0'; openssl pkcs12 -export -in $D/employer.pem -inkey $D/employer.key -passout $pw \
	-legacy -iter 1; } >credential/employer-legacy.pfx
cer_key() { # cer_key KEY-OPTIONS...: the .cer + .key input
	local n
	n=$(stat -c %s $D/employer.der)
	printf '\1'
	printf '%b' "\\x$(printf %02x $((n >> 8)))\\x$(printf %02x $((n & 255)))"
	cat $D/employer.der
	openssl pkcs8 -topk8 -in $D/employer.key -outform DER -passout $pw "$@"
}
cer_key -v2 aes-256-cbc -iter 1 >credential/cer-key-iter1.bin
cer_key -v2 aes-256-cbc >credential/cer-key.bin
cer_key -v2 des3 -v2prf hmacWithSHA1 -iter 1 >credential/cer-key-des3.bin
