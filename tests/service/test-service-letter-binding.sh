#!/usr/bin/env bash
# One signature for the letter and the request (docs/protocol.md, issue 12):
# a letter signature whose signed attributes bind a request's SHA-256 makes
# POST /renewal take that request bare, with no CMS of its own.
#  1. the bound signature is still a detached CMS over the letter that
#     `openssl cms -verify` accepts; the service answers with the bound
#     digest; the bare request is issued, and sent again it gets the same
#     request back (safe to repeat); the certificate verifies;
#  2. refused: a bare request before the letter is signed
#     (LETTER_NOT_SIGNED), after a letter signed without a binding or bound
#     to another request (SIGNATURE_INVALID), a binding of another length
#     (CMS_MALFORMED), a bound signature of another employer's certificate
#     (SIGNER_MISMATCH); none of them stores a request;
#  3. the two-signature shape (test-service-renewal.sh) still works after a
#     bound letter signature: the request in its own CMS is accepted too.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=lib.sh
. "$TESTS_DIR/service/lib.sh"
: "${CMS_BIND:?CMS_BIND is not set (run the test through ctest)}"

svc_two_expired
svc_employer X1111111113 usuario03
svc_issue X1111111113 c --expired
svc_start

# letter NAME: the session's letter as $T/NAME-letter.pdf.
letter() {
	assert_eq 200 "$(api GET /letter '' -H 'Accept: application/pdf')" "$1: GET /letter"
	cp "$T/body" "$T/$1-letter.pdf"
}
# bind NAME SIGNER HEX: NAME's letter signed by SIGNER's credential, the
# binding attribute holding HEX; the answer's status.
bind() {
	"$CMS_BIND" "$T/$2.pem" "$T/$2.key" "$T/$1-letter.pdf" "$T/$1-bound.p7s" "$3" ||
		die "cms-bind $1"
	api POST /letter/signature "{\"signature\":\"$(b64 "$T/$1-bound.p7s")\"}"
}
# bare NAME: POST /renewal with NAME's request itself (no CMS).
bare() { api POST /renewal "{\"request\":\"$(b64 "$T/$1.csr")\"}"; }
sha() { sha256sum <"$1" | cut -d' ' -f1; }
requests() { sqlite3 "$D/service.db" "SELECT count(*) FROM requests"; }

# 1. Employer A: one bound signature, the request bare.
login usuario01 a
request a "$RPA" new-a
expect_error 409 LETTER_NOT_SIGNED "$(bare new-a)" "a bare request before the letter is signed"
letter a
assert_eq 201 "$(bind a a "$(sha "$T/new-a.csr")")" "POST /letter/signature, bound"
assert_eq "$(sha "$T/new-a.csr")" "$(jq -r .request_sha256 "$T/body")" \
	"the answer names the bound request's SHA-256"
openssl cms -verify -binary -inform DER -in "$T/a-bound.p7s" -content "$T/a-letter.pdf" \
	-noverify -out /dev/null 2>"$T/verify.err" ||
	die "openssl cms -verify refuses the bound letter signature: $(<"$T/verify.err")"
openssl cms -cmsout -print -inform DER -in "$T/a-bound.p7s" | grep -qF "$(grep -o '2\.25\.[0-9]*' \
	"$TESTS_DIR/../include/imss-renew/imss-renew.h" | head -n1)" ||
	die "the bound signature does not carry the binding attribute"
assert_eq 201 "$(bare new-a)" "POST /renewal with the bare request: issued"
id=$(jq -r .request_id "$T/body")
jq -r .certificate.pem "$T/body" >"$T/new-a.pem"
assert_eq "$T/new-a.pem: OK" "$(openssl verify -CAfile "$D/ca.pem" "$T/new-a.pem")" "openssl verify"
assert_eq "$(spki_of_key "$T/new-a.key")" "$(spki_of_cert "$T/new-a.pem")" "the certificate has the new key"
assert_eq 201 "$(bare new-a)" "the bare request sent again"
assert_eq "$id" "$(jq -r .request_id "$T/body")" "sent again: the same request, not a second one"
assert_eq 1 "$(requests)" "one request stored"
assert_eq "$(od -An -tx1 -v "$T/a-bound.p7s" | tr -d ' \n' | tr a-f A-F)" \
	"$(sqlite3 "$D/service.db" "SELECT hex(cms) FROM requests WHERE id = '$id'")" \
	"the request is stored with the letter signature that binds it"

# 2. Employer B: every way a bare request is not covered is refused.
login usuario02 b
request b "$RPB" new-b
request b "$RPB" other-b
letter b
sign_detached "$T/b-letter.pdf" "$T/b-plain.p7s" "$T/b.pem" "$T/b.key"
assert_eq 201 "$(api POST /letter/signature "{\"signature\":\"$(b64 "$T/b-plain.p7s")\"}")" \
	"a letter signature without a binding"
assert_eq null "$(jq -r .request_sha256 "$T/body")" "no binding, no request_sha256"
expect_error 422 SIGNATURE_INVALID "$(bare new-b)" "a bare request after a letter signed without a binding"
login usuario02 b
letter b
expect_error 400 CMS_MALFORMED "$(bind b b "$(sha "$T/new-b.csr" | cut -c1-32)")" "a binding of 16 bytes"
expect_error 403 SIGNER_MISMATCH "$(bind b a "$(sha "$T/new-b.csr")")" "a binding signed by another employer"
assert_eq 201 "$(bind b b "$(sha "$T/other-b.csr")")" "a letter bound to another request"
expect_error 422 SIGNATURE_INVALID "$(bare new-b)" "a bare request the letter does not bind"
assert_eq 1 "$(requests)" "no request stored for the refused ones"

# 3. Employer C: bound letter, then the request in its own CMS (old shape).
login usuario03 c
request c X1111111113 new-c
letter c
assert_eq 201 "$(bind c c "$(sha "$T/new-c.csr")")" "employer C: a bound letter signature"
assert_eq 201 "$(renewal new-c)" "employer C: the request wrapped in its own CMS is accepted too"
assert_eq 2 "$(requests)" "two requests stored"
echo "ok: one signature binds the letter and the request; the two-signature shape still works"
