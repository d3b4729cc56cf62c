#!/usr/bin/env bash
# --new-key (issue 11, "Keys made elsewhere"): renew certifies a key pair
# made before the renewal instead of generating one.
#
#  (1) a key made with `imss-renew keygen` first: the renewal uses it (no
#      second key), the journal records its ID and public key hash with
#      key_origin "elsewhere", the certificate is stored next to it and
#      openssl verifies it; the same with the current credential in a .pfx;
#  (2) refused, the token unchanged (objects listed before and after) and
#      no key in any journal: a key made extractable with pkcs11-tool (and
#      the same with the token not reporting its extractability), a key
#      with a certificate beside it, the current credential's key, a URI
#      naming no key; recover --new-key naming a key the certificate is
#      not for;
#  (3) --abandon of a renewal killed after the request was signed forgets
#      the key made elsewhere and never deletes it; a later run with the
#      same --new-key renews with it;
#  (4) a renewal killed before it generated its key, resumed with
#      --new-key: refused, no key generated, the token unchanged.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=lib.sh
. "$TESTS_DIR/renew/lib.sh"

svc_init
svc_start

CURRENT_URI='pkcs11:token=IMSS;object=IMSS%20anterior;type=private'

# keygen_first LABEL [TYPE]: a key pair made by `imss-renew keygen`; its
# private key's URI in NEW_URI and its ID in NEW_ID.
keygen_first() {
	"$IMSS_RENEW" --module "$SOFTHSM" keygen --token "$TOKEN_URI" --label "$1" \
		--type "${2:-ec:prime256v1}" --pin-source "file:$T/pin" >"$C/keygen.out" 2>"$C/keygen.err" ||
		die "keygen $1: $(<"$C/keygen.err")"
	NEW_URI=$(head -n1 "$C/keygen.out")
	objects_json "$C/objects.json"
	NEW_ID=$(jq -r --arg l "$1" '.objects[] | select(.label == $l and .class == "private-key") | .id' \
		"$C/objects.json")
	[[ -n $NEW_ID ]] || die "keygen $1: no private key with that label"
}

# summary: the token's objects (class, ID, label), sorted.
summary() {
	objects_json "$C/objects.json"
	jq -c '[.objects[] | {class: .class, id: .id, label: .label}] | sort_by([.class, .id, .label])' "$C/objects.json"
}

# renewed_with_made_key WHAT: check_renewed (with the public key object
# keygen made), and the key is the one made first, recorded as made
# elsewhere.
renewed_with_made_key() {
	# (keygen keeps its public key on the token: csr needs it later.)
	EXPECT_PUBLIC_KEY=1 check_renewed "$1"
	assert_eq "$(jq -r .key_id "$(journal)")" "$NEW_ID" "$1: the journal names the key made first"
	assert_eq "$(jq -r .key_origin "$(journal)")" elsewhere "$1: recorded as made elsewhere"
	assert_eq "$(jq -r '.key_tmp_id // "none"' "$(journal)")" none "$1: no keygen ID recorded"
}

# ---- (1) a key made by keygen first, current key on the token and in a .pfx
for kind in token pfx; do
	case_new "made-$kind" "$kind"
	keygen_first 'hecha antes'
	JSON=1 renew_run --new-key "$NEW_URI" >"$C/out.json" ||
		die "renew --new-key ($kind): $(<"$C/err")"
	renewed_with_made_key "renew --new-key ($kind)"
	jq -s -e 'any(.[]; .event == "keygen" and .origin == "elsewhere")' "$C/out.json" >/dev/null ||
		die "($kind): the keygen event does not say the key was made elsewhere: $(grep keygen "$C/out.json")"
	! grep -q C_GenerateKeyPair "$C/calls.log" || die "($kind): a key was generated"
done

# ---- (2) refusals: the token unchanged, nothing recorded
case_new refusals token
# expect_refused WHAT NEEDLE ARGS...: exit 1 saying NEEDLE, token unchanged.
expect_refused() {
	local what=$1 needle=$2 rc=0 before
	shift 2
	before=$(summary)
	renew_run "$@" >"$C/out.txt" || rc=$?
	[[ $rc == 1 ]] || die "$what: exit $rc, expected 1: $(<"$C/err")"
	assert_contains "$(<"$C/err")" "$needle" "$what: refused, and says why"
	assert_eq "$(summary)" "$before" "$what: the token is unchanged"
	[[ ! -e $(journal) ]] || [[ $(jq -r '.key_id // "none"' "$(journal)") == none ]] ||
		die "$what: the journal records a key: $(<"$(journal)")"
	grep -q C_GenerateKeyPair "$C/calls.log" && die "$what: a key was generated"
	return 0
}
p11 --login --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 --label exportable \
	--id 0e0e --extractable >/dev/null 2>&1 || die "pkcs11-tool --keypairgen --extractable"
expect_refused 'an extractable key' 'extractable' \
	--new-key 'pkcs11:token=IMSS;object=exportable;type=private'
# a token that does not say (CKA_EXTRACTABLE, CKA_NEVER_EXTRACTABLE
# unreported): not a promise, refused
FAULT_HIDE_ATTRS=extractable,never_extractable expect_refused 'a key of unknown extractability' \
	'does not confirm that it is not extractable' \
	--new-key 'pkcs11:token=IMSS;object=exportable;type=private'
expect_refused 'the current key' 'the key of the current credential' --new-key "$CURRENT_URI"
"$IMSS_SERVICE" issue --dir "$D" --registro-patronal "$RP" --key-type ec:prime256v1 \
	--token "$TOKEN_URI" --module "$SOFTHSM" --pin-source "file:$T/pin" \
	--label 'con certificado' >/dev/null || die "issue a second credential"
expect_refused 'a key with a certificate' 'certificate on the token already carries' \
	--new-key 'pkcs11:token=IMSS;object=con%20certificado;type=private'
expect_refused 'no such key' 'no-such-key' \
	--new-key 'pkcs11:token=IMSS;object=no-such-key;type=private'
# recover --new-key: the certificate fetched must be for that key.
"$IMSS_SERVICE" issue --dir "$D" --registro-patronal "$RP" --key-type ec:prime256v1 \
	--token "$TOKEN_URI" --module "$SOFTHSM" --pin-source "file:$T/pin" \
	--label 'recuperable' >"$C/issue2.out" || die "issue a third credential"
serial=$(sed -n 's/^serial //p' "$C/issue2.out")
before=$(summary)
rc=0
"$IMSS_RENEW" --module "$SOFTHSM" recover --server "$SVC_URL" --user "$USER" "${CURRENT[@]}" \
	--token "$TOKEN_URI" --ca "$D/ca.pem" --pin-source "file:$T/pin" \
	--idse-password-source "file:$T/idse.pass" --state-dir "$C/state" --out-dir "$C/out" \
	--serial "$serial" --new-key 'pkcs11:token=IMSS;object=exportable;type=private' \
	>"$C/recover.out" 2>"$C/err" || rc=$?
[[ $rc == 1 ]] || die "recover --new-key naming another key: exit $rc: $(<"$C/err")"
assert_contains "$(<"$C/err")" 'not for the key named as its key' "recover --new-key: another key refused"
assert_eq "$(summary)" "$before" "recover --new-key: the token is unchanged"

# ---- (3) --abandon forgets the key made elsewhere, never deletes it
case_new abandon pfx
keygen_first 'hecha antes' rsa:2048
rc=0
FAULT_KILL=C_Sign:1:after renew_run --new-key "$NEW_URI" >"$C/out.txt" || rc=$?
[[ $rc == 137 ]] || die "killed after the request was signed: exit $rc: $(<"$C/err")"
assert_eq "$(jq -r .key_origin "$(journal)")" elsewhere "killed: the journal says made elsewhere"
before=$(summary)
"$IMSS_RENEW" --module "$SOFTHSM" renew --abandon --token "$TOKEN_URI" --state-dir "$C/state" \
	--pin-source "file:$T/pin" >"$C/abandon.out" 2>"$C/err" || die "--abandon: $(<"$C/err")"
assert_contains "$(<"$C/abandon.out")" 'made before the renewal and is kept' "--abandon says it keeps the key"
assert_eq "$(summary)" "$before" "--abandon deleted nothing"
[[ ! -e $(journal) ]] || die "--abandon left the journal"
renew_run --new-key "$NEW_URI" >"$C/out.txt" || die "renew after --abandon: $(<"$C/err")"
renewed_with_made_key "renew after --abandon"

# ---- (4) a renewal killed before it generated its key, resumed with
# --new-key: refused (it would have generated a key of its own), nothing made
case_new resume token
keygen_first 'hecha despues'
rc=0
FAULT_KILL=C_GenerateKeyPair:1:before renew_run >"$C/out.txt" || rc=$?
[[ $rc == 137 ]] || die "killed before keygen: exit $rc: $(<"$C/err")"
assert_eq "$(jq -r .state "$(journal)")" keygen-started "killed: the journal is at keygen-started"
before=$(summary)
rc=0
renew_run --new-key "$NEW_URI" >"$C/out.txt" || rc=$?
[[ $rc == 1 ]] || die "resumed with --new-key: exit $rc, expected 1: $(<"$C/err")"
assert_contains "$(<"$C/err")" 'started without a key made before it' "resumed with --new-key: refused, saying why"
assert_eq "$(summary)" "$before" "resumed with --new-key: the token is unchanged"
! grep -q C_GenerateKeyPair "$C/calls.log" || die "resumed with --new-key: a key was generated"
echo "renew-new-key: OK"
