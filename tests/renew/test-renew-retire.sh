#!/usr/bin/env bash
# renew --retire-old: only after success, the old token credential is
# relabelled (default) or deleted (=delete, after its public key is
# checked); a file credential is left as it is; the new credential is not
# touched.
. "$TESTS_DIR/lib/common.sh"
. "$TESTS_DIR/renew/lib.sh"
svc_init
svc_start

today=$(date -u +%Y-%m-%d)

# retire_run WHAT SAID ARGS...: renew with ARGS succeeds and its output says
# SAID; the token's objects are then in $C/objects.json.
retire_run() {
	local what=$1 said=$2
	shift 2
	renew_run "$@" >"$C/out.txt" || die "$what: renew failed: $(<"$C/err")"
	assert_contains "$(<"$C/out.txt")" "$said" "$what: the tool says so"
	objects_json "$C/objects.json"
}

# count_objects JQ-FILTER: how many of the token's objects the filter selects.
count_objects() { jq "[.objects[] | select($1)] | length" "$C/objects.json"; }

# Relabel: the two old objects (the credential imss-renew-service issue
# --token made, as a renewal makes one: private key and certificate, its
# public key a session object) carry the new label; nothing else changed.
case_new relabel token
retire_run relabel "relabelled" --retire-old
assert_eq 2 "$(count_objects ".label == \"IMSS anterior (retired $today)\"")" \
	"relabel: private key and certificate relabelled"
assert_eq 0 "$(count_objects '.label == "IMSS anterior"')" "relabel: nothing left under the old label"
assert_eq "$OLD_ID" "$(jq -r "[.objects[] | select(.label == \"IMSS anterior (retired $today)\")][0].id" "$C/objects.json")" \
	"relabel: same objects (same ID)"
assert_eq 2 "$(count_objects '.label | startswith("IMSS R")')" \
	"relabel: the new key and certificate are there (its public key was a session object)"

# Delete: the old objects are gone, the new ones stay.
case_new delete token
retire_run delete "deleted" --retire-old=delete
assert_eq 0 "$(count_objects ".id == \"$OLD_ID\"")" "delete: no object with the old ID left"
assert_eq 2 "$(count_objects '.label | startswith("IMSS R")')" \
	"delete: the new key and certificate are there (its public key was a session object)"

# A .pfx is never touched.
case_new file pfx
retire_run pfx "is a file; it was left as it is" --retire-old=delete
sha256sum <"$C/old.pfx" | cmp -s - "$C/old.pfx.sha256" || die "pfx: the .pfx changed"
echo "ok: the .pfx is unchanged"

# A bad value is a usage error, before anything happens.
assert_exit 2 "$IMSS_RENEW" renew --retire-old=burn --server https://127.0.0.1:1 --user U \
	--current 'pkcs11:object=x' --token 'pkcs11:token=IMSS'
