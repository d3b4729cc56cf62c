#!/usr/bin/env bash
# Review 4 leftover: a fleet file's token or current column could carry
# `module-path=`: the library it names was loaded into the run and sent the
# token's PIN, so whoever could edit the data file chose the code that got
# the PIN.  Now a row whose URI names a module is refused before anything
# is loaded, naming its line and telling to give the module with --module.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
softhsm=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
t_make_token IMSS
printf '%s' "$USER_PIN" >"$T/pin"
cp "$softhsm" "$T/otro.so" # the library the file would have loaded

# run CMD COLUMN VALUE: fleet CMD on a one-row file whose COLUMN is VALUE;
# the libraries the process loads are listed in $T/ld.* (LD_DEBUG).
run() {
	printf 'registro_patronal,user,%s\nY1234567108,EMPRESA01,%s\n' "$2" "$3" >"$T/fleet.csv"
	rm -f "$T"/ld.*
	local more=()
	[[ $1 == check ]] || more=(--server https://127.0.0.1:9 --idse-password-source "file:$T/pin"
		--state-dir "$T/state")
	rc=0
	LD_DEBUG=files LD_DEBUG_OUTPUT=$T/ld "$IMSS_RENEW" --module "$softhsm" fleet "$1" \
		--file "$T/fleet.csv" --token "pkcs11:token=IMSS" --pin-source "file:$T/pin" \
		"${more[@]}" >"$T/out" 2>"$T/err" || rc=$?
}

for cmd in check renew; do
	for column in token current; do
		for uri in "pkcs11:token=IMSS?module-path=$T/otro.so" \
			"pkcs11:token=IMSS;object=IMSS?module-path=$T/otro.so&module-name=x"; do
			run "$cmd" "$column" "$uri"
			[[ $rc != 0 ]] || die "fleet $cmd, $column $uri: exit 0"
			assert_contains "$(<"$T/err")" "line 2" "fleet $cmd, $column: the row is named"
			assert_contains "$(<"$T/err")" "--module" "fleet $cmd, $column: says to use --module"
			! grep -qs "otro.so" "$T"/ld.* || die "fleet $cmd, $column: $T/otro.so was loaded"
		done
	done
done
echo "PASS"
