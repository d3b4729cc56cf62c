#!/usr/bin/env bash
# imss-renew check on files: a certificate valid 90 days exits 0, one valid
# 10 days exits 10, an expired one 11 (11 before 10 in a bundle of both);
# --days moves the threshold both ways; a line per certificate with who
# (razon social, registro patronal), serial and days left, and a summary;
# --json has the certificates, their status and the overall status and
# days; a .pfx and a .cer + .key are checked like files; CA certificates
# in a bundle are not checked; journal priorities when stdout is the
# journal ($JOURNAL_STREAM); failures exit 1 and usage errors 2.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/check-lib.sh
. "$TESTS_DIR/check/check-lib.sh"
t_need openssl jq
t_tmpdir
check_file_certs

# One certificate per run: exit status, the line, the summary.
assert_exit 0 capture "$T/out" check --cert "$T/f90.pem"
line=$(head -n1 "$T/out")
[[ $line =~ ^OK:\ Empresa\ Ejemplo\ SA\ de\ CV,\ registro\ patronal\ Y1234567890,\ serial\ $(serial_of "$T/f90.pem"):\ (89|90)\ days\ left,\ until\ 20[0-9-]+T[0-9:]+Z\;\ file\ $T/f90.pem$ ]] ||
	die "90 days: line '$line'"
assert_eq "1 certificate is valid for at least 30 more days." "$(sed -n 2p "$T/out")" \
	"90 days: summary"
assert_eq 2 "$(wc -l <"$T/out")" "90 days: one line and the summary"
assert_eq "" "$(<"$T/stderr")" "90 days: nothing on stderr"

assert_exit 10 capture "$T/out" check --cert "$T/f10.cer"
line=$(head -n1 "$T/out")
[[ $line =~ ^EXPIRING:\ .*registro\ patronal\ Y1234567890,\ serial\ $(serial_of "$T/f10.pem"):\ (9|10)\ days\ left ]] ||
	die "10 days: line '$line'"
assert_contains "$(<"$T/out")" "1 certificate expires within 30 days: renew it with 'imss-renew renew'." \
	"10 days: summary"

assert_exit 11 capture "$T/out" check --cert "$T/fexpired.pem"
ago=$(( ($(date -u +%s) - $(date -u -d 2020-02-01 +%s)) / 86400 ))
line=$(head -n1 "$T/out")
[[ $line =~ ^EXPIRED:\ Empresa.*serial\ $(serial_of "$T/fexpired.pem"):\ expired\ ($ago|$((ago + 1)))\ days\ ago,\ on\ 2020-02-01T00:00:00Z ]] ||
	die "expired: line '$line' (about $ago days ago)"
assert_contains "$(<"$T/out")" "1 certificate has expired: renew it with 'imss-renew renew'." \
	"expired: summary"

# --days: the threshold moves both ways; 0 warns only of expired ones.
assert_exit 0 capture "$T/out" check --cert "$T/f10.pem" --days 5
assert_contains "$(<"$T/out")" "valid for at least 5 more days" "--days 5: 10 days is OK"
assert_exit 0 capture "$T/out" check --cert "$T/f10.pem" --days 0
assert_exit 10 capture "$T/out" check --cert "$T/f90.pem" --days 100
assert_contains "$(<"$T/out")" "expires within 100 days" "--days 100: 90 days is expiring"
assert_exit 11 capture "$T/out" check --cert "$T/fexpired.pem" --days 0
days90=$(jcheck --cert "$T/f90.pem" | jq .certificates[0].days_left)
assert_exit 0 capture "$T/out" check --cert "$T/f90.pem" --days "$days90"
assert_exit 10 capture "$T/out" check --cert "$T/f90.pem" --days $((days90 + 1))
printf 'ok: --days %s is the edge of a certificate with %s days left\n' "$days90" "$days90"

# A bundle: every certificate but the CA's, the worst status wins.
cat "$T/f90.pem" "$T/f10.pem" "$T/fexpired.pem" "$T/ca.pem" >"$T/all.pem"
assert_exit 11 capture "$T/out" check --cert "$T/all.pem"
assert_eq "EXPIRED EXPIRING OK" "$(head -n3 "$T/out" | cut -d: -f1 | xargs)" \
	"bundle: a line per certificate, most urgent first, the CA's left out"
assert_contains "$(sed -n 4p "$T/out")" "1 certificate has expired" "bundle: expired summary"
assert_contains "$(sed -n 5p "$T/out")" "1 certificate expires within 30 days" \
	"bundle: expiring summary too"
cat "$T/f90.pem" "$T/f10.pem" >"$T/two.pem"
assert_exit 10 capture "$T/out" check --cert "$T/two.pem"
cat "$T/f90.pem" "$T/ca.pem" >"$T/one.pem"
assert_exit 0 capture "$T/out" check --cert "$T/one.pem"
assert_contains "$(<"$T/out")" "1 certificate is valid" "a CA certificate is not checked"

# --json.
assert_exit 11 capture "$T/all.json" jcheck --cert "$T/all.pem" --days 45
check_json "$T/all.json"
assert_eq "expired|45|3" "$(jq -r '[.status, .days, (.certificates | length)] | map(tostring) | join("|")' \
	"$T/all.json")" "--json: status, days, three certificates"
assert_eq "expired expiring ok" "$(jq -r '[.certificates[].status] | join(" ")' "$T/all.json")" \
	"--json: each certificate's status, most urgent first"
assert_eq "$(serial_of "$T/fexpired.pem") $(serial_of "$T/f10.pem") $(serial_of "$T/f90.pem")" \
	"$(jq -r '[.certificates[].serial] | join(" ")' "$T/all.json")" "--json: serials as openssl prints them"
assert_eq "$RAZON_SOCIAL|$REGISTRO_PATRONAL|EEJ920101AB1|file|$T/all.pem|null" \
	"$(jq -r '.certificates[0] | [.razon_social, .registro_patronal, .rfc, .source, .location, .token] | map(tostring) | join("|")' \
	"$T/all.json")" "--json: who and where"
assert_eq "true" "$(jq '.certificates[0] | .expired and .days_left < 0' "$T/all.json")" \
	"--json: the expired one has negative days left"
assert_eq "true" "$(jq '.certificates[1] | (.expired | not) and .days_left >= 9 and .days_left <= 10' \
	"$T/all.json")" "--json: 9 or 10 days left"
assert_eq "2020-02-01T00:00:00Z" "$(jq -r .certificates[0].not_after "$T/all.json")" \
	"--json: not_after in ISO 8601 UTC"
assert_exit 0 capture "$T/ok.json" jcheck --cert "$T/f90.pem"
assert_eq "ok|30" "$(jq -r '[.status, .days] | map(tostring) | join("|")' "$T/ok.json")" \
	"--json: ok, default 30 days"
assert_exit 10 capture "$T/exp.json" jcheck --cert "$T/two.pem"
assert_eq expiring "$(jq -r .status "$T/exp.json")" "--json: expiring"

# Credentials: a .pfx, and a .cer with its .key (a key made outside tokens).
pki_user user "$SUBJECT"
assert_exit 0 capture "$T/out" check --credential "$T/user.pfx" --password-source "file:$T/user.pw"
assert_contains "$(<"$T/out")" "; file $T/user.pfx" ".pfx: checked"
assert_exit 10 capture "$T/cred.json" jcheck --credential "$T/user.cer" --key-file "$T/user.key" \
	--password-source "file:$T/user.pw" --days 120
assert_eq "credential|expiring" "$(jq -r '.certificates[0] | [.source, .status] | join("|")' "$T/cred.json")" \
	".cer + .key: a credential, expiring within 120 days"
assert_exit 1 capture "$T/out" check --credential "$T/user.pfx" --password-source "file:$T/f90.key"
printf 'ok: a wrong .pfx password fails with 1\n'

# The journal: a priority prefix only when stdout is the journal's stream.
check --cert "$T/all.pem" >"$T/journal" 2>/dev/null &&
	die "check of an expired certificate exited 0"
jstream=$(stat -c '%d:%i' "$T/journal")
rc=0
JOURNAL_STREAM=$jstream check --cert "$T/all.pem" >"$T/journal" || rc=$?
assert_eq 11 "$rc" "journal: exit 11"
assert_eq "<3>EXPIRED <4>EXPIRING <6>OK <3>1 <4>1" "$(cut -d' ' -f1 "$T/journal" | tr -d : | xargs)" \
	"journal: <6> OK, <4> expiring, <3> expired, on the summaries too"
JOURNAL_STREAM=1:2 check --cert "$T/f90.pem" >"$T/journal"
[[ $(head -c1 "$T/journal") != "<" ]] || die "a JOURNAL_STREAM of another file got prefixes"
printf 'ok: no prefix when stdout is not the journal stream\n'

# Failures: 1.
assert_exit 1 capture "$T/out" check --cert "$T/no-such.pem"
printf 'not a certificate\n' >"$T/junk.pem"
assert_exit 1 capture "$T/out" check --cert "$T/junk.pem"
assert_exit 1 capture "$T/err.json" jcheck --cert "$T/junk.pem"
assert_eq true "$(jq 'has("error")' "$T/err.json")" "--json failure: an error object"

# Usage errors: 2, nothing on stdout.
usage() {
	assert_exit 2 capture "$T/out" check "$@"
	assert_eq "" "$(<"$T/out")" "usage error $*: stdout empty"
	assert_contains "$(<"$T/stderr")" "check --help" "usage error $*: points to --help"
}
usage --days
usage --days -1
usage --days abc
usage --days 12x
usage --days 36501
usage --days ''
usage --cert "$T/f90.pem" --token pkcs11:
usage --cert "$T/f90.pem" --credential "$T/user.pfx"
usage --cert "$T/f90.pem" --login
usage --login
usage --pin-source "file:$T/pin"
usage --key-file "$T/user.key"
usage --cert "$T/f90.pem" --password-source tty
usage --cert "$T/f90.pem" extra
usage --frobnicate
usage --pin=1234
usage --token pkcs11: --pin-source 'nonsense'
assert_exit 0 capture "$T/out" check --cert "$T/f90.pem" --days 36500 --days 10
printf 'ok: the last --days wins\n'

# --help documents the codes.
assert_exit 0 capture "$T/help" "$IMSS_RENEW" check --help
for want in "Usage: imss-renew" "--days N" "10  a certificate expires within N days" \
	"11  a certificate has expired" "Examples:"; do
	assert_contains "$(<"$T/help")" "$want" "check --help: $want"
done
assert_exit 0 capture "$T/help" "$IMSS_RENEW" --help
assert_contains "$(<"$T/help")" "  check " "--help lists check"
assert_contains "$(<"$T/help")" "10 check:" "--help: exit status 10"
assert_contains "$(<"$T/help")" "11 check:" "--help: exit status 11"

echo "PASS: $T_NAME"
