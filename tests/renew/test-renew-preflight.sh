#!/usr/bin/env bash
# renew's preflight (issue 11): what can be known without side effects is
# checked before step 1, and a token that cannot take the new key fails
# there, before the service is contacted:
#  - a token that does not list the generation of the key type asked for
#    (fault module FAULT_HIDE_MECHANISMS): exit 1 naming the key type and
#    --type; the service got no request at all (its log), no journal, the
#    token's objects as they were and no PKCS#11 call that writes; the same
#    renewal with a key type the token lists goes through;
#  - a token that reports too little free private memory
#    (FAULT_FREE_PRIVATE_MEMORY=512): the same, naming the bytes free;
#  - a locked user PIN (FAULT_TOKEN_FLAGS=locked) and a write-protected
#    token (FAULT_TOKEN_FLAGS=write_protected): exit 1 saying so, and again
#    no request, no journal, the token unchanged;
#  - a resumed renewal whose journal records its key needs no generation
#    mechanism: with EC generation hidden it finishes.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=lib.sh
. "$TESTS_DIR/renew/lib.sh"

svc_init
svc_start

requests() { wc -l <"$T/serve.log"; }
writes() { grep -E '^C_(Login|GenerateKeyPair|CreateObject|DestroyObject|SetAttributeValue|CopyObject) ' \
	"$C/calls.log" | grep -v '^C_Login ' || true; }
# refused WHAT NEEDLE: the renewal just run failed before the service was
# contacted, saying NEEDLE, and left the token and the state as they were.
refused() {
	local what=$1 needle=$2
	assert_contains "$(<"$C/err")" "$needle" "$what: the message says why"
	assert_eq "$before" "$(requests)" "$what: the service got no request"
	assert_eq "" "$(find "$C/state" -name 'renew-*.json')" "$what: no journal"
	assert_eq "" "$(writes)" "$what: no PKCS#11 call that writes"
	objects_json "$C/now.json"
	assert_eq "$(<"$C/old-objects.summary")" \
		"$(jq -c '[.objects[] | {class: .class, id: .id, label: .label}] | sort_by(.class)' "$C/now.json")" \
		"$what: the token's objects as they were"
}

# --- the key type's generation mechanism is not listed -----------------------------
case_new nomech token
before=$(requests)
rc=0
FAULT_HIDE_MECHANISMS=CKM_RSA_PKCS_KEY_PAIR_GEN renew_run --type rsa:2048 || rc=$?
assert_eq 1 "$rc" "no RSA key pair generation: exit 1"
refused "no RSA key pair generation" "does not list RSA 2048 key pair generation"
assert_contains "$(<"$C/err")" "Nothing was sent to the service" \
	"no RSA key pair generation: the message says nothing was sent"
assert_contains "$(<"$C/err")" "--type" "no RSA key pair generation: the hint names --type"
# The same token, a key type it lists: the renewal goes through.
FAULT_HIDE_MECHANISMS=CKM_RSA_PKCS_KEY_PAIR_GEN renew_run --type ec:prime256v1 ||
	die "ec:prime256v1 with RSA generation hidden: $(<"$C/err")"
assert_eq "done" "$(journal_state)" "a key type the token lists: the renewal is done"

# --- a token that says it is full ----------------------------------------------------
case_new full token
before=$(requests)
rc=0
FAULT_FREE_PRIVATE_MEMORY=512 renew_run --type ec:prime256v1 || rc=$?
assert_eq 1 "$rc" "512 bytes free: exit 1"
refused "512 bytes free" "reports 512 bytes of private memory free"
assert_contains "$(<"$C/err")" "Nothing was sent to the service" \
	"512 bytes free: the message says nothing was sent"

# --- a locked user PIN, a write-protected token ----------------------------------
for flag in locked write_protected; do
	case_new "$flag" pfx
	# The token holds no credential of its own here: its objects, none.
	objects_json "$C/old-objects.json"
	jq -c '[.objects[] | {class: .class, id: .id, label: .label}] | sort_by(.class)' \
		"$C/old-objects.json" >"$C/old-objects.summary"
	before=$(requests)
	rc=0
	FAULT_TOKEN_FLAGS=$flag renew_run --type ec:prime256v1 || rc=$?
	assert_eq 1 "$rc" "$flag: exit 1"
	case $flag in
	locked) refused "locked PIN" "locked" ;;
	write_protected) refused "write-protected" "write-protected" ;;
	esac
done

# --- a resumed renewal whose key exists needs no generation mechanism --------------
# (safety finding 5: the preflight ran before the journal was read.)  Killed at
# the first signature with the new key (the request; the current credential is
# a .pfx), the journal records the key; the token then stops listing EC key
# pair generation, and the resumed run still finishes.
case_new resume-nomech pfx
rc=0
FAULT_KILL=C_Sign:1 renew_run --type ec:prime256v1 >"$C/out.txt" || rc=$?
[[ $rc != 0 ]] || die "resume-nomech: the killed run exited 0"
[[ $(jq -r .key_spki_sha256 "$(journal)") =~ ^[0-9a-f]{64}$ ]] ||
	die "resume-nomech: the journal records no key: $(journal_state)"
FAULT_HIDE_MECHANISMS=CKM_EC_KEY_PAIR_GEN renew_run --type ec:prime256v1 >"$C/out.txt" ||
	die "resume-nomech: the resumed run was refused: $(<"$C/err")"
assert_contains "$(<"$C/out.txt")" "Continuing the interrupted renewal" "resume-nomech: the journal continued"
assert_eq done "$(journal_state)" "resume-nomech: a resume past keygen needs no generation mechanism"
assert_eq 0 "$(grep -c '^C_GenerateKeyPair ' "$C/calls.log" || true)" "resume-nomech: no key made"
