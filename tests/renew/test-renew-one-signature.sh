#!/usr/bin/env bash
# One signature of the current key for the terms letter and the request
# (issue 12, docs/protocol.md): a renewal with the current key on the token
# signs three times in all (the login challenge, the request with the new
# key, the letter binding the request), the request goes bare to POST
# /renewal, and the letter's signature the service holds
#  - verifies with `openssl cms -verify` over the letter the tool saved,
#  - binds the request the tool saved (its SHA-256 in the attribute),
#  - is the signature stored with the request, whose PKCS#10 is that file.
# A kill -9 right after the letter's signature, or before the certificate
# is stored: the next run finishes with one request at the service.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=lib.sh
. "$TESTS_DIR/renew/lib.sh"
t_need sqlite3

OID=$(grep -o '2\.25\.[0-9]*' "$TESTS_DIR/../include/imss-renew/imss-renew.h" | head -n1)
svc_init
svc_start

# bound_digest SIG.der: the hex of the binding attribute's OCTET STRING.
bound_digest() {
	openssl asn1parse -inform DER -in "$1" | grep -A3 ":$OID\$" |
		sed -n 's/.*OCTET STRING *\[HEX DUMP\]://p' | tr A-F a-f
}

# check_one_signature WHAT: the letter and request of the case's renewal.
check_one_signature() {
	local what=$1 rp_id sig req
	rp_id=$(sqlite3 "$D/service.db" "SELECT id FROM employers WHERE registro_patronal = '$RP'")
	sig=$C/letter-signature.der
	sqlite3 "$D/service.db" "SELECT hex(cms) FROM requests WHERE employer_id = $rp_id" |
		xxd -r -p >"$sig"
	assert_eq 1 "$(sqlite3 "$D/service.db" "SELECT count(*) FROM requests WHERE employer_id = $rp_id")" \
		"$what: one request at the service"
	openssl cms -verify -binary -inform DER -in "$sig" -content "$(jq -r .letter_path "$(journal)")" \
		-noverify -out /dev/null 2>"$C/verify.err" ||
		die "$what: openssl cms -verify refuses the letter's signature: $(<"$C/verify.err")"
	req=$(jq -r .request_path "$(journal)")
	assert_eq "$(sha256sum <"$req" | cut -d' ' -f1)" "$(bound_digest "$sig")" \
		"$what: the letter's signature binds the request saved in the state directory"
	assert_eq "$(od -An -tx1 -v "$req" | tr -d ' \n' | tr a-f A-F)" \
		"$(sqlite3 "$D/service.db" "SELECT hex(csr) FROM requests WHERE employer_id = $rp_id")" \
		"$what: the service holds that request"
}

case_new once token
renew_run >"$C/out.txt" || die "once: renew failed: $(<"$C/err")"
check_renewed once
assert_eq 3 "$(grep -c '^C_Sign ' "$C/calls.log")" \
	"once: three signatures (login, request, letter and request together)"
check_one_signature once

# kill -9 right after the letter's signature was made (the third C_Sign),
# and before the certificate is stored (the request was sent bare): each
# next run finishes with the one request.
for kill in C_Sign:3:after C_CreateObject:1; do
	case_new "killed-${kill%%:*}" token
	FAULT_KILL=$kill renew_run >"$C/out.txt" && die "$kill: the run was not killed"
	renew_run >"$C/out.txt" || die "$kill: the next run failed: $(<"$C/err")"
	check_renewed "killed at $kill"
	check_one_signature "killed at $kill"
done
echo "ok: one signature binds the letter and the request"
