# shellcheck shell=bash
# What the tests of the standard protocols share (test-cmp.sh,
# scep-renew.sh).  Source after tests/lib/common.sh; the test defines
# tool() (imss-renew with its --module).

# protocol_renew NAME PROTOCOL URL ARGS...: renew --protocol PROTOCOL
# against URL on $IMSS_TOKEN_URI, with the state in $T/NAME-state and the
# output directory $T/NAME-out; output in $T/NAME.json, stderr in
# $T/NAME.err; its exit status.
protocol_renew() {
	local name=$1 protocol=$2 url=$3 rc=0
	shift 3
	mkdir -p "$T/$name-state"
	chmod 700 "$T/$name-state"
	mkdir -p "$T/$name-out"
	tool --json renew --protocol "$protocol" --server "$url" "$@" --token "$IMSS_TOKEN_URI" \
		--pin-source "file:$T/pin" --state-dir "$T/$name-state" --out-dir "$T/$name-out" \
		--yes >"$T/$name.json" 2>"$T/$name.err" || rc=$?
	return "$rc"
}
