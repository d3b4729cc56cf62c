#!/usr/bin/env bash
# Every key type, hash and padding signs through the token layer and
# verifies with OpenSSL: with SoftHSM's hash-and-sign mechanisms, and with
# the fault module's raw-only token (host hashing, DigestInfo, raw ECDSA
# converted to DER, leading zeros included).
. "$TESTS_DIR/lib/common.sh"
t_tmpdir
t_make_token signer

"$TEST_SIGN" "$SOFTHSM2_MODULE" "$IMSS_TOKEN_URI" "$T/pin" hash \
	rsa:2048 rsa:3072 ec:prime256v1 ec:secp384r1 | tee "$T/hash.out"
assert_contains "$(cat "$T/hash.out")" "via CKM_SHA256_RSA_PKCS_PSS" "PSS used the token's hash-and-sign"

FAULT_PKCS11_REAL="$SOFTHSM2_MODULE" FAULT_RAW_ONLY=1 \
	"$TEST_SIGN" "$FAULT_MODULE" "$IMSS_TOKEN_URI" "$T/pin" raw \
	rsa:2048 rsa:4096 ec:prime256v1 ec:secp384r1 | tee "$T/raw.out"
assert_contains "$(cat "$T/raw.out")" "via CKM_RSA_PKCS_PSS" "raw PSS fallback"
assert_contains "$(cat "$T/raw.out")" "leading-zero r and s seen" "ECDSA leading zeros"

# Keys with CKA_ALWAYS_AUTHENTICATE (the fault module adds it at keygen):
# every C_SignInit is followed by a context-specific C_Login before C_Sign,
# the PIN read again from the file each time, and every signature verifies.
rc=0
FAULT_PKCS11_REAL="$SOFTHSM2_MODULE" FAULT_ALWAYS_AUTH=1 FAULT_LOG="$T/auth.log" \
	"$TEST_SIGN" "$FAULT_MODULE" "$IMSS_TOKEN_URI" "$T/pin" auth \
	rsa:2048 ec:prime256v1 | tee "$T/auth.out" || rc=$?
assert_contains "$(cat "$T/auth.out")" "PIN file gone: The PIN could not be read" \
	"the context login reads the PIN file again"
# The log (successful C_SignInit calls only: a token without a
# hash-and-sign mechanism refuses the first try of each, before any login).
# The first 18 C_SignInit calls are the signatures meant to work
# (rsa: 6 with the key as generated, 6 as found again; ec: 3 + 3): each is
# followed by a C_Login, then a C_Sign, both succeeding.  Then come the
# refusals (PIN file gone, wrong PIN) and 2 more signatures.
read -r stretches good < <(awk '
	$1 == "C_SignInit" && $2 == "0x0" { k++; login[k] = 0; sign[k] = ""; next }
	$1 == "C_Login" && k && sign[k] == "" { if ($2 == "0x0") login[k] = 1; next }
	$1 == "C_Sign" && k && sign[k] == "" { sign[k] = $2 }
	END { for (i = 1; i <= 18; i++) if (login[i] && sign[i] == "0x0") g++
	      printf "%d %d\n", k, g }' "$T/auth.log")
assert_eq 18 "$good" "a context C_Login between each C_SignInit and its C_Sign"
((stretches >= 20)) || die "only $stretches C_SignInit calls in the always-authenticate run"
assert_eq 20 "$(grep -c '^C_Sign 0x0' "$T/auth.log")" "20 signatures made with always-authenticate keys"
assert_eq 21 "$(grep -c '^C_Login 0x0' "$T/auth.log")" \
	"one C_Login for the session and one per signature"
assert_eq 0 "$rc" "test-sign auth exit status"
assert_contains "$(cat "$T/auth.out")" "all signatures verified" "always-authenticate keys sign and verify"
