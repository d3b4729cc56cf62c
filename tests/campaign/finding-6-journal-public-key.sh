#!/usr/bin/env bash
# Review 6: a renewal's EC key keeps no public key object, so a resume
# takes its public half from the journal (key_spki, told to the token by
# token_know_public).  That journal public key came BEFORE what the token
# holds: a journal whose key ID and label name the current credential's
# key and whose key_spki (with its matching hash) is a foreign key made the
# current key look like that foreign key to every ownership test (the
# "is the key of the current credential" test compares public keys; it
# passed).  Only the certificate beside it still refused it.  The token's
# own public key object or certificate must win: the key is then seen as
# it is, and the journal is refused as not recording it.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"

svc_init
svc_start

case_new tampered token
# A real journal with a public key: the run killed after its EC keygen.
rc=0
FAULT_KILL=C_Sign:2 renew_run --type ec:prime256v1 >"$C/out.txt" || rc=$?
assert_eq 137 "$rc" "the first run: killed"
jq -e '.key_spki' "$(journal)" >/dev/null || die "the journal records no key_spki: $(cat "$(journal)")"
# The journal tampered with: the current key's ID and label, a foreign key.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$C/foreign.pem" 2>/dev/null
openssl pkey -in "$C/foreign.pem" -pubout -outform DER -out "$C/foreign.der"
spki=$(od -An -v -tx1 "$C/foreign.der" | tr -d ' \n')
hash=$(sha256sum <"$C/foreign.der" | cut -d' ' -f1)
jq --arg id "$OLD_ID" --arg spki "$spki" --arg hash "$hash" \
	'.key_tmp_id = $id | .key_label = "IMSS anterior" | .key_spki = $spki | .key_spki_sha256 = $hash' \
	"$(journal)" >"$C/tampered.json"
cp "$C/tampered.json" "$(journal)"

for what in resume abandon; do
	rc=0
	if [[ $what == abandon ]]; then
		renew_run --abandon >"$C/out.txt" || rc=$?
	else
		renew_run --type ec:prime256v1 >"$C/out.txt" || rc=$?
	fi
	[[ $rc != 0 ]] || die "$what: a journal naming the current key was taken: $(<"$C/out.txt")"
	grep -Eq "public key than the one recorded|is not the one it recorded" "$C/err" ||
		die "$what: the current key was not seen with its own public key: $(<"$C/err")"
	echo "ok: $what: refused, the key seen with its own public key"
	objects_json "$C/objects.json"
	check_old_intact "$what"
done
echo "PASS"
