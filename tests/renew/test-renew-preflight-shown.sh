#!/usr/bin/env bash
# renew's preflight without C_GetMechanismInfo (issue 12, call budget): a
# current key that the token generated itself (CKA_LOCAL, read with the
# key's other attributes in the search's C_GetAttributeValue) of the kind
# and size asked for shows that the token makes such pairs; the question
# is asked in every other case:
#  - current EC P-256 key made on the token, --type ec:prime256v1: no
#    C_GetMechanismInfo at all, no call more than before, the renewal done;
#  - the same current key, --type rsa:2048 and --type ec:secp384r1 (another
#    kind, another curve): exactly one C_GetMechanismInfo;
#  - the current credential in a .pfx: exactly one;
#  - the current key imported onto the token (C_CreateObject: CKA_LOCAL
#    false): exactly one;
#  - a token that does not answer CKA_LOCAL (FAULT_HIDE_ATTRS=local):
#    exactly one;
#  - the current key made on another token than --token's: exactly one.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=lib.sh
. "$TESTS_DIR/renew/lib.sh"

svc_init
svc_start

calls() { grep -c "^$1 " "$C/calls.log" || :; }
# asked WHAT N [RENEW ARGS]: the renewal succeeds with N C_GetMechanismInfo.
asked() {
	local what=$1 n=$2
	shift 2
	renew_run "$@" >"$C/out.txt" || die "$what: renew failed: $(<"$C/err")"
	assert_eq "$n" "$(calls C_GetMechanismInfo)" "$what: $n C_GetMechanismInfo"
}

# --- made on this token, the same kind and size: nothing asked --------------------
case_new shown token
asked "EC P-256 made on the token, ec:prime256v1" 0 --type ec:prime256v1
check_renewed "shown"
assert_eq 1 "$(calls C_FindObjectsInit)" "shown: one search"
total=$(wc -l <"$C/calls.log")
((total <= 26)) || die "shown: $total PKCS#11 calls, over the 26 of docs/design.md (EC, EC current key)"
echo "ok: shown: $total calls"

# --- another kind, another curve ---------------------------------------------------
case_new rsa token
asked "EC P-256 made on the token, rsa:2048" 1 --type rsa:2048
case_new p384 token
asked "EC P-256 made on the token, ec:secp384r1" 1 --type ec:secp384r1

# --- the current credential in a .pfx -----------------------------------------------
case_new pfx pfx
asked "current in a .pfx" 1 --type ec:prime256v1

# --- the current key imported onto the token: CKA_LOCAL false ------------------------
case_new imported pfx
openssl pkcs12 -in "$C/old.pfx" -passin "file:$T/pfx.pass" -nocerts -nodes 2>/dev/null |
	openssl pkey -outform DER -out "$C/old-key.der" || die "imported: no key from the .pfx"
openssl pkcs12 -in "$C/old.pfx" -passin "file:$T/pfx.pass" -clcerts -nokeys 2>/dev/null |
	openssl x509 -outform DER -out "$C/old-cert.der" || die "imported: no certificate from the .pfx"
for what in privkey:old-key.der cert:old-cert.der; do
	p11 --login --pin "$USER_PIN" --write-object "$C/${what#*:}" --type "${what%%:*}" \
		--id 0a0b --label 'IMSS anterior' >/dev/null 2>"$C/p11.err" ||
		die "imported: pkcs11-tool cannot write the ${what%%:*}: $(<"$C/p11.err")"
done
objects_json "$C/old-objects.json"
assert_eq false "$(jq -r '.objects[] | select(.class == "private-key") | .local' "$C/old-objects.json")" \
	"imported: the key on the token is not local"
CURRENT=(--current 'pkcs11:token=IMSS;object=IMSS%20anterior;type=private')
asked "current key imported onto the token" 1 --type ec:prime256v1

# --- a token that does not say CKA_LOCAL --------------------------------------------
case_new unanswered token
FAULT_HIDE_ATTRS=local asked "CKA_LOCAL not answered" 1 --type ec:prime256v1

# --- the current key on another token -----------------------------------------------
case_new other token
out=$(IMSS_USER_PIN=$USER_PIN IMSS_SO_PIN=$SO_PIN "$MAKE_TOKEN" --dir "$C/softhsm" --add \
	--label OTRA --init-tool "$SOFTHSM_TOKEN_INIT" --module "$SOFTHSM") ||
	die "other: could not add a token"
eval "$out"
TOKEN_URI=$IMSS_TOKEN_URI
asked "current key made on another token" 1 --type ec:prime256v1
assert_eq 1 "$(calls C_GenerateKeyPair)" "other: the key made on the other token"
echo "PASS"
