#!/usr/bin/env bash
# Review 5: renew_resumes_past_keygen (the preflight leaves out the key
# generation of a resumed renewal whose key exists) took any journal with a
# key hash as "past keygen", a finished one (done) too.  The next renewal of
# that employer on that token (from the new certificate) starts afresh and
# generates a key, but its preflight skipped the check that the token lists
# that generation: it logged in to the service before failing at keygen,
# where the promise is "refused before the service is contacted".
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"

svc_init
svc_start

case_new again token
renew_run --type rsa:2048 || die "first renewal: $(<"$C/err")"
assert_eq "done" "$(journal_state)" "first renewal: done"
new_id=$(jq -r '.key_id // empty' "$(journal)")
[[ -n $new_id ]] || die "the journal names no key id: $(cat "$(journal)")"
# The next renewal, from the new certificate, on a token that no longer
# lists RSA key pair generation.  (An RSA 3072 key: the current RSA 2048
# key made on this token would show its own size's generation, no call
# asked; docs/design.md, "Call budget".)
CURRENT=(--current "pkcs11:token=IMSS;id=$(sed 's/../%&/g' <<<"$new_id");type=private")
before=$(wc -l <"$T/serve.log")
rc=0
FAULT_HIDE_MECHANISMS=CKM_RSA_PKCS_KEY_PAIR_GEN renew_run --type rsa:3072 || rc=$?
assert_eq 1 "$rc" "next renewal, no RSA generation: exit 1"
assert_contains "$(<"$C/err")" "does not list RSA 3072 key pair generation" \
	"next renewal: refused by the preflight"
assert_eq "$before" "$(wc -l <"$T/serve.log")" "next renewal: the service got no request"
echo "PASS"
