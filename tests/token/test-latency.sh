#!/usr/bin/env bash
# FAULT_LATENCY, the modelled USB token (issue 12): the fault module sleeps
# before passing a call on.  A named function takes its own delay, every
# other one the default; FAULT_LOG's time includes the delay; a malformed
# entry fails C_Initialize with a message.  Without latency the same calls
# are fast (so the delays measured are the module's).
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
t_make_token "IMSS latency"
# shellcheck source=lib.sh
. "$TESTS_DIR/token/lib.sh"

# log_us NAME: the microseconds FAULT_LOG gives the first call of NAME.
log_us() { awk -v n="$1" '$1 == n { print $3; exit }' "$FAULT_LOG"; }
# ms_since START_NS: milliseconds since START_NS ($(date +%s%N)).
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

start=$(date +%s%N)
FAULT_LATENCY='default:20ms,C_GetTokenInfo:300ms,C_GetSlotList:150000us' \
	assert_exit 0 fault tokens
wall=$(ms_since "$start")
info=$(log_us C_GetTokenInfo)
slots=$(log_us C_GetSlotList)
init=$(log_us C_Initialize)
((info >= 300000)) || die "C_GetTokenInfo took ${info} us, less than its 300 ms"
echo "ok: C_GetTokenInfo: ${info} us >= 300 ms"
((slots >= 150000 && slots < 300000)) || die "C_GetSlotList took ${slots} us, not its 150000 us"
echo "ok: C_GetSlotList: ${slots} us, its own delay"
((init >= 20000 && init < 150000)) || die "C_Initialize took ${init} us, not the 20 ms default"
echo "ok: C_Initialize: ${init} us, the default"
((wall >= 300 + 150 + 20)) || die "the run took ${wall} ms, less than its delays"
echo "ok: the run took ${wall} ms"

FAULT_LATENCY=C_Sign:2x assert_exit 1 fault tokens
assert_contains "$(<"$T/stderr")" 'bad FAULT_LATENCY entry "C_Sign"' "malformed entry named"
FAULT_LATENCY=C_Nothing:5ms assert_exit 1 fault tokens
assert_contains "$(<"$T/stderr")" 'bad FAULT_LATENCY entry "C_Nothing"' "unknown function named"

assert_exit 0 fault tokens
info=$(log_us C_GetTokenInfo)
((info < 300000)) || die "without FAULT_LATENCY C_GetTokenInfo took ${info} us"
echo "ok: without FAULT_LATENCY: C_GetTokenInfo ${info} us"
