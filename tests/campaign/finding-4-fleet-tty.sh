#!/usr/bin/env bash
# Review 4, finding: fleet renew's workers (--jobs 2, the default) asked
# the terminal for two IDSE passwords at once.  Each read turned echo off
# and put back the terminal it had found: the first one to finish turned
# echo back ON while the other was still reading, so the second password
# typed was shown on the screen (and kept in the scrollback); the last
# one put back "echo off", leaving the terminal without echo after the
# run.  Now one secret is read from the terminal at a time (pin.c).
# Two employers with the same password, typed at each prompt: it is never
# echoed, and the terminal has echo after the run.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/../fleet/lib.sh
. "$TESTS_DIR/fleet/lib.sh"
# shellcheck source=SCRIPTDIR/../renew/tty-lib.sh
. "$TESTS_DIR/renew/tty-lib.sh"
t_need script stty

svc_init
svc_start
fleet_new 0
# Each employer on a token of its own (the file's token column): a worker
# holds its token while it logs in, so on one token the reads took turns.
token1=$IMSS_TOKEN_URI
out=$(IMSS_USER_PIN=$USER_PIN IMSS_SO_PIN=$SO_PIN "$MAKE_TOKEN" --dir "$T/softhsm" --add \
	--label IMSS2 --init-tool "$SOFTHSM_TOKEN_INIT" --module "$SOFTHSM") || die "second token"
eval "$out"
token2=$IMSS_TOKEN_URI
pass=Misma12345
# employers FILE I...: employer I (its password $pass) on token 1 or 2 by
# parity, in the fleet file FILE.
employers() {
	local file=$1 i rp token_var
	shift
	printf 'registro_patronal,user,token\n' >"$file"
	for i in "$@"; do
		token_var=token$((2 - i % 2))
		IMSS_TOKEN_URI=${!token_var}
		rp=$(printf 'F%010d' "$i")
		printf '%s' "$pass" >"$T/secrets/$rp.pass"
		"$IMSS_SERVICE" employer add --dir "$D" --registro-patronal "$rp" \
			--razon-social "EMPRESA $i SA DE CV" --rfc EPR010101AB1 --email "rh@$rp.example.mx" \
			--user "FLEET000$i" --address 'Av. Reforma 1, CDMX' \
			--password-source "file:$T/secrets/$rp.pass" >/dev/null || die "employer add $rp"
		"$IMSS_SERVICE" issue --dir "$D" --registro-patronal "$rp" --expired \
			--key-type ec:prime256v1 --token "$IMSS_TOKEN_URI" --module "$SOFTHSM" \
			--pin-source "file:$T/pin" --label "IMSS $rp" >/dev/null || die "issue $rp"
		printf '%s,FLEET000%s,%s\n' "$rp" "$i" "$IMSS_TOKEN_URI" >>"$file"
	done
}
employers "$T/fleet.csv" 1 2

C=$T
cmd=$(printf '%q ' "$IMSS_RENEW" --module "$SOFTHSM" fleet renew --file "$T/fleet.csv" \
	--pin-source "file:$T/pin" --server "$SVC_URL" --ca "$D/ca.pem" \
	--type ec:prime256v1 --state-dir "$T/state" --out-dir "$T/out" --yes --jobs 2)
tty_drive "$T/tty.txt" "$cmd; echo EXIT=\$?; stty -a" "IDSE password of user " "$pass" \
	"IDSE password of user " "$pass"
assert_eq 0 "$TTY_LEFT" "both passwords asked on the terminal"
for i in 1 2; do # each prompt names whose password it asks for
	assert_eq 1 "$(grep -cF "IDSE password of user FLEET000$i (registro patronal F000000000$i): " \
		"$T/tty.txt")" "the prompt names user FLEET000$i and its employer"
done
grep -q 'EXIT=0' "$T/tty.txt" || die "fleet renew failed: $(cat "$T/tty.txt")"
! grep -q "$pass" "$T/tty.txt" || die "a password typed was echoed on the terminal: $(cat "$T/tty.txt")"
grep -Eq '(^| )echo( |$)' "$T/tty.txt" || die "the terminal was left without echo: $(grep -E 'echo' "$T/tty.txt")"

echo "PASS"
