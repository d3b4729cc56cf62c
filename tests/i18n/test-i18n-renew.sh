#!/usr/bin/env bash
# `imss-renew renew` in Spanish against the reference service: the steps,
# the fields, the final report, status of the renewed token, an error from
# the service (its message_es) and an abandon with nothing to undo leave no
# line in English (english-lines.awk, as in test-i18n.sh).
# shellcheck source=SCRIPTDIR/../lib/common.sh disable=SC2119
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
: "${IMSS_RENEW_LOCALEDIR:?IMSS_RENEW_LOCALEDIR is not set (run the test through ctest)}"
: "${IMSS_PO_DIR:?IMSS_PO_DIR is not set (run the test through ctest)}"

if locale -a 2>/dev/null | grep -qix 'es_MX\.utf-\{0,1\}8'; then
	export LANG=es_MX.UTF-8 LC_ALL=es_MX.UTF-8 LANGUAGE=
else
	echo "note: no es_MX.UTF-8 locale on this system; using C.UTF-8 with LANGUAGE=es"
	export LANG=es_MX.UTF-8 LC_ALL=C.UTF-8 LANGUAGE=es
fi
mkdir -p "$T/out-es"

svc_init
svc_start

case_new es token
renew_run >"$T/out-es/renew" || { cat "$C/err" >&2; die "renew in Spanish failed"; }
cat "$C/err" >>"$T/out-es/renew"
check_renewed "renew in Spanish"
assert_contains "$(<"$T/out-es/renew")" "[7/7] Listo" "the final report is in Spanish"

"$IMSS_RENEW" --module "$SOFTHSM" status --token "$TOKEN_URI" --login \
	--pin-source "file:$T/pin" >"$T/out-es/status" 2>&1 || die "status after the renewal failed"
assert_contains "$(<"$T/out-es/status")" "llave privada:" "status lists the renewed certificate"

# The service refuses a wrong IDSE password: its Spanish message is shown.
case_new es-wrong pfx
printf 'NoEsLaContrasena1' >"$T/wrong.pass"
rc=0
"$IMSS_RENEW" --module "$SOFTHSM" renew --server "$SVC_URL" --user "$USER" "${CURRENT[@]}" \
	--token "$TOKEN_URI" --ca "$D/ca.pem" --pin-source "file:$T/pin" \
	--idse-password-source "file:$T/wrong.pass" --state-dir "$C/state" \
	--out-dir "$C/out" --yes >"$T/out-es/renew-refused" 2>&1 || rc=$?
[[ $rc != 0 ]] || die "a wrong IDSE password was accepted"
assert_contains "$(<"$T/out-es/renew-refused")" "El servicio respondió" \
	"the service's refusal is in Spanish"

rc=0
"$IMSS_RENEW" --module "$SOFTHSM" renew --abandon --token "$TOKEN_URI" \
	--state-dir "$C/state" --pin-source "file:$T/pin" >"$T/out-es/abandon" 2>&1 || rc=$?
[[ $rc != 0 ]] || die "renew --abandon with nothing to undo succeeded"

awk -f "$TESTS_DIR/i18n/english-lines.awk" "$IMSS_PO_DIR/es.po" "$T"/out-es/* \
	>"$T/english" || die "english-lines.awk failed"
if [[ -s $T/english ]]; then
	cat "$T/english" >&2
	die "$(wc -l <"$T/english") line(s) left in English"
fi
echo "ok: no line left in English"
echo "PASS: $T_NAME"
