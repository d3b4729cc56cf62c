#!/usr/bin/env bash
# Review 5: the terms letter is whatever bytes the service sends, signed
# (detached) with the current credential once its digest matches.  A
# hostile service that sends a PKCS#10 request of its own key as "the
# letter" got the current certificate's signature over that request: put
# back as the content, that is the request's CMS, the shape POST /renewal
# takes (a renewal for a key the employer never had).  The client now signs
# only a PDF (it starts with %PDF-, which no DER does).
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
: "${HOSTILE_PROXY:?HOSTILE_PROXY is not set (run the test through ctest)}"

svc_init
svc_start
proxy_start

case_new letter token
printf 'letter-request\n' >"$T/mode"
rc=0
renew_run || rc=$?
printf 'pass\n' >"$T/mode"
grep -q "answered as 'letter-request'" "$T/proxy.log" || die "the proxy spoiled no letter: $(<"$T/proxy.log")"
assert_eq 1 "$rc" "a request as the letter: exit 1"
assert_contains "$(<"$C/err")" "not a PDF" "a request as the letter: the message says why"
if grep -q 'POST /idse/v1/letter/signature' "$T/serve.log"; then
	die "a request as the letter: it was signed and sent: $(grep 'letter/signature' "$T/serve.log")"
fi
# The proxy honest again: the same renewal completes.
renew_run || die "honest again: $(<"$C/err")"
assert_eq "done" "$(journal_state)" "honest again: done"
echo "PASS"
