#!/usr/bin/env bash
# imss-renew check on SoftHSM tokens: certificates valid 90 days, valid 10
# days and expired, imported with `import --force`, give exit status 11
# from the token that holds them, 0 or 10 from a token with only the
# 90-day one depending on --days, 0 from a token with none; with no source
# every token present is checked without any PIN (stdin closed), the
# uninitialized slot SoftHSM keeps is skipped, and --json names each
# certificate's token; --token with --pin-source logs in and finds the
# same; a wrong PIN fails with 1.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../cli/cli-lib.sh
. "$TESTS_DIR/cli/cli-lib.sh"
# shellcheck source=SCRIPTDIR/check-lib.sh
. "$TESTS_DIR/check/check-lib.sh"
t_need openssl jq
t_tmpdir

pki_init
pki_ca ca

# Token A: three keys, their certificates valid 90 days, 10 days, expired.
t_make_token "IMSS check A"
uri_a=$IMSS_TOKEN_URI
for f in 90 10 expired; do
	keygen "check $f" rsa:2048
	csr_for "$KEY_URI" "$T/a$f.csr" "$SUBJECT"
done
check_certs_for a
for f in 90 10 expired; do
	assert_exit 0 capture "$T/out" imss import --token "$uri_a" --cert "$T/a$f.cer" --force \
		--pin-source "file:$T/pin"
done

# Token B: one key, no certificate yet.
t_make_token "IMSS check B"
uri_b=$IMSS_TOKEN_URI
IMSS_TOKEN_URI=$uri_b keygen "check b" ec:prime256v1
b_key=$KEY_URI
assert_exit 0 capture "$T/out" imss check --token "$uri_b" </dev/null
assert_eq "No certificates found." "$(<"$T/out")" "token B without certificates: exit 0"

# Token A: all three, without login.
assert_exit 11 capture "$T/a.txt" imss check --token "$uri_a" </dev/null
assert_eq "EXPIRED EXPIRING OK" "$(grep -E '^(OK|EXPIRING|EXPIRED):' "$T/a.txt" | cut -d: -f1 | sort | xargs)" \
	"token A: one line per certificate"
assert_eq 3 "$(grep -c "registro patronal $REGISTRO_PATRONAL, serial .*; token 'IMSS check A'$" "$T/a.txt")" \
	"token A: who, serial and the token on each line"
assert_contains "$(<"$T/a.txt")" "1 certificate has expired" "token A: expired summary"
assert_contains "$(<"$T/a.txt")" "1 certificate expires within 30 days" "token A: expiring summary"
assert_exit 11 capture "$T/a.json" imss --json check --token "$uri_a" </dev/null
check_json "$T/a.json"
for f in 90 10 expired; do
	want=ok
	[[ $f == 10 ]] && want=expiring
	[[ $f == expired ]] && want=expired
	assert_eq "$want|token|IMSS check A" \
		"$(jq -r --arg s "$(serial_of "$T/a$f.pem")" \
		'.certificates[] | select(.serial == $s) | [.status, .source, .token] | join("|")' "$T/a.json")" \
		"token A --json: the $f certificate"
done
assert_contains "$(jq -r '.certificates[0].location' "$T/a.json")" "type=cert" \
	"token A --json: location is the certificate's URI"

# Logged in: the same certificates.
assert_exit 11 capture "$T/a-login.json" imss --json check --token "$uri_a" --pin-source "file:$T/pin"
assert_eq "$(jq -S '[.certificates[].serial] | sort' "$T/a.json")" \
	"$(jq -S '[.certificates[].serial] | sort' "$T/a-login.json")" "--pin-source: the same certificates"
printf '0000\n' >"$T/wrong-pin"
assert_exit 1 capture "$T/out" imss check --token "$uri_a" --pin-source "file:$T/wrong-pin"
printf 'ok: a wrong PIN fails with 1\n'

# Token B gets a 90-day certificate: 0, or 10 with --days 100.
csr_for "$b_key" "$T/b90.csr" "/O=Otra Empresa SA/OU=Z9876543210/CN=Otra"
pki_issue ca "$T/b90.csr" "$T/b90.pem" 90
assert_exit 0 capture "$T/out" imss import --token "$uri_b" --cert "$T/b90.pem" \
	--pin-source "file:$T/pin"
assert_exit 0 capture "$T/out" imss check --token "$uri_b" </dev/null
assert_contains "$(<"$T/out")" "OK: Otra Empresa SA, registro patronal Z9876543210" "token B: OK"
assert_exit 10 capture "$T/out" imss check --token "$uri_b" --days 100 </dev/null
assert_exit 0 capture "$T/out" imss check --token "$uri_b" --days 89 </dev/null

# No source: every token present (A and B; SoftHSM's free slot skipped),
# no PIN asked for.
assert_exit 11 capture "$T/all.json" imss --json check </dev/null
check_json "$T/all.json"
assert_eq "IMSS check A:3 IMSS check B:1" \
	"$(jq -r '[.certificates | group_by(.token)[] | "\(.[0].token):\(length)"] | join(" ")' "$T/all.json")" \
	"no source: the certificates of both tokens"
assert_eq expired "$(jq -r .status "$T/all.json")" "no source: expired overall"
assert_exit 11 capture "$T/all.txt" imss check </dev/null
assert_eq 4 "$(grep -cE '^(OK|EXPIRING|EXPIRED):' "$T/all.txt")" "no source: four lines"
assert_contains "$(<"$T/all.txt")" "token 'IMSS check B'" "no source: token B's line"
[[ $(<"$T/stderr") != *PIN* ]] || die "no source: asked for a PIN: $(<"$T/stderr")"
# --days 0: only the expired one matters.
assert_exit 11 capture "$T/out" imss check --days 0 </dev/null

# A store with only an uninitialized slot: nothing to check.
mkdir -p "$T/empty-tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$T/empty-tokens" >"$T/empty.conf"
assert_exit 0 capture "$T/out" env SOFTHSM2_CONF="$T/empty.conf" "$IMSS_RENEW" \
	--module "$SOFTHSM2_MODULE" check </dev/null
assert_eq "No certificates found." "$(<"$T/out")" "an uninitialized token is skipped"

echo "PASS: $T_NAME"
