#!/usr/bin/env bash
# imss-renew check on SoftHSM tokens: certificates of one employer valid 90
# days, valid 10 days and expired, imported with `import --force`: the
# 90-day one supersedes the two older ones (same registro patronal, its
# key beside it), so the token exits 0 and --all shows the others marked;
# 0 or 10 from a token with only the 90-day one of another employer
# depending on --days, 1 from a token with none; with no source every
# token present is checked without any PIN (stdin closed), the
# uninitialized slot SoftHSM keeps is skipped, and --json names each
# certificate's token; --token with --pin-source logs in and finds the
# same; a wrong PIN fails with 1; nothing but an uninitialized slot fails
# with 1 and says so.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
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
assert_exit 1 capture "$T/out" imss check --token "$uri_b" </dev/null
assert_eq "" "$(<"$T/out")" "token B without certificates: nothing on stdout"
assert_contains "$(<"$T/stderr")" "holds no employer certificate" \
	"token B without certificates: exit 1 with the reason"

# Token A: the 90-day certificate supersedes the other two, without login.
assert_exit 0 capture "$T/a.txt" imss check --token "$uri_a" </dev/null
assert_eq "OK" "$(grep -E '^(OK|EXPIRING|EXPIRED|SUPERSEDED):' "$T/a.txt" | cut -d: -f1 | xargs)" \
	"token A: only the current certificate"
assert_contains "$(<"$T/a.txt")" "2 superseded or retired certificates are not counted (shown with --all)." \
	"token A: the superseded ones are counted apart"
assert_exit 0 capture "$T/a.txt" imss check --token "$uri_a" --all </dev/null
a90=$(serial_of "$T/a90.pem")
assert_eq "SUPERSEDED SUPERSEDED OK" "$(grep -E '^[A-Z]+:' "$T/a.txt" | cut -d: -f1 | xargs)" \
	"token A --all: one line per certificate, most urgent first"
assert_eq 2 "$(grep -c "; token 'IMSS check A'; superseded by serial $a90$" "$T/a.txt")" \
	"token A --all: superseded by the 90-day one"
assert_eq 3 "$(grep -c "registro patronal $REGISTRO_PATRONAL, serial .*; token 'IMSS check A'" "$T/a.txt")" \
	"token A: who, serial and the token on each line"
assert_exit 0 capture "$T/a.json" imss --json check --token "$uri_a" --all </dev/null
check_json "$T/a.json"
for f in 90 10 expired; do
	want="ok|token|IMSS check A|null"
	[[ $f == 10 ]] && want="expiring|token|IMSS check A|$a90"
	[[ $f == expired ]] && want="expired|token|IMSS check A|$a90"
	assert_eq "$want" \
		"$(jq -r --arg s "$(serial_of "$T/a$f.pem")" \
		'.certificates[] | select(.serial == $s) | [.status, .source, .token, .superseded_by] | map(tostring) | join("|")' "$T/a.json")" \
		"token A --json: the $f certificate"
done
assert_exit 0 capture "$T/a1.json" imss --json check --token "$uri_a" </dev/null
assert_eq "$a90" "$(jq -r '[.certificates[].serial] | join(" ")' "$T/a1.json")" \
	"token A --json without --all: the current certificate only"
assert_contains "$(jq -r '.certificates[0].location' "$T/a.json")" "type=cert" \
	"token A --json: location is the certificate's URI"

# Logged in: the same certificates.
assert_exit 0 capture "$T/a-login.json" imss --json check --all --token "$uri_a" --pin-source "file:$T/pin"
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
assert_exit 0 capture "$T/all.json" imss --json check --all </dev/null
check_json "$T/all.json"
assert_eq "IMSS check A:3 IMSS check B:1" \
	"$(jq -r '[.certificates | group_by(.token)[] | "\(.[0].token):\(length)"] | join(" ")' "$T/all.json")" \
	"no source: the certificates of both tokens"
assert_eq ok "$(jq -r .status "$T/all.json")" "no source: ok overall (the old ones superseded)"
assert_exit 10 capture "$T/all.txt" imss check --days 91 </dev/null
assert_eq 2 "$(grep -cE '^(OK|EXPIRING|EXPIRED):' "$T/all.txt")" "no source: two current lines"
assert_contains "$(<"$T/all.txt")" "token 'IMSS check B'" "no source: token B's line"
[[ $(<"$T/stderr") != *PIN* ]] || die "no source: asked for a PIN: $(<"$T/stderr")"

# A store with only an uninitialized slot: nothing to check.
mkdir -p "$T/empty-tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$T/empty-tokens" >"$T/empty.conf"
assert_exit 1 capture "$T/out" env SOFTHSM2_CONF="$T/empty.conf" "$IMSS_RENEW" \
	--module "$SOFTHSM2_MODULE" check </dev/null
assert_contains "$(<"$T/stderr")" "No initialized token was found" \
	"an uninitialized token is skipped, and nothing left to check fails"

echo "PASS: $T_NAME"
