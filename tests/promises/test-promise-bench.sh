#!/usr/bin/env bash
# README, "Benchmark" and "Limits": bench/renew-calls.sh runs one whole
# renewal through OpenSC's pkcs11-spy and prints the PKCS#11 calls by
# function, the number of C_Login and the wall time split into token,
# service and own time; "One whole renewal makes 25 PKCS#11 calls on
# SoftHSM with the current RSA key made on the token and a new key of its
# type (26 for EC; 16 with a .pfx)".
#  - the three runs (token, EC on the token, --pfx): the calls by function add up to the total,
#    the total is at most the README's figure, one C_Login, and the three
#    parts of the wall time are printed;.
# Skipped (77) without OpenSC's pkcs11-spy.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${PROJECT_SOURCE_DIR:?PROJECT_SOURCE_DIR is not set (run the test through ctest)}"
: "${PROJECT_BINARY_DIR:?PROJECT_BINARY_DIR is not set (run the test through ctest)}"
ls /usr/lib/*/pkcs11/pkcs11-spy.so /usr/lib/*/pkcs11-spy.so >/dev/null 2>&1 ||
	{ echo "OpenSC's pkcs11-spy is missing: skipped" >&2; exit 77; }
t_tmpdir

# bench WHAT FIGURE [ARGS]: one bench run, checked against the README's FIGURE.
bench() {
	local what=$1 figure=$2 total sum logins
	shift 2
	env -u SOFTHSM2_CONF "$PROJECT_SOURCE_DIR/bench/renew-calls.sh" --build "$PROJECT_BINARY_DIR" "$@" \
		>"$T/bench.out" 2>"$T/bench.err" || die "$what: the bench failed: $(<"$T/bench.err")"
	total=$(awk '$1 == "total" && NF >= 2 && $2 ~ /^[0-9]+$/ { print $2; exit }' "$T/bench.out")
	sum=$(awk '/^PKCS#11 calls by function/ { on = 1; next } on && $1 ~ /^C_/ { s += $2 } on && /^  -/ { print s; exit }' "$T/bench.out")
	logins=$(awk '$1 == "C_Login" && /target/ { print $2 }' "$T/bench.out")
	[[ -n $total ]] || die "$what: no total: $(<"$T/bench.out")"
	assert_eq "$total" "$sum" "$what: the calls by function add up to the total"
	((total <= figure)) || die "$what: $total calls, the README says $figure"
	echo "ok: $what: $total calls (README: $figure)"
	assert_eq 1 "$logins" "$what: one C_Login"
	for part in 'token (PKCS#11)' 'service (HTTPS)' 'own (tool, OpenSSL)'; do
		grep -Eq "^  $(sed 's/[()]/\\&/g' <<<"$part") +[0-9.]+$" "$T/bench.out" ||
			die "$what: no wall time for '$part': $(<"$T/bench.out")"
	done
	echo "ok: $what: the wall time split into token, service and own time"
}
bench "current key on the token" 24
bench "EC, current EC key on the token" 25 --type ec:prime256v1 --current-type ec:prime256v1
bench ".pfx" 16 --pfx

echo "$T_NAME: all passed"
