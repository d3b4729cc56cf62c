#!/usr/bin/env bash
# imss-renew keygen on tokens that misbehave, through the fault module.
# (Every key type on plain SoftHSM, its Access flags and its ID = the RFC
# 5280 key identifier are checked by tests/cli/test-cli-keygen.sh; here the
# same outside checks run on the keys of the fault cases.)
#  - FAULT_REFUSE_EXTRACTABLE: keygen succeeds, says CKA_EXTRACTABLE was
#    refused, and the key is still sensitive and never extractable;
#  - FAULT_REFUSE_SET_ID: keygen succeeds with a random 20-byte ID that is
#    not the key identifier (and says so), shared by exactly the two halves;
#  - FAULT_FAIL on each call a keygen makes, in turn: exit 1, a message
#    naming the failed function, and no key pair left behind; when the
#    session is gone (CKR_DEVICE_REMOVED, CKR_SESSION_HANDLE_INVALID) the
#    message names the label and ID of what may be left, and that is what is
#    left.  A failure of C_CloseSession or C_Finalize, after the key is made,
#    does not undo the key.  CKR_DEVICE_ERROR from C_GenerateKeyPair may mean
#    a refused template: the next template is tried and taken.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
: "${FAULT_MODULE:?FAULT_MODULE is not set (run the test through ctest)}"
t_need pkcs11-tool openssl jq xxd

t_make_token "IMSS keygen faults"
# shellcheck source=lib.sh
. "$TESTS_DIR/token/lib.sh"

# with_id ID: "class" of the objects with CKA_ID ID, sorted, one a line.
with_id() {
	objects_json
	jq -r --arg id "$1" '.objects[] | select(.id == $id) | .class' "$T/objects.json" | sort
}
# The test's own throwaway PIN: acceptable on pkcs11-tool's command line.
p11_login() { pkcs11-tool --module "$SOFTHSM2_MODULE" --login --pin "$USER_PIN" "$@"; }
# p11_private_block LABEL: the `pkcs11-tool -O` block of that private key.
p11_private_block() {
	p11_login -O 2>/dev/null | awk -v label="$1" '
		function flush() { if (keep && matched) printf "%s", blk; blk = ""; keep = matched = 0 }
		/^[^ \t]/ { flush(); keep = index($0, "Private Key Object") == 1 }
		{ blk = blk $0 "\n" }
		/^[ \t]+label:/ { l = $0; sub(/^[ \t]+label:[ \t]*/, "", l); if (l == label) matched = 1 }
		END { flush() }'
}
field() { sed -n "s/^[[:space:]]*$2:[[:space:]]*//p" <<<"$1" | head -n 1; }
# access_flags LABEL: the private key's Access flags, one a line, sorted.
access_flags() {
	local blk
	blk=$(p11_private_block "$1")
	[[ -n $blk ]] || die "pkcs11-tool shows no private key labelled '$1'"
	field "$blk" Access | tr ',' '\n' | sed 's/^ *//; s/ *$//' | sort
}
# p11_pub_block ID: the `pkcs11-tool -O` block of the public key with that ID.
p11_pub_block() {
	pkcs11-tool --module "$SOFTHSM2_MODULE" -O 2>/dev/null | awk -v id="$1" '
		function flush() { if (keep && matched) printf "%s", blk; blk = ""; keep = matched = 0 }
		/^[^ \t]/ { flush(); keep = index($0, "Public Key Object") == 1 }
		{ blk = blk $0 "\n" }
		/^[ \t]+ID:/ { l = $0; sub(/^[ \t]+ID:[ \t]*/, "", l); if (l == id) matched = 1 }
		END { flush() }'
}
# key_identifier ID: SHA-1 of the subjectPublicKey BIT STRING contents (RFC
# 5280 4.2.1.2 method 1) of the public key object with that ID.  RSA: from
# the SubjectPublicKeyInfo pkcs11-tool exports.  EC: the BIT STRING holds
# the point itself, so it is hashed straight from CKA_EC_POINT (a DER OCTET
# STRING), as OpenSC 0.23 cannot export P-384 keys ("cannot create EVP_PKEY").
key_identifier() {
	local point
	if pkcs11-tool --module "$SOFTHSM2_MODULE" --read-object --type pubkey --id "$1" 		-o "$T/pub.der" >/dev/null 2>"$T/p11.err"; then
		openssl pkey -pubin -inform DER -in "$T/pub.der" -outform DER -out "$T/spki.der" ||
			die "openssl cannot read the public key with ID $1"
		spki_key_identifier "$T/spki.der"
		return
	fi
	point=$(field "$(p11_pub_block "$1")" EC_POINT)
	[[ -n $point ]] || die "cannot read the public key with ID $1: $(<"$T/p11.err")"
	point=$(xxd -r -p <<<"$point" | openssl asn1parse -inform DER |
		sed -n 's/.*OCTET STRING *\[HEX DUMP\]://p')
	[[ $point == 04* ]] || die "EC_POINT of $1 is not an uncompressed point in an OCTET STRING"
	xxd -r -p <<<"$point" | openssl dgst -sha1 -r | cut -d' ' -f1
}
no_sanitizer_report() {
	! grep -Eq 'Sanitizer|runtime error:' "$T/stderr" ||
		die "$1: sanitizer report: $(<"$T/stderr")"
}
PROTECTED=$'always sensitive\blocal\bnever extractable\bsensitive'
PROTECTED=${PROTECTED//$'\b'/$'\n'}

# --- FAULT_REFUSE_EXTRACTABLE --------------------------------------------------
for type in rsa:2048 ec:prime256v1; do
	label="no-extractable ${type/:/ }"
	FAULT_REFUSE_EXTRACTABLE=1 assert_exit 0 fault_keygen "$label" --type "$type"
	assert_contains "$(<"$T/stderr")" "warning: " "$type, extractable refused: a warning"
	assert_contains "$(grep 'warning: ' "$T/stderr")" "CKA_EXTRACTABLE" "$type, extractable refused: the warning names CKA_EXTRACTABLE"
	assert_eq 2 "$(grep -c '^C_GenerateKeyPair ' "$FAULT_LOG")" "$type: the first template was refused, the second taken"
	assert_eq "C_GenerateKeyPair 0x12" "$(grep -m1 '^C_GenerateKeyPair ' "$FAULT_LOG" | cut -d' ' -f1,2)" "$type: refused with CKR_ATTRIBUTE_TYPE_INVALID"
	assert_eq "no" "$(sed -n 's/^  extractable: *//p' "$T/out")" "$type: the tool reports the key not extractable"
	assert_eq "yes" "$(sed -n 's/^  never extractable: *//p' "$T/out")" "$type: the tool reports it never extractable"
	assert_eq "$PROTECTED" "$(access_flags "$label")" "$type: pkcs11-tool Access: sensitive, always sensitive, never extractable, local, not extractable"
	objects_json
	assert_eq "true|false|true|true" \
		"$(jq -r --arg l "$label" '.objects[] | select(.class == "private-key" and .label == $l) |
			[.sensitive, .extractable, .never_extractable, .local] | map(tostring) | join("|")' "$T/objects.json")" \
		"$type: objects --login --json: sensitive, not extractable, never extractable, local"
done
FAULT_REFUSE_EXTRACTABLE=1 assert_exit 0 capture "$T/keygen.json" fault --json keygen \
	--token "$IMSS_TOKEN_URI" --label "no-extractable json" --pin-source "file:$T/pin"
assert_eq CKA_EXTRACTABLE "$(jq -r .refused "$T/keygen.json")" "keygen --json: refused = CKA_EXTRACTABLE"
assert_eq false "$(jq .extractable "$T/keygen.json")" "keygen --json: extractable false"

# --- FAULT_REFUSE_SET_ID -------------------------------------------------------
for type in rsa:2048 ec:secp384r1; do
	label="random-id ${type/:/ }"
	FAULT_REFUSE_SET_ID=1 assert_exit 0 fault_keygen "$label" --type "$type"
	assert_contains "$(<"$T/out")" "random, not the RFC 5280 key identifier" "$type, ID refused: the tool says the ID is random"
	assert_contains "$(<"$T/stderr")" "does not let the key ID be changed" "$type, ID refused: a warning says why"
	id=$(sed -n 's/^  ID: *//p' "$T/out")
	[[ $id =~ ^[0-9a-f]{40}$ ]] || die "$type: the ID is not 20 bytes: '$id'"
	echo "ok: $type: a 20-byte ID"
	assert_contains "$(head -n 1 "$T/out")" "id=%" "$type: the URI carries the ID"
	assert_eq "$id" "$(field "$(p11_private_block "$label")" ID)" "$type: pkcs11-tool shows the private key with that ID"
	assert_eq $'private-key\npublic-key' "$(with_id "$id")" "$type: the two halves, and nothing else, have that ID"
	assert_eq "private-key=$id"$'\n'"public-key=$id" "$(with_label "$label")" "$type: both halves labelled, with the same ID"
	ski=$(key_identifier "$id")
	[[ $ski =~ ^[0-9a-f]{40}$ && $ski != "$id" ]] || die "$type: the random ID equals the key identifier $ski"
	echo "ok: $type: the random ID is not the key identifier"
	assert_eq "" "$(with_id "$ski")" "$type: no object has the key identifier as ID"
	assert_eq "$PROTECTED" "$(access_flags "$label")" "$type: still sensitive, never extractable, local"
done
FAULT_REFUSE_SET_ID=1 assert_exit 0 capture "$T/keygen.json" fault --json keygen \
	--token "$IMSS_TOKEN_URI" --label "random-id json" --pin-source "file:$T/pin"
assert_eq false "$(jq .id_is_key_identifier "$T/keygen.json")" "keygen --json: id_is_key_identifier false"

# A token that lets the private key's ID change but not the public key's:
# the private key's ID is set back, both halves keep the random ID.
FAULT_FAIL=C_SetAttributeValue:2:CKR_ATTRIBUTE_READ_ONLY assert_exit 0 fault_keygen "half id" --type ec:prime256v1
assert_contains "$(<"$T/out")" "random, not the RFC 5280 key identifier" "public key ID refused: the ID is random"
id=$(sed -n 's/^  ID: *//p' "$T/out")
assert_eq "private-key=$id"$'\n'"public-key=$id" "$(with_label "half id")" \
	"public key ID refused: both halves keep the same random ID"
assert_eq "C_SetAttributeValue 0x0"$'\n'"C_SetAttributeValue 0x10"$'\n'"C_SetAttributeValue 0x0" \
	"$(grep '^C_SetAttributeValue ' "$FAULT_LOG" | cut -d' ' -f1,2)" "public key ID refused: the private key's ID was set back"

# --- FAULT_FAIL on every call of a keygen, in turn. ----------------------------
# For each key kind: the calls of a clean run, as NAME:N (the Nth call of
# NAME), then a run failing each of them.
failures=0
fail_soft() { printf '%s: FAIL: %s\n' "$T_NAME" "$*" >&2; failures=$((failures + 1)); }
i=0
for type in ec:prime256v1 rsa:2048; do
	assert_exit 0 fault_keygen "clean $type" --type "$type"
	grep -v '^C_GetFunctionList ' "$FAULT_LOG" | awk '{ print $1 ":" ++n[$1] }' >"$T/calls"
	clean_id=$(sed -n 's/^  ID: *//p' "$T/out")
	assert_eq "$clean_id" "$(key_identifier "$clean_id")" "clean $type run: the ID is the key identifier"
	for want in C_Login:1 C_GenerateKeyPair:1 C_SetAttributeValue:2 C_CloseSession:1; do
		grep -qx "$want" "$T/calls" || die "a clean fault_keygen made no $want: $(tr '\n' ' ' <"$T/calls")"
	done
	echo "calls of a $type keygen: $(tr '\n' ' ' <"$T/calls")"
	session_calls=0   # from C_OpenSession on, the session exists
	while read -r call; do
		[[ $call == C_OpenSession:* ]] && session_calls=1
		for rv in CKR_DEVICE_ERROR CKR_DEVICE_REMOVED CKR_SESSION_HANDLE_INVALID; do
			# Removal before the session exists is the token list's business.
			[[ $rv == CKR_DEVICE_ERROR || $session_calls == 1 ]] || continue
			i=$((i + 1))
			label="fail $i"
			what="$type, FAULT_FAIL=$call:$rv"
			rc=0 failed_before=$failures
			FAULT_FAIL=$call:$rv fault_keygen "$label" --type "$type" 2>"$T/stderr" || rc=$?
			no_sanitizer_report "$what"
			grep -q "^${call%%:*} 0x" "$FAULT_LOG" || fail_soft "$what: ${call%%:*} was not called"
			left=$(with_label "$label")
			case $call:$rv in
			C_GenerateKeyPair:*:CKR_DEVICE_ERROR)
				# May mean a refused template: the next template is tried,
				# and taken (test-keygen-fallback.sh checks the fallback).
				[[ $rc == 0 && $(grep -c '^C_GenerateKeyPair ' "$FAULT_LOG") == 2 ]] ||
					{ fail_soft "$what: exit $rc, expected 0 after a second template: $(<"$T/stderr")"; continue; }
				[[ $(<"$T/stderr") == *"CKR_DEVICE_ERROR"*CKA_EXTRACTABLE* ]] ||
					fail_soft "$what: the warning does not give the answer and what was left out: $(<"$T/stderr")"
				echo "ok: $what: exit 0, the second template taken"
				continue ;;
			C_CloseSession:* | C_Finalize:*)
				# The key was made before: it stays, complete and with its ID.
				[[ $rc == 0 ]] || { fail_soft "$what: exit $rc after the key was made: $(<"$T/stderr")"; continue; }
				id=$(sed -n 's/^  ID: *//p' "$T/out")
				[[ $left == "private-key=$id"$'\n'"public-key=$id" ]] ||
					fail_soft "$what: the key pair is not complete: $left"
				[[ $(key_identifier "$id") == "$id" ]] || fail_soft "$what: the ID is not the key identifier"
				echo "ok: $what: exit 0, the key pair is there"
				continue ;;
			esac
			[[ $rc == 1 ]] || { fail_soft "$what: exit $rc, expected 1: $(<"$T/stderr") $(<"$T/out")"; continue; }
			[[ $(<"$T/stderr") == *"${call%%:*}"* ]] ||
				fail_soft "$what: the message does not name ${call%%:*}: $(<"$T/stderr")"
			[[ $(<"$T/stderr") == *"$rv"* ]] ||
				fail_soft "$what: the message does not name $rv: $(<"$T/stderr")"
			[[ -z $(<"$T/out") ]] || fail_soft "$what: output on stdout: $(<"$T/out")"
			# "A key pair labelled 'LABEL' with ID HEX may be left ...": the label
			# and the ID(s) named.
			named_line=$(grep -F "A key pair labelled '$label'" "$T/stderr" || true)
			named_ids=$(grep -Eo '\b[0-9a-f]{40}\b' <<<"$named_line" | sort -u || true)
			if [[ -z $left ]]; then
				((failures > failed_before)) ||
					echo "ok: $what: exit 1, function named, nothing left${named_line:+ (a leftover was named)}"
				continue
			fi
			# Something is left: only acceptable when the session was gone, and
			# then the message must name the label and the ID of all that is left.
			left_ids=$(sed 's/.*=//' <<<"$left" | sort -u)
			if [[ $rv == CKR_DEVICE_ERROR ]]; then
				fail_soft "$what: a key pair was left behind: $left"
			elif [[ -z $named_line || -z $named_ids ]]; then
				fail_soft "$what: objects were left ($(tr '\n' ' ' <<<"$left")) and the message does not name them with label and ID: $(<"$T/stderr")"
			elif [[ -n $(comm -23 <(echo "$left_ids") <(echo "$named_ids")) ]]; then
				fail_soft "$what: the message names ID $(tr '\n' ' ' <<<"$named_ids")but the objects left are: $(tr '\n' ' ' <<<"$left")"
			elif ((failures == failed_before)); then
				echo "ok: $what: exit 1, function named, the leftover '$label' $(tr '\n' ' ' <<<"$named_ids")named"
			fi
		done
	done <"$T/calls"
done
((i > 0)) || die "no fault runs"

((failures == 0)) || die "$failures fault case(s) failed (see above)"
echo "PASS: $T_NAME ($i fault runs)"
