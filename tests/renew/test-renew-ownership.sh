#!/usr/bin/env bash
# Key ownership (issue 9, findings 1 and 9): the engine adopts, uses as
# "new" or deletes only the key it generated for this renewal, never the
# current credential's key, one with a certificate beside it or one that
# existed before; a refused label never reaches the journal; the state
# directory, the lock and the journal cannot be redirected or read by others.
#
#  (1) finding 1, as reproduced: --label naming the current key is refused,
#      the next run with another label renews, --abandon has nothing to
#      undo; the current key and certificate are there and still sign;
#  (2) hand-edited journals naming the current key (by ID and hash, by
#      label, by the random keygen ID), and one naming a key of the user's
#      made before, under another label: renew and --abandon refuse them as
#      damaged and delete nothing; a journal saying its key was made
#      elsewhere (--new-key): naming the current key, refused by renew;
#      --abandon forgets such a key and never deletes it; --abandon after the certificate was
#      stored (killed at C_CreateObject) refuses and leaves the key;
#  (3) a --label already carried by an unrelated object (a data object):
#      refused before anything is recorded, the object untouched;
#  (4) kill -9 inside keygen (after C_GenerateKeyPair, around the read of
#      the new pair): the next run adopts exactly the key generated,
#      the one whose random ID / public key hash the journal recorded;
#  (5) finding 9: a symbolic link as the lock or the journal, a state
#      directory others can read or write, an output directory others can
#      write to (without the sticky bit): refused, nothing changed.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=lib.sh
. "$TESTS_DIR/renew/lib.sh"

svc_init
svc_start

CURRENT_URI='pkcs11:token=IMSS;object=IMSS%20anterior;type=private'

# expect_refused WHAT NEEDLE ARGS...: renew_run ARGS exits 1 and says NEEDLE.
expect_refused() {
	local what=$1 needle=$2 rc=0
	shift 2
	renew_run "$@" >"$C/out.txt" || rc=$?
	[[ $rc == 1 ]] || die "$what: exit $rc, expected 1: $(<"$C/err")"
	assert_contains "$(<"$C/err")" "$needle" "$what: refused, and says why"
}

# abandon_run: renew --abandon on the case's token, without --current (as
# a user who gave up would run it).  Its stderr in $C/err.
abandon_run() {
	local rc=0
	"$IMSS_RENEW" --module "$SOFTHSM" renew --abandon --token "$TOKEN_URI" \
		--state-dir "$C/state" --pin-source "file:$T/pin" >"$C/abandon.out" 2>"$C/err" || rc=$?
	no_sanitizer_report "$C/err"
	return "$rc"
}

# check_current_signs WHAT: the current key still signs, and openssl
# verifies the signature with the current (old) certificate.
check_current_signs() {
	local what=$1
	printf 'carta de prueba %s\n' "$what" >"$C/to-sign.txt"
	"$IMSS_RENEW" --module "$SOFTHSM" sign --key "$CURRENT_URI" --pin-source "file:$T/pin" \
		--in "$C/to-sign.txt" --out "$C/to-sign.p7s" >/dev/null 2>"$C/sign.err" ||
		die "$what: the current key no longer signs: $(<"$C/sign.err")"
	openssl x509 -inform DER -in "$C/old-cert.der" -out "$C/old-cert.pem"
	openssl cms -verify -binary -inform PEM -in "$C/to-sign.p7s" -content "$C/to-sign.txt" \
		-noverify -signer "$C/signer.pem" -out /dev/null 2>"$C/verify.err" ||
		die "$what: openssl does not verify the current key's signature: $(<"$C/verify.err")"
	cmp -s <(openssl x509 -in "$C/signer.pem" -outform DER) "$C/old-cert.der" ||
		die "$what: the signature is not by the current certificate"
	echo "ok: $what: the current key signs, verified against its certificate"
}

# check_nothing_new WHAT: the token holds the current credential only.
check_nothing_new() {
	objects_json "$C/objects.json"
	check_old_intact "$1"
	assert_eq '[]' "$(new_objects "$C/objects.json")" "$1: no new object on the token"
}

# write_journal STATE JSON-FIELDS: a hand-made journal for the case.
write_journal() {
	jq -n --arg state "$1" --arg server "$SVC_URL" --arg rp "$RP" \
		--arg serial "$IMSS_TOKEN_SERIAL" "{version: 1, state: \$state, updated: 0,
		 server: \$server, registro_patronal: \$rp, token_serial: \$serial} + $2" >"$(journal)"
	chmod 600 "$(journal)"
}

# both_refuse WHAT MESSAGE: renew and --abandon each exit 1 saying MESSAGE,
# and leave the token as $C/before.json recorded it.
both_refuse() {
	local what=$1 message=$2 run rc
	for run in renew_run abandon_run; do
		rc=0
		$run >"$C/out.txt" || rc=$?
		assert_eq 1 "$rc" "$what: $run refuses"
		assert_contains "$(<"$C/err")" "$message" "$what: $run says why"
		objects_json "$C/objects.json"
		cmp -s <(jq -c .objects "$C/before.json") <(jq -c .objects "$C/objects.json") ||
			die "$what: $run changed the token"
	done
}

# --- (1) finding 1 ---------------------------------------------------------------
case_new finding1 token
expect_refused "finding 1: --label of the current key" "already used" --label 'IMSS anterior'
assert_eq none "$(journal_state)" "finding 1: the refused label never reached the journal"
check_nothing_new "finding 1: refused label"
renew_run --label 'IMSS nuevo' >"$C/out.txt" || die "finding 1: renew --label 'IMSS nuevo' failed: $(<"$C/err")"
check_renewed "finding 1: then --label 'IMSS nuevo'"
assert_eq 'IMSS nuevo' "$(new_objects "$C/objects.json" | jq -r '[.[] | .label] | unique | join(",")')" \
	"finding 1: the new objects carry the new label"
rc=0
abandon_run || rc=$?
assert_eq 1 "$rc" "finding 1: --abandon after success"
assert_contains "$(<"$C/err")" "nothing to undo" "finding 1: --abandon has nothing to undo"
objects_json "$C/objects.json"
check_old_intact "finding 1: after --abandon"
check_current_signs "finding 1"

# --- (2) hand-edited journals naming the current key -----------------------------
case_new edited token
OLD_SPKI=$(spki_of_cert "$C/old-cert.der")
# edited_case WHAT STATE FIELDS: renew (with --current) and --abandon
# (without) both refuse the journal as damaged; nothing is deleted; the
# journal is kept.
edited_case() {
	local what=$1 rc=0
	write_journal "$2" "$3"
	cp "$(journal)" "$C/journal.orig"
	expect_refused "$what: renew" "is damaged"
	assert_contains "$(<"$C/err")" "is the key of the current credential" "$what: renew says why"
	check_nothing_new "$what: renew"
	abandon_run || rc=$?
	assert_eq 1 "$rc" "$what: --abandon refuses"
	assert_contains "$(<"$C/err")" "is damaged" "$what: --abandon says the journal is damaged"
	assert_contains "$(<"$C/err")" "has a certificate on the token" "$what: --abandon says why"
	check_nothing_new "$what: --abandon"
	cmp -s "$(journal)" "$C/journal.orig" || die "$what: the journal was changed"
	check_current_signs "$what"
}
edited_case "journal naming the current key by ID and hash" key-generated \
	"{key_label: \"IMSS anterior\", key_id: \"$OLD_ID\", key_spki_sha256: \"$OLD_SPKI\"}"
edited_case "journal naming the current key's ID as keygen's random ID" keygen-started \
	"{key_label: \"IMSS anterior\", key_tmp_id: \"$OLD_ID\"}"
edited_case "journal naming the current key after the hash was recorded" keygen-started \
	"{key_label: \"IMSS anterior\", key_tmp_id: \"$(openssl rand -hex 20)\", key_spki_sha256: \"$OLD_SPKI\"}"

# A key of the user's that existed before (no certificate, not the current
# one) named by a journal's random keygen ID under another label: refused.
"$IMSS_RENEW" --module "$SOFTHSM" keygen --token "$TOKEN_URI" --label 'Llave previa' \
	--type ec:prime256v1 --pin-source "file:$T/pin" >/dev/null 2>"$C/err" ||
	die "pre-existing key: keygen failed: $(<"$C/err")"
objects_json "$C/before.json"
prev_id=$(jq -r '.objects[] | select(.label == "Llave previa" and .class == "private-key") | .id' "$C/before.json")
write_journal keygen-started "{key_label: \"IMSS R otra\", key_tmp_id: \"$prev_id\"}"
both_refuse "pre-existing key under another label" "carries another label than the one recorded"
rm "$(journal)"

# A journal saying its key was made elsewhere (--new-key, issue 11) that
# names the current key: renew refuses it as damaged.  --abandon never
# deletes a key made elsewhere, whichever one the journal names (the
# user's 'Llave previa' here): it only forgets it.
write_journal key-generated "{key_label: \"IMSS anterior\", key_id: \"$OLD_ID\",
	key_spki_sha256: \"$OLD_SPKI\", key_origin: \"elsewhere\"}"
expect_refused "made elsewhere, naming the current key: renew" "is the key of the current credential"
objects_json "$C/objects.json"
cmp -s <(jq -c .objects "$C/before.json") <(jq -c .objects "$C/objects.json") ||
	die "made elsewhere, naming the current key: renew changed the token"
pubkey_der "$prev_id" "$C/prev-pub.der" || die "cannot read the public key of 'Llave previa'"
write_journal key-generated "{key_label: \"Llave previa\", key_id: \"$prev_id\",
	key_spki_sha256: \"$(spki_of_pub "$C/prev-pub.der")\", key_origin: \"elsewhere\"}"
abandon_run || die "made elsewhere: --abandon failed: $(<"$C/err")"
assert_contains "$(<"$C/abandon.out")" "made before the renewal and is kept" \
	"made elsewhere: --abandon says it keeps the key"
objects_json "$C/objects.json"
cmp -s <(jq -c .objects "$C/before.json") <(jq -c .objects "$C/objects.json") ||
	die "made elsewhere: --abandon changed the token"
[[ ! -e $(journal) ]] || die "made elsewhere: --abandon left the journal"

# A journal naming a key by its label alone (no random keygen ID: not one
# this version wrote) names anybody's key: damaged, for renew and
# --abandon, whether the label is the current key's or another key's
# (review of issue 9: --abandon deleted 'Llave previa' this way).
for label in 'IMSS anterior' 'Llave previa'; do
	write_journal keygen-started "{key_label: \"$label\"}"
	both_refuse "label '$label' alone (a damaged journal)" "missing the random ID the key was generated with"
	rm "$(journal)"
done

# --abandon removes only the files it names itself: a journal naming
# another file as its request leaves that file alone.
printf 'no me borres' >"$C/victim.pfx"
write_journal logged-in "{request_path: \"$C/victim.pfx\"}"
abandon_run || die "request path elsewhere: --abandon failed: $(<"$C/err")"
[[ -f $C/victim.pfx ]] || die "request path elsewhere: --abandon deleted $C/victim.pfx"
echo "ok: request path elsewhere: --abandon leaves the file the journal names"

# A damaged journal stops --abandon (without an employer) even when another
# renewal on the token is unfinished: nothing is undone until it is seen.
write_journal logged-in '{}'
good=$(journal)
bad=$C/state/renew-R9999999999-$IMSS_TOKEN_SERIAL.json
printf '{"version":1,"state":"logged-in"' >"$bad"
chmod 600 "$bad"
rc=0
abandon_run || rc=$?
assert_eq 1 "$rc" "damaged journal beside another: --abandon refuses"
assert_contains "$(<"$C/err")" "R9999999999" "damaged journal beside another: --abandon names it"
[[ -f $good ]] || die "damaged journal beside another: the other renewal was undone"
rm -f "$bad" "$good"

# Once the request was sent, the service may have issued its certificate and
# the current certificate renews only once: --abandon keeps the renewal
# unless --force is given (campaign: a renewal abandoned after submission
# left the employer unable to renew online).
write_journal submitted "{key_label: \"IMSS x\", key_tmp_id: \"$(openssl rand -hex 20)\",
	key_id: \"$(openssl rand -hex 20)\", key_spki_sha256: \"$(openssl rand -hex 32)\", request_id: \"00ff\"}"
rc=0
abandon_run || rc=$?
assert_eq 1 "$rc" "submitted: --abandon refuses"
assert_contains "$(<"$C/err")" "was sent to the service" "submitted: --abandon says why"
assert_contains "$(<"$C/err")" "--force" "submitted: --abandon names --force"
[[ -f $(journal) ]] || die "submitted: the journal was removed"
rm -f "$(journal)"

# Killed right after its certificate was stored (journal store-started):
# the key has its certificate beside it now, and --abandon leaves it; the
# next run finishes the renewal.
case_new stored token
rc=0
FAULT_KILL=C_CreateObject:1:after renew_run >"$C/out.txt" || rc=$?
assert_eq 137 "$rc" "stored: the run was killed after C_CreateObject"
assert_eq store-started "$(journal_state)" "stored: journal in store-started"
objects_json "$C/before.json"
rc=0
abandon_run || rc=$?
assert_eq 1 "$rc" "stored: --abandon refuses"
assert_contains "$(<"$C/err")" "was sent to the service" "stored: --abandon says why"
objects_json "$C/objects.json"
cmp -s <(jq -c .objects "$C/before.json") <(jq -c .objects "$C/objects.json") ||
	die "stored: --abandon changed the token"
renew_run >"$C/out.txt" || die "stored: the rerun failed: $(<"$C/err")"
check_renewed "stored, --abandon refused, then rerun"

# --- (3) a label carried by an unrelated object ----------------------------------
case_new collision token
printf 'nomina' >"$C/data.bin"
p11 --login --pin "$USER_PIN" --write-object "$C/data.bin" --type data --label 'Nomina 2026' \
	>/dev/null 2>&1 || die "collision: pkcs11-tool could not write the data object"
expect_refused "collision: --label of a data object" "already used" --label 'Nomina 2026'
assert_eq none "$(journal_state)" "collision: nothing recorded"
check_nothing_new "collision"
p11 --login --pin "$USER_PIN" --read-object --type data --label 'Nomina 2026' -o "$C/data.now" \
	>/dev/null 2>&1 && cmp -s "$C/data.bin" "$C/data.now" || die "collision: the data object changed"
echo "ok: collision: the data object is untouched"
renew_run --label 'Nomina 2026 IMSS' >"$C/out.txt" || die "collision: renew with a free label failed: $(<"$C/err")"
check_renewed "collision: then a free label"

# --- (4) kill -9 inside keygen ------------------------------------------------------
# keygen_kill POINT: killed there, the rerun adopts the key the journal
# recorded (by its random ID, or by the hash of its public key) and no other.
keygen_kill() {
	local point=$1 rc=0 tmp spki jspki ids
	case_new "kill-${point//:/-}" token
	FAULT_KILL=$point renew_run >"$C/out.txt" || rc=$?
	assert_eq 137 "$rc" "kill at $point: the run was killed"
	assert_eq keygen-started "$(journal_state)" "kill at $point: journal in keygen-started"
	tmp=$(jq -r '.key_tmp_id // "-"' "$(journal)")
	[[ $tmp =~ ^[0-9a-f]{40}$ ]] || die "kill at $point: no random keygen ID in the journal ($tmp)"
	objects_json "$C/objects.json"
	ids=$(new_objects "$C/objects.json" | jq -r '[.[] | .id] | unique | join(",")')
	[[ $(new_objects "$C/objects.json" | jq '[.[] | select(.class == "private-key")] | length') == 1 ]] ||
		die "kill at $point: not one candidate key: $(brief "$(new_objects "$C/objects.json")")"
	jspki=$(jq -r '.key_spki_sha256 // "-"' "$(journal)")
	# The pair keeps the random ID it was generated with, and its public
	# key was a session object: the candidate is one private key.
	assert_eq "$tmp" "$ids" "kill at $point: the candidate carries the recorded random ID"
	assert_eq private-key "$(new_objects "$C/objects.json" | jq -r '[.[] | .class] | join(",")')" \
		"kill at $point: no public key object is left (it was the session's)"
	renew_run >"$C/rerun.txt" || die "kill at $point: the rerun failed: $(<"$C/err")"
	assert_contains "$(<"$C/rerun.txt")" "Using the key generated earlier" "kill at $point: the key was adopted"
	check_renewed "kill at $point, then rerun"
	# The same private key object (its ID is the random one recorded before
	# the kill) signs for the new certificate (check_renewed).
	assert_eq "$tmp" "$(jq -r .key_id "$(journal)")" \
		"kill at $point: the adopted key is the one generated before the kill"
	[[ $jspki == - ]] || assert_eq "$jspki" "$(jq -r .key_spki_sha256 "$(journal)")" \
		"kill at $point: the adopted key has the public key recorded before the kill"
}
# An RSA private key carries its modulus: the rerun reads its public half
# from it and adopts it.
keygen_kill C_GenerateKeyPair:1:after
# The pair keeps its random ID (no C_SetAttributeValue): killed once the
# new pair was read (the 3rd C_GetAttributeValue, after the current key's
# two: its private key and certificate), before and after its hash may have
# been recorded.
keygen_kill C_GetAttributeValue:3:before
keygen_kill C_GetAttributeValue:3:after

# An EC private key does not carry its point and its public key was a
# session object, gone with the killed run: the rerun cannot build a
# request for it, so it deletes that key (the journal's random ID and label,
# recorded before C_GenerateKeyPair) and generates a new pair.  The current
# credential is untouched (check_renewed).
case_new kill-ec-after-keygen token
rc=0
FAULT_KILL=C_GenerateKeyPair:1:after renew_run --type ec:prime256v1 >"$C/out.txt" || rc=$?
assert_eq 137 "$rc" "EC kill after C_GenerateKeyPair: the run was killed"
assert_eq keygen-started "$(journal_state)" "EC kill after C_GenerateKeyPair: journal in keygen-started"
tmp=$(jq -r '.key_tmp_id // "-"' "$(journal)")
objects_json "$C/objects.json"
assert_eq "private-key $tmp" "$(new_objects "$C/objects.json" | jq -r '(map(.class) | join(",")) + " " + (map(.id) | join(","))')" \
	"EC kill after C_GenerateKeyPair: one private key on the recorded random ID, no public key object"
renew_run --type ec:prime256v1 >"$C/rerun.txt" || die "EC kill after C_GenerateKeyPair: the rerun failed: $(<"$C/err")"
assert_contains "$(<"$C/err")" "kept no public key" "EC kill after C_GenerateKeyPair: the rerun says why it made another key"
check_renewed "EC kill after C_GenerateKeyPair, then rerun"
[[ $(jq -r .key_id "$(journal)") != "$tmp" ]] || die "EC kill after C_GenerateKeyPair: the renewed key is the orphan"
assert_eq ec "$(new_objects "$C/objects.json" | jq -r '[.[] | select(.class == "private-key")][0].key_type')" \
	"EC kill after C_GenerateKeyPair: the new key is EC"
echo "ok: EC kill after C_GenerateKeyPair: the orphan was deleted, one new key and certificate"
# --abandon after the same kill deletes that orphan, and nothing else.
case_new kill-ec-abandon token
rc=0
FAULT_KILL=C_GenerateKeyPair:1:after renew_run --type ec:prime256v1 >"$C/out.txt" || rc=$?
assert_eq 137 "$rc" "EC kill, --abandon: the run was killed"
"$IMSS_RENEW" --module "$SOFTHSM" renew --abandon --token "$TOKEN_URI" --state-dir "$C/state" \
	--pin-source "file:$T/pin" >"$C/abandon.out" 2>"$C/err" ||
	die "EC kill, --abandon: failed: $(<"$C/err")"
assert_contains "$(<"$C/abandon.out")" "its public key went with the interrupted run" \
	"EC kill, --abandon: it names the key it removed"
objects_json "$C/objects.json"
assert_eq '[]' "$(new_objects "$C/objects.json")" "EC kill, --abandon: the orphan was deleted"
check_old_intact "EC kill, --abandon"
assert_eq none "$(journal_state)" "EC kill, --abandon: the journal is gone"

# --- (4b) a token that refuses a session public key -------------------------------
# It answers the public template with CKA_TOKEN=false with a template error
# (or, as tpm2-pkcs11 does, CKR_GENERAL_ERROR): the same template again
# with a token public key, and the pair is one private key, one public key
# and the certificate, nothing else.
# (0x13: CKR_ATTRIBUTE_VALUE_INVALID)
for rv in CKR_TEMPLATE_INCONSISTENT 0x13 CKR_GENERAL_ERROR; do
	case_new "session-public-$rv" token
	FAULT_REFUSE_SESSION_PUBLIC=$rv renew_run --type ec:prime256v1 >"$C/out.txt" ||
		die "session public key refused ($rv): the renewal failed: $(<"$C/err")"
	assert_eq 2 "$(grep -c '^C_GenerateKeyPair ' "$C/calls.log")" \
		"session public key refused ($rv): one C_GenerateKeyPair refused, one with a token public key"
	EXPECT_PUBLIC_KEY=1 check_renewed "session public key refused ($rv)"
done

# --- (5) finding 9: links and modes ------------------------------------------------
case_new links token
lock=$C/state/token-$IMSS_TOKEN_SERIAL.lock
ln -s "$C/victim" "$lock"
expect_refused "symlinked lock" "symbolic link"
[[ ! -e $C/victim ]] || die "symlinked lock: the link's target was created"
echo "ok: symlinked lock: its target was not created"
rc=0
abandon_run || rc=$?
assert_eq 1 "$rc" "symlinked lock: --abandon refuses"
assert_contains "$(<"$C/err")" "symbolic link" "symlinked lock: --abandon says why"
assert_eq none "$(journal_state)" "symlinked lock: nothing recorded"
check_nothing_new "symlinked lock"
rm "$lock"
write_journal key-generated '{key_label: "x", key_id: "00", key_spki_sha256: "'"$(printf '0%.0s' {1..64})"'"}'
mv "$(journal)" "$C/elsewhere.json"
ln -s "$C/elsewhere.json" "$(journal)"
expect_refused "symlinked journal" "symbolic link"
check_nothing_new "symlinked journal"
rm "$(journal)"

for mode in 770 750 705; do
	chmod "$mode" "$C/state"
	expect_refused "state directory mode $mode" "chmod 700 $C/state"
	assert_eq none "$(journal_state)" "state directory mode $mode: nothing recorded"
	rc=0
	abandon_run || rc=$?
	assert_eq 1 "$rc" "state directory mode $mode: --abandon refuses"
done
chmod 700 "$C/state"
check_nothing_new "loose state directory"

# A label that would put an escape sequence in the journal and on the
# terminal is refused before anything is done (campaign: journal-strings-raw).
expect_refused "label with an escape sequence" "control characters" --label $'IMSS \e[31mrojo'
assert_eq none "$(journal_state)" "label with an escape sequence: nothing recorded"
[[ $(tr -d '\n' <"$C/err") != *$'\e'* ]] || die "label with an escape sequence: ESC printed raw"
# A journal whose text was tampered into a control character is damaged,
# and its bytes are not printed.
write_journal logged-in '{email: "a\u001b[2Jb@example.mx"}'
expect_refused "journal with a control character" "control characters"
[[ $(tr -d '\n' <"$C/err") != *$'\e'* ]] || die "journal with a control character: ESC printed raw"
rm -f "$(journal)"
check_nothing_new "printable labels and journals"

chmod 777 "$C/out"
expect_refused "output directory mode 777" "chmod go-w $C/out"
chmod 775 "$C/out"
expect_refused "output directory mode 775" "chmod go-w $C/out"
assert_eq none "$(journal_state)" "writable output directory: nothing recorded"
check_nothing_new "writable output directory"
chmod 1777 "$C/out"
renew_run >"$C/out.txt" || die "output directory 1777 (sticky): renew failed: $(<"$C/err")"
check_renewed "output directory with the sticky bit"
