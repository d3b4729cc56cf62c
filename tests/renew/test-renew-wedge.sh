#!/usr/bin/env bash
# The "wedge": a renewal's certificate was issued (the run killed before it
# was stored) and then its journal was deleted by hand.  The next `renew`
# logs in, the service says the certificate signed a renewal already, and
# the run stops before making a second key (which the service would
# refuse, ALREADY_RENEWED): exit 1, the message names the certificate the
# service issued by its serial and the command that fetches it
# (`imss-renew recover --serial`), the token unchanged.  Following it, with
# the serial read from the message, stores that certificate next to the
# key the first run made; openssl verifies it against the service's CA.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$TESTS_DIR/renew/lib.sh"

svc_init
svc_start
case_new wedge token
rc=0
FAULT_KILL=C_CreateObject:1 renew_run >"$C/out1.txt" || rc=$?
assert_eq 137 "$rc" "killed before the certificate was stored"
assert_eq store-started "$(journal_state)" "the certificate was issued and received"
issued=$(jq -r .cert_serial "$(journal)")
key_id=$(jq -r .key_id "$(journal)")
rm "$(journal)"
objects_json "$C/before.json"

rc=0
renew_run >"$C/out2.txt" || rc=$?
assert_eq 1 "$rc" "journal deleted: the next renew fails"
assert_contains "$(<"$C/err")" "was renewed already: the service issued certificate $issued" \
	"the message names the certificate issued, by its serial"
assert_contains "$(<"$C/err")" "imss-renew recover --serial" "the message names the command that fetches it"
assert_eq 0 "$(grep -c '^C_GenerateKeyPair ' "$C/calls.log" || :)" "no second key made"
objects_json "$C/after.json"
assert_eq "$(jq -c .objects "$C/before.json")" "$(jq -c .objects "$C/after.json")" "the token is unchanged"

serial=$(sed -n 's/.*the service issued certificate \([0-9A-Fa-f]*\) .*/\1/p' "$C/err" | head -n 1)
recover_run "$serial" "recover, as the message says"
objects_json "$C/objects.json"
check_old_intact "recover"
# (The key's public key was a session object: private key and certificate.)
assert_eq "certificate,private-key" \
	"$(jq -r --arg id "$key_id" '[.objects[] | select(.id == $id) | .class] | sort | join(",")' "$C/objects.json")" \
	"recover: the certificate stored next to the key the first run made"
p11 --read-object --type cert --id "$key_id" -o "$C/new-cert.der" >/dev/null 2>&1 || die "cannot read it"
assert_eq "$(tr a-f A-F <<<"$issued")" \
	"$(openssl x509 -inform DER -in "$C/new-cert.der" -noout -serial | cut -d= -f2 | tr a-f A-F)" \
	"recover: it is the certificate the service issued"
openssl verify -CAfile "$D/ca.pem" "$C/new-cert.der" >/dev/null 2>&1 || die "openssl verify refuses it"
echo "PASS"
