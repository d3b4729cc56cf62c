#!/usr/bin/env bash
# keygen falls back template by template on a token that refuses the
# sign-only template with any answer that may mean "template refused"
# (tpm2-pkcs11 1.9 answers CKR_GENERAL_ERROR), through the fault module:
#  - FAULT_REFUSE_SIGN_ONLY (RSA and EC): three C_GenerateKeyPair calls, the
#    key made without the usage flags and still sensitive, never extractable;
#    the tool names what was left out and the token's answers (text, --json);
#  - with FAULT_REFUSE_EXTRACTABLE too: the fourth template, without both;
#  - every template refused: exit 1, one message naming the answers, no
#    "plug it in again", nothing left on the token;
#  - the protection read back: a key the token does not say is sensitive,
#    or says neither "not extractable" nor "never extractable", is refused
#    (KEY_PROTECTION) and destroyed; one of the two is enough;
#  - an answer about the token, session, login or key type
#    (CKR_USER_NOT_LOGGED_IN, CKR_SESSION_READ_ONLY, CKR_DEVICE_MEMORY,
#    CKR_PIN_EXPIRED, CKR_KEY_SIZE_RANGE): no relaxed template is tried;
#  - a pair made and then CKR_GENERAL_ERROR, CKR_FUNCTION_FAILED or
#    CKR_DEVICE_ERROR answered: that pair is found by its label and random
#    ID and taken, no second template tried (one pair on the token).
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
: "${FAULT_MODULE:?FAULT_MODULE is not set (run the test through ctest)}"
t_need jq

t_make_token "IMSS keygen fallback"
# shellcheck source=lib.sh
. "$TESTS_DIR/token/lib.sh"

# generate_answers: the return values of C_GenerateKeyPair in the last run.
generate_answers() { grep '^C_GenerateKeyPair ' "$FAULT_LOG" | cut -d' ' -f2 | tr '\n' ' '; }
# protection LABEL: sensitive|extractable|never_extractable of that private key.
protection() {
	objects_json
	jq -r --arg l "$1" '.objects[] | select(.class == "private-key" and .label == $l) |
		[.sensitive, .extractable, .never_extractable] | map(tostring) | join("|")' \
		"$T/objects.json"
}
USAGE="CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE, CKA_ENCRYPT, CKA_WRAP"

# --- a sign-only template refused with CKR_GENERAL_ERROR ------------------------
for type in rsa:2048 ec:prime256v1; do
	label="sign-only ${type/:/ }"
	FAULT_REFUSE_SIGN_ONLY=1 assert_exit 0 fault_keygen "$label" --type "$type"
	assert_eq "0x5 0x5 0x0 " "$(generate_answers)" \
		"$type: CKR_GENERAL_ERROR to the two sign-only templates, the third taken"
	warning=$(grep 'warning: ' "$T/stderr" || true)
	assert_contains "$warning" "CKR_GENERAL_ERROR, CKR_GENERAL_ERROR" "$type: the warning gives the token's answers"
	assert_contains "$warning" "$USAGE" "$type: the warning names the usage flags left out"
	[[ $warning != *CKA_EXTRACTABLE* ]] || die "$type: CKA_EXTRACTABLE was left out too: $warning"
	assert_eq "true|false|true" "$(protection "$label")" \
		"$type: the key is sensitive, not extractable, never extractable"
done
FAULT_REFUSE_SIGN_ONLY=CKR_TEMPLATE_INCONSISTENT assert_exit 0 capture "$T/keygen.json" fault --json \
	keygen --token "$IMSS_TOKEN_URI" --label "sign-only json" --pin-source "file:$T/pin"
assert_eq "$USAGE" "$(jq -r .refused "$T/keygen.json")" "keygen --json: refused names the usage flags"
assert_eq "CKR_TEMPLATE_INCONSISTENT, CKR_TEMPLATE_INCONSISTENT" \
	"$(jq -r .refused_reason "$T/keygen.json")" "keygen --json: refused_reason gives the answers"
assert_eq "true false" "$(jq -r '[.sensitive, .extractable] | map(tostring) | join(" ")' "$T/keygen.json")" \
	"keygen --json: sensitive, not extractable"
assert_exit 0 capture "$T/plain.json" fault --json keygen --token "$IMSS_TOKEN_URI" \
	--label "plain json" --pin-source "file:$T/pin"
assert_eq "null null" "$(jq -r '[.refused, .refused_reason] | map(tostring) | join(" ")' "$T/plain.json")" \
	"keygen --json on a token that takes the full template: nothing refused"

# --- sign-only and CKA_EXTRACTABLE both refused: the last template ---------------
FAULT_REFUSE_SIGN_ONLY=CKR_FUNCTION_FAILED FAULT_REFUSE_EXTRACTABLE=1 \
	assert_exit 0 capture "$T/both.json" fault --json keygen --token "$IMSS_TOKEN_URI" \
	--label "both relaxed" --type ec:secp384r1 --pin-source "file:$T/pin"
assert_eq "0x12 0x6 0x12 0x0 " "$(generate_answers)" "both refused: four templates, the last taken"
assert_eq "CKA_EXTRACTABLE, $USAGE" "$(jq -r .refused "$T/both.json")" "both refused: refused names both"
assert_eq "CKR_ATTRIBUTE_TYPE_INVALID, CKR_FUNCTION_FAILED, CKR_ATTRIBUTE_TYPE_INVALID" \
	"$(jq -r .refused_reason "$T/both.json")" "both refused: the three answers"
assert_eq "true|false|true" "$(protection "both relaxed")" \
	"both refused: SoftHSM's default keeps the key not extractable, checked"

# --- every template refused ------------------------------------------------------
FAULT_FAIL=C_GenerateKeyPair:1+:CKR_GENERAL_ERROR assert_exit 1 fault_keygen "never made"
assert_eq "0x5 0x5 0x5 0x5 " "$(generate_answers)" "all refused: the four templates were tried"
assert_contains "$(<"$T/stderr")" "refused every template for a RSA 2048 key" "all refused: the message says so"
assert_contains "$(<"$T/stderr")" \
	"CKR_GENERAL_ERROR, CKR_GENERAL_ERROR, CKR_GENERAL_ERROR, CKR_GENERAL_ERROR" \
	"all refused: the message gives the answers"
[[ $(<"$T/stderr") != *"plug it in again"* && $(<"$T/stderr") != *udev* ]] ||
	die "all refused: the message still says to plug the token in again: $(<"$T/stderr")"
echo "ok: all refused: no 'plug it in again'"
assert_eq "" "$(with_label "never made")" "all refused: nothing left on the token"
FAULT_FAIL=C_GenerateKeyPair:1+:CKR_GENERAL_ERROR assert_exit 1 capture "$T/err.json" fault --json \
	keygen --token "$IMSS_TOKEN_URI" --label "never made" --pin-source "file:$T/pin"
assert_eq UNSUPPORTED "$(jq -r .error.code "$T/err.json")" "all refused --json: error code UNSUPPORTED"

# --- the protection read back ------------------------------------------------------
FAULT_HIDE_ATTRS=extractable,never_extractable assert_exit 1 fault_keygen "unsaid" --type ec:prime256v1
assert_contains "$(<"$T/stderr")" "without saying it is not extractable" \
	"extractable unsaid: refused, saying why"
assert_eq "" "$(with_label "unsaid")" "extractable unsaid: the pair was destroyed"
FAULT_HIDE_ATTRS=sensitive assert_exit 1 capture "$T/err.json" fault --json keygen \
	--token "$IMSS_TOKEN_URI" --label "unsaid sensitive" --pin-source "file:$T/pin"
assert_eq KEY_PROTECTION "$(jq -r .error.code "$T/err.json")" "sensitive unsaid: KEY_PROTECTION"
assert_contains "$(jq -r .error.detail "$T/err.json")" "not sensitive" "sensitive unsaid: it says why"
assert_eq "" "$(with_label "unsaid sensitive")" "sensitive unsaid: the pair was destroyed"
FAULT_HIDE_ATTRS=extractable assert_exit 0 fault_keygen "never said" --type ec:prime256v1
FAULT_HIDE_ATTRS=never_extractable assert_exit 0 fault_keygen "extractable said" --type ec:prime256v1

# --- the pair made, then a failure answered: taken, never a second pair ---------
# (FAULT_FAIL ...:after: the real C_GenerateKeyPair runs, the module says
# CKR_GENERAL_ERROR; the next template would make a second pair under the
# same label and random ID, which resume then calls ambiguous)
for rv in CKR_GENERAL_ERROR CKR_FUNCTION_FAILED CKR_DEVICE_ERROR; do
	label="made then $rv"
	FAULT_FAIL=C_GenerateKeyPair:1:$rv:after assert_exit 0 fault_keygen "$label" --type ec:prime256v1
	assert_eq 1 "$(grep -c '^C_GenerateKeyPair ' "$FAULT_LOG")" "$rv after the pair: no second template tried"
	assert_eq 2 "$(with_label "$label" | wc -l)" "$rv after the pair: one pair on the token"
	assert_eq "private-key public-key" "$(with_label "$label" | cut -d= -f1 | tr '\n' ' ' | sed 's/ $//')" \
		"$rv after the pair: a private and a public key"
	assert_contains "$(<"$T/stderr")" "made the pair; that pair is taken" "$rv after the pair: it says so"
	assert_eq "true|false|true" "$(protection "$label")" "$rv after the pair: its protection checked"
done

# --- answers about the token, the session, the login or the key type: no fallback --
# (0xb5: CKR_SESSION_READ_ONLY, 0x62: CKR_KEY_SIZE_RANGE, names the fault
# module does not know)
for rv in CKR_USER_NOT_LOGGED_IN:CKR_USER_NOT_LOGGED_IN 0xb5:CKR_SESSION_READ_ONLY \
	CKR_DEVICE_MEMORY:CKR_DEVICE_MEMORY CKR_PIN_EXPIRED:CKR_PIN_EXPIRED \
	0x62:CKR_KEY_SIZE_RANGE; do
	name=${rv#*:} rv=${rv%%:*}
	FAULT_FAIL=C_GenerateKeyPair:1:$rv assert_exit 1 fault_keygen "state $name"
	assert_eq 1 "$(grep -c '^C_GenerateKeyPair ' "$FAULT_LOG")" "$name: no relaxed template tried"
	assert_contains "$(<"$T/stderr")" "$name" "$name: the message names it"
done

echo "PASS: $T_NAME"
