#!/usr/bin/env bash
# Strict inputs (issue 9, finding 13).  JSON bodies: strict UTF-8 in every
# string and member name, raw or escaped: overlong forms, encoded
# surrogates, code points over U+10FFFF, lone \u surrogates (which json-c
# turns into U+FFFD) and \u0000 (which cuts a member name) are
# JSON_MALFORMED, in the one error shape, and change nothing.  TLS: 1.2
# offers no CBC suite (so no SHA-1 MAC) and refuses SHA-1 signatures;
# AEAD suites in 1.2 and 1.3 work.
. "$TESTS_DIR/lib/common.sh"
. "$TESTS_DIR/service/lib.sh"

svc_init
svc_employer Y1234567108 usuario01
svc_start
PORT=${SVC_URL#https://127.0.0.1:}
PORT=${PORT%%/*}

# refused MSG JSON: 400 JSON_MALFORMED, the database unchanged.
refused() {
	local before
	before=$(db_state)
	expect_error 400 JSON_MALFORMED "$(TOKEN='' api POST /challenge "$2")" "$1"
	assert_eq "$before" "$(db_state)" "$1: database unchanged"
}
refused "invalid byte" $'{"user":"usuario01\xff"}'
refused "overlong '/' (C0 AF)" $'{"user":"usuario01\xc0\xaf"}'
refused "overlong NUL (C0 80)" $'{"user":"usuario01\xc0\x80"}'
refused "encoded surrogate (ED A0 80)" $'{"user":"usuario01\xed\xa0\x80"}'
refused "over U+10FFFF (F4 90 80 80)" $'{"user":"usuario01\xf4\x90\x80\x80"}'
refused "truncated sequence" $'{"user":"usuario01\xe2\x82"}'
refused "lone high surrogate escape" '{"user":"usuario01\ud800"}'
refused "lone low surrogate escape" '{"user":"\udc00usuario01"}'
refused "high surrogate then a letter" '{"user":"usuario01\ud800\u0041"}'
refused "two high surrogates" '{"user":"\ud800\ud800"}'
refused "surrogate escape in upper case" '{"user":"\uDBFF"}'
refused "surrogate escape in a member name" '{"us\ud800er":"usuario01"}'
refused "NUL escape in a member name" '{"user\u0000x":"usuario01"}'
refused "NUL escape in a value" '{"user":"usuario01\u0000"}'
refused "invalid byte in a member name" $'{"us\xfe":"usuario01"}'
# Well-formed text is still accepted (an unknown user gets a challenge too).
assert_eq 201 "$(TOKEN='' api POST /challenge '{"user":"\ud83d\ude00x"}')" "a surrogate pair is a character"
assert_eq 201 "$(TOKEN='' api POST /challenge $'{"user":"\xc3\x91and\xc3\xba \xf0\x9f\x98\x80"}')" \
	"UTF-8 of 2 and 4 bytes"
assert_eq 201 "$(TOKEN='' api POST /challenge '{"user":"usu\"ario\\\\01\u00e9"}')" "other escapes"

# tls ARGS...: the cipher a handshake agreed, or "(NONE)".
tls() {
	timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$D/ca.pem" "$@" </dev/null 2>&1 |
		sed -n 's/^New, [^,]*, Cipher is //p' | head -n1
}
for cipher in ECDHE-ECDSA-AES128-SHA ECDHE-ECDSA-AES256-SHA ECDHE-RSA-AES128-SHA AES128-SHA \
	ECDHE-ECDSA-AES128-SHA256 ECDHE-ECDSA-AES256-SHA384; do
	# @SECLEVEL=0: the client offers them; the service must refuse.
	assert_eq '(NONE)' "$(tls -tls1_2 -cipher "$cipher:@SECLEVEL=0")" "TLS 1.2 with $cipher refused"
done
for sigalg in ECDSA+SHA1 RSA+SHA1 ECDSA+SHA224; do
	assert_eq '(NONE)' "$(tls -tls1_2 -cipher 'DEFAULT:@SECLEVEL=0' -sigalgs "$sigalg")" \
		"TLS 1.2 with only $sigalg signatures refused"
done
assert_eq ECDHE-ECDSA-AES256-GCM-SHA384 "$(tls -tls1_2)" "TLS 1.2 agrees an AEAD suite"
assert_eq ECDHE-ECDSA-CHACHA20-POLY1305 "$(tls -tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305)" \
	"TLS 1.2 with ChaCha20-Poly1305"
assert_eq ECDHE-ECDSA-AES128-GCM-SHA256 "$(tls -tls1_2 -sigalgs ECDSA+SHA256 -cipher ECDHE-ECDSA-AES128-GCM-SHA256)" \
	"TLS 1.2 with ECDSA+SHA256 signatures"
assert_eq TLS_AES_256_GCM_SHA384 "$(tls -tls1_3)" "TLS 1.3"
assert_eq '(NONE)' "$(tls -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0')" "TLS 1.1 refused"
svc_stop
