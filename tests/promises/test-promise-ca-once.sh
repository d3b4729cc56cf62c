#!/usr/bin/env bash
# README: "The service's CA given once with --ca is pinned in the state
# directory (ca-HOST_PORT.pem) and trusted on later runs without --ca", and
# "Limits: the first run against the reference service needs --ca".
#  - without --ca and without a pin, renew fails against the reference
#    service (its CA is in no system store), says so, pins nothing and makes
#    nothing on the token;
#  - a renewal with --ca pins the service's CA as ca-127.0.0.1_PORT~HASH.pem;
#  - later, in the same state directory and without --ca: another renewal
#    and a recover succeed, trusting the pin.
# (The details of pinning, replacing and refusing pins are in
# tests/renew/test-renew-trust.sh.)
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"

svc_init
svc_start
S=$T/shared-state
mkdir -p "$S"
chmod 700 "$S"
PIN_FILE=$S/$(pin_name "127.0.0.1:$(svc_port)")

# shared_args [--no-ca]: RENEW_ARGS of the case in the shared state
# directory $S; without --ca when asked.
shared_args() {
	local i out=()
	renew_args
	for ((i = 0; i < ${#RENEW_ARGS[@]}; i++)); do
		case ${RENEW_ARGS[i]} in
		--ca) [[ ${1:-} == --no-ca ]] || out+=(--ca "${RENEW_ARGS[i + 1]}"); i=$((i + 1)) ;;
		--state-dir) out+=(--state-dir "$S"); i=$((i + 1)) ;;
		*) out+=("${RENEW_ARGS[i]}") ;;
		esac
	done
	RENEW_ARGS=("${out[@]}")
}

# run_without_ca COMMAND [ARGS]: renew or recover of the current case
# without --ca, in $S.
run_without_ca() {
	local cmd=$1 rc=0
	shift
	shared_args --no-ca
	if [[ $cmd == recover ]]; then unset 'RENEW_ARGS[-1]'; fi    # --yes
	"$IMSS_RENEW" --module "$SOFTHSM" "$cmd" "${RENEW_ARGS[@]}" "$@" >"$C/out.txt" 2>"$C/err" || rc=$?
	no_sanitizer_report "$C/err"
	return "$rc"
}

# === the first run needs --ca ===================================================
case_new first token
rc=0
run_without_ca renew || rc=$?
assert_eq 1 "$rc" "first run without --ca: refused"
printf 'ok: first run without --ca: %s\n' "$(tr '\n' ' ' <"$C/err")"
grep -Eqi 'certificate|trust|CA' "$C/err" || die "first run without --ca: the message does not say why: $(<"$C/err")"
[[ ! -e $PIN_FILE ]] || die "first run without --ca: a CA was pinned from a connection nothing verified"
objects_json "$C/objects.json"
assert_eq '[]' "$(new_objects "$C/objects.json")" "first run without --ca: nothing made on the token"

# === --ca once ==================================================================
case_new with-ca token
shared_args
"$IMSS_RENEW" --module "$SOFTHSM" renew "${RENEW_ARGS[@]}" >"$C/out.txt" 2>"$C/err" ||
	die "with --ca: renew failed: $(<"$C/err")"
cp -p "$S/renew-$RP-$IMSS_TOKEN_SERIAL.json" "$C/state/"
check_renewed "with --ca"
[[ -f $PIN_FILE ]] || die "with --ca: no $(basename -- "$PIN_FILE") in the state directory: $(ls "$S")"
assert_eq "$(openssl x509 -in "$D/ca.pem" -noout -fingerprint -sha256)" \
	"$(openssl x509 -in "$PIN_FILE" -noout -fingerprint -sha256)" "with --ca: the service's CA is pinned as ca-HOST_PORT.pem"

# === later runs without --ca ====================================================
case_new later token
run_without_ca renew || die "later renewal without --ca failed: $(<"$C/err")"
cp -p "$S/renew-$RP-$IMSS_TOKEN_SERIAL.json" "$C/state/"
check_renewed "later renewal without --ca"
serial=$(jq -r .cert_serial "$(journal)")
id=$(jq -r .key_id "$(journal)")
p11 --login --pin "$USER_PIN" --delete-object --type cert --id "$id" >/dev/null 2>&1 ||
	die "recover: pkcs11-tool could not delete the certificate"
run_without_ca recover --serial "$serial" || die "recover without --ca failed: $(<"$C/err")"
check_renewed "recover without --ca"

echo "$T_NAME: all passed"
