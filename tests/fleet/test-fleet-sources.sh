#!/usr/bin/env bash
# fleet renew with every kind of current credential and two tokens in one
# file (README, "Renewing many employers"): the current column naming a
# .cer (its .key beside it, the password from the password_source column)
# and a .pfx, empty (the employer's certificate on the token), and the
# token column naming a second token for some rows (--token for the
# others).  One run renews all five with one C_Login per token; each new
# key and certificate is on the token its row names (and not on the
# other), the journal is under that token's serial, the certificate
# verifies against the service's CA; the .cer and .key are unchanged.  The
# run's --json document has the shape docs/json.md gives (FLEET_RENEW_SHAPE)
# and is the --report file.  A second run renews nothing: the certificate
# on each row's token is the current one now, also for the .cer rows.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$TESTS_DIR/fleet/lib.sh"

svc_init
svc_start
fleet_new 1 # employer 1: its credential on the first token, the row's token empty
fleet_wide
token1_uri=$IMSS_TOKEN_URI token1_serial=$IMSS_TOKEN_SERIAL
out=$(IMSS_USER_PIN=$USER_PIN IMSS_SO_PIN=$SO_PIN "$MAKE_TOKEN" --dir "$T/softhsm" --add \
	--label IMSS2 --init-tool "$SOFTHSM_TOKEN_INIT" --module "$SOFTHSM") || die "no second token"
eval "$out"
token2_uri=$IMSS_TOKEN_URI token2_serial=$IMSS_TOKEN_SERIAL
IMSS_TOKEN_URI=$token1_uri IMSS_TOKEN_SERIAL=$token1_serial
[[ $token1_serial != "$token2_serial" ]] || die "the two tokens have one serial"
# Employer 2: its credential on the second token, named in the token column.
FLEET_PAD=",,,$token2_uri" FLEET_TOKEN_URI=$token2_uri fleet_add 2
FLEET_PAD=,,,
fleet_add_file 3 cer "$token2_uri" # a .cer + .key, the new key on the second token
fleet_add_file 4 cer               # a .cer + .key, the new key on --token
fleet_add_file 5 pfx "$token2_uri"
declare -A token_of=([${FLEET_RPS[0]}]=1 [${FLEET_RPS[1]}]=2 [${FLEET_RPS[2]}]=2
	[${FLEET_RPS[3]}]=1 [${FLEET_RPS[4]}]=2)
sha256sum "$T"/files/*.cer "$T"/files/*.key >"$T/files.sha256"

rc=0
fleet_run renew --json --report "$T/report.json" >"$T/out.json" || rc=$?
[[ $rc == 0 ]] || { cat "$T/out.json" "$T/err" >&2; die "fleet renew: exit $rc"; }
jq -e "$FLEET_RENEW_SHAPE" "$T/out.json" >/dev/null ||
	die "--json: not the documented document: $(<"$T/out.json")"
echo "ok: --json: the document docs/json.md describes"
assert_eq 1 "$(jq -s length "$T/out.json")" "--json: one document, no event stream"
assert_eq "$(jq -c . "$T/report.json")" "$(jq -c . "$T/out.json")" "--json: the --report document"
assert_eq "5 0" "$(jq -r '"\(.renewed) \(.exit)"' "$T/out.json")" "all five renewed, exit 0"
assert_eq 2 "$(calls C_Login)" "one C_Login per token"
sha256sum -c --quiet "$T/files.sha256" || die "a .cer or .key changed"
echo "ok: the .cer and .key files are unchanged"

# objects_on N: the objects of token N (after login).
objects_on() {
	local uri=$token1_uri
	[[ $1 == 1 ]] || uri=$token2_uri
	"$IMSS_RENEW" --json --module "$SOFTHSM" objects --login --token "$uri" \
		--pin-source "file:$T/pin" >"$T/objects$1.json" || die "objects on token $1"
}
objects_on 1
objects_on 2
for rp in "${FLEET_RPS[@]}"; do
	n=${token_of[$rp]}
	serial=$token1_serial other=2
	[[ $n == 1 ]] || serial=$token2_serial other=1
	journal_file=$T/state/renew-$rp-$serial.json
	[[ -e $journal_file ]] || die "$rp: no journal under token $n's serial"
	assert_eq done "$(jq -r .state "$journal_file")" "$rp: journal done (token $n)"
	cert=$(jq -r .cert_path "$journal_file")
	openssl verify -CAfile "$D/ca.pem" "$cert" >/dev/null 2>&1 || die "$rp: openssl verify refuses $cert"
	id=$(jq -r .key_id "$journal_file")
	# (The new key's public key was a session object.)
	assert_eq "certificate,private-key" \
		"$(jq -r --arg id "$id" '[.objects[] | select(.id == $id) | .class] | sort | join(",")' "$T/objects$n.json")" \
		"$rp: the new key and its certificate on token $n"
	assert_eq 0 "$(jq --arg id "$id" '[.objects[] | select(.id == $id)] | length' "$T/objects$other.json")" \
		"$rp: nothing of it on token $other"
	new_serial=$(jq -r --arg rp "$rp" '.employers[] | select(.registro_patronal == $rp) | .new_serial' "$T/out.json")
	assert_eq "$(openssl x509 -inform DER -in "$cert" -noout -serial | cut -d= -f2 | tr A-F a-f)" \
		"$(tr A-F a-f <<<"$new_serial")" "$rp: --json names the new certificate"
done
assert_eq "$T/files/${FLEET_RPS[2]}.cer" \
	"$(jq -r --arg rp "${FLEET_RPS[2]}" '.employers[] | select(.registro_patronal == $rp) | .location' "$T/out.json")" \
	"--json: the location of a .cer row is the file"

rc=0
fleet_run renew --json >"$T/out2.json" || rc=$?
[[ $rc == 0 ]] || { cat "$T/out2.json" "$T/err" >&2; die "second run: exit $rc"; }
jq -e "$FLEET_RENEW_SHAPE" "$T/out2.json" >/dev/null || die "second run: --json shape: $(<"$T/out2.json")"
assert_eq 5 "$(jq .not_due "$T/out2.json")" "second run: all five not due"
assert_eq 0 "$(calls C_GenerateKeyPair)" "second run: no key generated"
assert_eq "$(jq -r '.employers[].new_serial' "$T/out.json")" "$(jq -r '.employers[].serial' "$T/out2.json")" \
	"second run: each row's current certificate is the new one, on its token"
echo "PASS"
