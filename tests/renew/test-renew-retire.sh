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

# Relabel: the three old objects carry the new label; nothing else changed.
case_new relabel token
renew_run --retire-old >"$C/out.txt" || die "relabel: renew failed: $(<"$C/err")"
assert_contains "$(<"$C/out.txt")" "relabelled" "relabel: the tool says so"
objects_json "$C/objects.json"
assert_eq 3 "$(jq "[.objects[] | select(.label == \"IMSS anterior (retired $today)\")] | length" "$C/objects.json")" \
	"relabel: key pair and certificate relabelled"
assert_eq 0 "$(jq '[.objects[] | select(.label == "IMSS anterior")] | length' "$C/objects.json")" \
	"relabel: nothing left under the old label"
assert_eq "$OLD_ID" "$(jq -r "[.objects[] | select(.label == \"IMSS anterior (retired $today)\")][0].id" "$C/objects.json")" \
	"relabel: same objects (same ID)"
assert_eq 3 "$(jq '[.objects[] | select(.label | startswith("IMSS R"))] | length' "$C/objects.json")" \
	"relabel: the new key pair and certificate are there"

# Delete: the old objects are gone, the new ones stay.
case_new delete token
renew_run --retire-old=delete >"$C/out.txt" || die "delete: renew failed: $(<"$C/err")"
assert_contains "$(<"$C/out.txt")" "deleted" "delete: the tool says so"
objects_json "$C/objects.json"
assert_eq 0 "$(jq "[.objects[] | select(.id == \"$OLD_ID\")] | length" "$C/objects.json")" \
	"delete: no object with the old ID left"
assert_eq 3 "$(jq '[.objects[] | select(.label | startswith("IMSS R"))] | length' "$C/objects.json")" \
	"delete: the new key pair and certificate are there"

# A .pfx is never touched.
case_new file pfx
renew_run --retire-old=delete >"$C/out.txt" || die "pfx: renew failed: $(<"$C/err")"
assert_contains "$(<"$C/out.txt")" "is a file; it was left as it is" "pfx: left alone, and said so"
sha256sum <"$C/old.pfx" | cmp -s - "$C/old.pfx.sha256" || die "pfx: the .pfx changed"
echo "ok: the .pfx is unchanged"

# A bad value is a usage error, before anything happens.
assert_exit 2 "$IMSS_RENEW" renew --retire-old=burn --server https://127.0.0.1:1 --user U \
	--current 'pkcs11:object=x' --token 'pkcs11:token=IMSS'
