#!/usr/bin/env bash
# How many trips to the token one whole renewal makes, and where the time
# goes.  A throwaway reference service and SoftHSM token; the employer's
# current (expired) credential on the token, or in a .pfx with --pfx.  The
# renewal runs through OpenSC's pkcs11-spy (the count) wrapping the
# project's fault module (no faults: it only times each call) wrapping
# SoftHSM.
#
#   bench/renew-calls.sh [--pfx] [--type rsa:2048|ec:prime256v1|...] [--build DIR]
#
# Prints the PKCS#11 calls by function, the number of C_Login, and the wall
# time split into token, service and own time.  Target (issue 5): at most
# 30 calls and one C_Login.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
pfx=0
type=rsa:2048
while (($#)); do
	case $1 in
	--pfx) pfx=1; shift ;;
	--type) type=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -e/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) echo "renew-calls.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

tool=$build/src/tool/imss-renew
service=$build/src/service/imss-renew-service
fault=$build/tests/fault-module/fault-pkcs11.so
init=$build/softhsm-config/softhsm-token-init
softhsm=/usr/lib/softhsm/libsofthsm2.so
spy=$(ls /usr/lib/*/pkcs11/pkcs11-spy.so /usr/lib/*/pkcs11-spy.so 2>/dev/null | head -n1 || true)
for f in "$tool" "$service" "$fault" "$init" "$softhsm"; do
	[[ -e $f ]] || { echo "renew-calls.sh: $f is missing (build first: scripts/test.sh)" >&2; exit 1; }
done
[[ -n $spy ]] || { echo "renew-calls.sh: OpenSC's pkcs11-spy.so not found (apt-get install opensc)" >&2; exit 1; }

T=$(mktemp -d /tmp/imss-bench.XXXXXX)
svc_pid=
cleanup() {
	[[ -z $svc_pid ]] || { kill "$svc_pid" 2>/dev/null || :; wait "$svc_pid" 2>/dev/null || :; }
	rm -rf "$T"
}
trap cleanup EXIT

printf 1234 >"$T/pin"
printf Secreto123 >"$T/idse.pass"
printf pfxpass1 >"$T/pfx.pass"
chmod 600 "$T"/pin "$T"/*.pass
eval "$(IMSS_SO_PIN=12345678 IMSS_USER_PIN=1234 "$root/softhsm-config/make-token.sh" \
	--dir "$T/softhsm" --label IMSS --init-tool "$init" --module "$softhsm")"
export SOFTHSM2_CONF

"$service" init --dir "$T/svc" --kdf-iterations 10000 >/dev/null
"$service" employer add --dir "$T/svc" --registro-patronal Y1234567108 \
	--razon-social "EMPRESA DE PRUEBA SA DE CV" --rfc EPR010101AB1 --email rh@empresa.mx \
	--user EMPRESA01 --password-source "file:$T/idse.pass" >/dev/null
if ((pfx)); then
	"$service" issue --dir "$T/svc" --registro-patronal Y1234567108 --expired \
		--pfx "$T/empresa.pfx" --pfx-password-source "file:$T/pfx.pass" >/dev/null
	current=(--credential "$T/empresa.pfx" --password-source "file:$T/pfx.pass")
else
	"$service" issue --dir "$T/svc" --registro-patronal Y1234567108 --expired \
		--token "$IMSS_TOKEN_URI" --module "$softhsm" --pin-source "file:$T/pin" \
		--label "IMSS anterior" >/dev/null
	current=(--current "pkcs11:token=IMSS;object=IMSS%20anterior;type=private")
fi
"$service" serve --dir "$T/svc" --listen 127.0.0.1:0 >"$T/serve.out" 2>"$T/serve.log" &
svc_pid=$!
for _ in $(seq 100); do grep -q listening "$T/serve.out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/^listening on //p' "$T/serve.out")

start=$(date +%s%N)
# OpenSC's pkcs11-spy leaks what it allocates; under a sanitizer build (the
# tests run the bench there too) its leaks are not the tool's.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
PKCS11SPY=$fault PKCS11SPY_OUTPUT=$T/spy.log FAULT_PKCS11_REAL=$softhsm FAULT_LOG=$T/calls.log \
	"$tool" --module "$spy" --verbose renew --server "$url" --user EMPRESA01 "${current[@]}" \
	--token "$IMSS_TOKEN_URI" --type "$type" --ca "$T/svc/ca.pem" --pin-source "file:$T/pin" \
	--idse-password-source "file:$T/idse.pass" --state-dir "$T/state" --out-dir "$T" --yes \
	>"$T/renew.out" 2>"$T/renew.err" || { cat "$T/renew.out" "$T/renew.err" >&2; exit 1; }
end=$(date +%s%N)

echo "One renewal ($type, current credential $( ((pfx)) && echo 'in a .pfx' || echo 'on the token'))"
echo
echo "PKCS#11 calls by function (pkcs11-spy):"
grep -E '^[0-9]+: C_' "$T/spy.log" | awk '{ print $2 }' | sort | uniq -c | sort -rn |
	awk '{ printf "  %-22s %3d\n", $2, $1 }'
total=$(grep -cE '^[0-9]+: C_' "$T/spy.log")
logins=$(grep -cE '^[0-9]+: C_Login$' "$T/spy.log" || true)
echo "  ----------------------------"
printf '  %-22s %3d   (target: 30)\n' total "$total"
printf '  %-22s %3d   (target: 1)\n' C_Login "$logins"
echo
wall=$(( (end - start) / 1000 ))
token=$(awk '{ s += $3 } END { print s + 0 }' "$T/calls.log")
svc=$(sed -n 's/.*http: .* in \([0-9.]*\) ms$/\1/p' "$T/renew.err" | awk '{ s += $1 } END { printf "%d", s * 1000 }')
own=$((wall - token - svc))
echo "Wall time, ms:"
awk -v w="$wall" -v t="$token" -v s="$svc" -v o="$own" 'BEGIN {
	printf "  %-22s %8.1f\n  %-22s %8.1f\n  %-22s %8.1f\n  %-22s %8.1f\n",
	       "token (PKCS#11)", t / 1000, "service (HTTPS)", s / 1000,
	       "own (tool, OpenSSL)", o / 1000, "total", w / 1000 }'
