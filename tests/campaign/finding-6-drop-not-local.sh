#!/usr/bin/env bash
# Review 6: `renew --abandon` (and a rerun) after a kill right after an EC
# key's C_GenerateKeyPair deletes that orphan: the one private key with the
# journal's random ID and label whose public half the token cannot tell
# (token_drop_half_made).  It ran none of the ownership tests of
# docs/design.md, Invariants 5 and 6 ("--abandon runs the same tests
# before deleting"): a journal naming a key imported on the token
# (CKA_LOCAL false: not generated there, so never this run's) had it
# deleted.  A key the token says it did not generate must be kept.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"

svc_init
svc_start

case_new imported token
# A journal in keygen-started: the run killed before C_GenerateKeyPair.
FAULT_KILL=C_GenerateKeyPair:1 renew_run --type ec:prime256v1 >"$C/out.txt" &&
	die "the first run was not killed"
assert_eq keygen-started "$(journal_state)" "the journal: keygen-started"
# An EC private key imported on the token (no public key, no certificate),
# and the journal made to name it.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -outform DER -out "$C/imported.der" 2>/dev/null
id=00112233445566778899aabbccddeeff00112233
p11 --login --pin "$(<"$T/pin")" --write-object "$C/imported.der" --type privkey \
	--id "$id" --label imported --usage-sign >/dev/null 2>&1 || die "could not import the key"
objects_json "$C/before.json"
assert_eq 1 "$(jq "[.objects[] | select(.label == \"imported\")] | length" "$C/before.json")" \
	"the imported key is on the token"
jq --arg id "$id" '.key_tmp_id = $id | .key_label = "imported"' "$(journal)" >"$C/tampered.json"
cp "$C/tampered.json" "$(journal)"

renew_run --abandon >"$C/out.txt" || true
objects_json "$C/objects.json"
assert_eq 1 "$(jq "[.objects[] | select(.label == \"imported\")] | length" "$C/objects.json")" \
	"abandon: the imported key (CKA_LOCAL false) was kept: $(<"$C/out.txt") $(<"$C/err")"
check_old_intact "abandon"
echo "PASS"
