#!/usr/bin/env bash
# How many trips to the token one whole renewal makes, and where the time
# goes.  A throwaway reference service and SoftHSM token; the employer's
# current (expired) credential on the token (a key of --current-type made
# there, default rsa:2048), or in a .pfx with --pfx.  The
# renewal runs through OpenSC's pkcs11-spy (the count) wrapping the
# project's fault module (no faults: it only times each call) wrapping
# SoftHSM.
#
#   bench/renew-calls.sh [--pfx] [--type rsa:2048|ec:prime256v1|...]
#                        [--current-type TYPE] [--build DIR]
#
# Prints the PKCS#11 calls by function, the number of C_Login, and the wall
# time split into token, service and own time.  A current key made on the
# token with the --type asked for spares the preflight's C_GetMechanismInfo
# (docs/design.md, "Call budget").  Target (issue 12): at most
# 24 calls and one C_Login.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
pfx=0
type=rsa:2048
current_type=rsa:2048
# shellcheck source=lib.sh
. "$root/bench/lib.sh"
bench_args "$0" pfx "type current-type" "$@"
bench_setup renew-calls.sh
bench_token "$T/softhsm"
bench_service
bench_employers 1 1
if ((pfx)); then
	"$service" issue --dir "$T/svc" --registro-patronal "$(bench_rp 1)" --expired \
		--pfx "$T/empresa.pfx" --pfx-password-source "file:$T/pfx.pass" >/dev/null
	current=(--credential "$T/empresa.pfx" --password-source "file:$T/pfx.pass")
else
	bench_issue_token 1 "$current_type"
	current=(--current "$(bench_current 1)")
fi
bench_serve
bench_renew renew "$(bench_user 1)" "$type" "${current[@]}"

echo "One renewal ($type, current credential $( ((pfx)) && echo 'in a .pfx' || echo "on the token, $current_type"))"
echo
echo "PKCS#11 calls by function (pkcs11-spy):"
grep -E '^[0-9]+: C_' "$T/renew.spy" | awk '{ print $2 }' | sort | uniq -c | sort -rn |
	awk '{ printf "  %-22s %3d\n", $2, $1 }'
echo "  ----------------------------"
printf '  %-22s %3d   (target: 24)\n' total "$(bench_calls "$T/renew.spy")"
printf '  %-22s %3d   (target: 1)\n' C_Login "$(bench_calls "$T/renew.spy" C_Login)"
echo
echo "Wall time, ms:"
awk -v w="$B_WALL_MS" -v t="$(bench_token_ms "$T/renew.calls")" \
	-v s="$(bench_service_ms "$T/renew.err")" 'BEGIN {
	printf "  %-22s %8.1f\n  %-22s %8.1f\n  %-22s %8.1f\n  %-22s %8.1f\n",
	       "token (PKCS#11)", t, "service (HTTPS)", s,
	       "own (tool, OpenSSL)", w - t - s, "total", w }'
