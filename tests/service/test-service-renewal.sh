#!/usr/bin/env bash
# A full renewal done by hand with curl and openssl, as docs/protocol.md
# tells it: an employer whose certificate expired logs in (marked
# renewal_required), changes the e-mail, gets and signs the terms letter,
# sends a PKCS#10 of a new key wrapped in a CMS signed by the old
# credential, and gets a certificate that `openssl verify` accepts, with
# the employer's subject, the new e-mail and the new key.  Then the new
# certificate logs in (no renewal required) and recovers itself by serial.
. "$TESTS_DIR/lib/common.sh"
. "$TESTS_DIR/service/lib.sh"

RP=Y1234567108
svc_init
svc_employer "$RP" usuario01 'EJEMPLO SA DE CV' EJE010101AB1 rh@ejemplo.mx
svc_issue "$RP" old --expired
svc_start

# The CA, pinned on first use, is the one init wrote.
assert_eq 200 "$(TOKEN='' api GET /ca)" "GET /ca"
assert_eq "$(openssl x509 -in "$D/ca.pem" -outform DER | sha256sum | cut -d' ' -f1)" \
	"$(jq -r .sha256 "$T/body")" "GET /ca: the CA's SHA-256"
curl -sS --cacert "$D/ca.pem" -H 'Accept: application/pkix-cert' -o "$T/ca.der" "$SVC_URL/ca"
assert_eq "$(openssl x509 -in "$D/ca.pem" -outform DER | sha256sum)" "$(sha256sum <"$T/ca.der")" \
	"GET /ca as application/pkix-cert"

# 1. challenge -> login with the expired certificate.
login usuario01 old
assert_eq true "$(jq -r .renewal_required "$T/body")" "expired certificate: renewal_required"
assert_eq true "$(jq -r .certificate.expired "$T/body")" "expired certificate: expired"
assert_eq "$(cat "$T/old.serial")" "$(jq -r .certificate.serial "$T/body")" "session's certificate"

# 2. company data; only the e-mail is editable, and it changes.
assert_eq 200 "$(api GET /company)" "GET /company"
assert_eq 'EJEMPLO SA DE CV|EJE010101AB1|rh@ejemplo.mx|["email"]' \
	"$(jq -rj '.razon_social, "|", .rfc, "|", .email, "|", (.editable|tojson)' "$T/body")" "company data"
assert_eq 200 "$(api PATCH /company '{"email":"nuevo@ejemplo.mx"}')" "PATCH /company e-mail"
assert_eq nuevo@ejemplo.mx "$(jq -r .email "$T/body")" "the e-mail changed"

# 3. the terms letter: a PDF for this employer, signed detached.
assert_eq 200 "$(api GET /letter '' -H 'Accept: application/pdf')" "GET /letter as PDF"
cp "$T/body" "$T/letter.pdf"
assert_eq '%PDF-' "$(head -c5 "$T/letter.pdf")" "the letter is a PDF"
assert_contains "$(tr -d '\r' <"$T/headers")" "X-Letter-SHA256: $(sha256sum <"$T/letter.pdf" | cut -d' ' -f1)" \
	"the letter's SHA-256 header"
assert_eq 200 "$(api GET /letter)" "GET /letter as JSON"
jq -r .pdf "$T/body" | openssl base64 -d -A >"$T/letter2.pdf"
cmp -s "$T/letter.pdf" "$T/letter2.pdf" || die "the JSON letter differs from the PDF one"
assert_eq false "$(jq -r .signed "$T/body")" "the letter is not signed yet"
sign_detached "$T/letter.pdf" "$T/letter.p7s" "$T/old.pem" "$T/old.key"
assert_eq 201 "$(api POST /letter/signature "{\"signature\":\"$(b64 "$T/letter.p7s")\"}")" \
	"POST /letter/signature"

# 4. the renewal request: a new key's PKCS#10 in a CMS signed by the old key.
SUBJ="/O=EJEMPLO SA DE CV/OU=$RP/x500UniqueIdentifier=EJE010101AB1/CN=EJEMPLO SA DE CV/emailAddress=nuevo@ejemplo.mx"
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/new.key" -subj "$SUBJ" \
	-outform DER -out "$T/new.csr" 2>/dev/null
sign_attached "$T/new.csr" "$T/renewal.p7s" "$T/old.pem" "$T/old.key"
assert_eq 201 "$(api POST /renewal "{\"request\":\"$(b64 "$T/renewal.p7s")\"}")" "POST /renewal: 201"
assert_eq issued "$(jq -r .status "$T/body")" "the certificate is issued at once"
jq -r .certificate.pem "$T/body" >"$T/new.pem"
SERIAL=$(jq -r .certificate.serial "$T/body")
assert_contains "$(tr -d '\r' <"$T/headers")" "Location: /idse/v1/certificates/$SERIAL" "Location"

# 5. the new certificate.
assert_eq "$T/new.pem: OK" "$(openssl verify -CAfile "$D/ca.pem" "$T/new.pem")" "openssl verify"
assert_eq "subject=O = EJEMPLO SA DE CV, OU = $RP, x500UniqueIdentifier = EJE010101AB1, CN = EJEMPLO SA DE CV, emailAddress = nuevo@ejemplo.mx" \
	"$(openssl x509 -in "$T/new.pem" -noout -subject)" "the employer's subject, new e-mail"
assert_eq "$(spki_of_key "$T/new.key")" "$(spki_of_cert "$T/new.pem")" "the new certificate has the new key"
[[ $(spki_of_key "$T/new.key") != "$(spki_of_cert "$T/old.pem")" ]] || die "the key did not change"
assert_eq "serial=$SERIAL" "$(openssl x509 -in "$T/new.pem" -noout -serial)" "serial"
ext=$(openssl x509 -in "$T/new.pem" -noout -ext keyUsage,extendedKeyUsage,basicConstraints)
assert_contains "$ext" "Digital Signature, Non Repudiation" "keyUsage"
assert_contains "$ext" "TLS Web Client Authentication, E-mail Protection" "extendedKeyUsage"
assert_contains "$ext" "CA:FALSE" "basicConstraints"
nb=$(date -d "$(openssl x509 -in "$T/new.pem" -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in "$T/new.pem" -noout -enddate | cut -d= -f2)" +%s)
assert_eq 182 $(((na - nb) / 86400)) "valid six months (182 days)"
openssl x509 -in "$T/new.pem" -noout -checkend 86400 >/dev/null || die "the new certificate is not current"

# 6. the new certificate logs in; the certificate is recoverable by serial.
api DELETE /session >/dev/null
assert_eq 401 "$(api GET /company)" "after logout"
expect_error 401 SESSION_EXPIRED "$(api GET /company)" "a closed session is refused"
cp "$T/new.key" "$T/cur.key"
cp "$T/new.pem" "$T/cur.pem"
login usuario01 cur
assert_eq false "$(jq -r .renewal_required "$T/body")" "the new certificate: no renewal required"
assert_eq 200 "$(api GET "/certificates/$SERIAL")" "GET /certificates/SERIAL"
assert_eq "$(cat "$T/new.pem")" "$(jq -r .certificate.pem "$T/body")" "recovered by serial (JSON)"
assert_eq 200 "$(api GET "/certificates/${SERIAL,,}" '' -H 'Accept: application/pkix-cert')" \
	"GET /certificates/serial as application/pkix-cert"
assert_eq "$(openssl x509 -in "$T/new.pem" -outform DER | sha256sum)" "$(sha256sum <"$T/body")" \
	"recovered by serial (DER)"
svc_stop
