#!/usr/bin/env bash
# fleet renew --jobs 2 overlaps one employer's network steps with another's
# token work (README, "Pipelined").  Two employers whose current
# credentials are .pfx files (their login, letter and submission sign
# without the token), their new keys on one token modelled slow by the
# fault module (FAULT_LATENCY: C_GenerateKeyPair 6 s, C_Sign 300 ms).  The
# fault module writes "begin C_GenerateKeyPair" when the call starts and
# "C_GenerateKeyPair 0x0 US" when it returns (FAULT_LOG_BEGIN) into the
# service's own log (both append to one file: one write a line), so the
# order of the lines is the order of the events, with no clock compared:
# a service request logged between the two lines of a key generation was
# answered while the token was generating that key, and came from the
# other employer (this one's worker is inside C_GenerateKeyPair; the token
# is used by one thread at a time).  Asserted: some key generation has at
# least two such requests of the renewal's steps (the CA download of the
# connection and the logout are not counted), and one run renews both
# with one C_Login.  With --jobs 1 no request is logged during a key
# generation: the same count is 0.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$TESTS_DIR/fleet/lib.sh"

svc_init
fleet_new 0
fleet_wide
svc_start
fleet_add_file 1 pfx
fleet_add_file 2 pfx
cp "$T/fleet.csv" "$T/fleet-pfx.csv"

# overlapped: the most service requests (steps 1 to 6) one key generation
# had in $T/serve.log.
overlapped() {
	awk '/^begin C_GenerateKeyPair$/ { inside = 1; n = 0; next }
		/^C_GenerateKeyPair / { if (inside && n > most) most = n; inside = 0; next }
		inside && /^(GET|POST|PUT) / && $2 !~ /\/ca$/ { n++ }
		END { print most + 0 }' "$T/serve.log"
}

# run_fleet JOBS: fleet renew on a fresh state and token objects, through
# the slow token, its calls and the service's log in $T/serve.log.
run_fleet() {
	local rc=0
	: >"$T/serve.log"
	fleet_args renew
	FAULT_LOG_BEGIN=1 FAULT_LATENCY=C_GenerateKeyPair:6000ms,C_Sign:300ms FAULT_LOG=$T/serve.log \
		"$IMSS_RENEW" --module "$FAULT_MODULE" "${FLEET_ARGS[@]}" --jobs "$1" \
		--report "$T/report.json" >"$T/out.txt" 2>"$T/err" || rc=$?
	no_sanitizer_report "$T/err"
	[[ $rc == 0 ]] || { cat "$T/out.txt" "$T/err" >&2; die "--jobs $1: exit $rc"; }
	assert_eq 2 "$(jq .renewed "$T/report.json")" "--jobs $1: both employers renewed"
	assert_eq 1 "$(grep -c '^C_Login ' "$T/serve.log")" "--jobs $1: one C_Login"
	assert_eq 2 "$(grep -c '^begin C_GenerateKeyPair$' "$T/serve.log")" "--jobs $1: two keys generated"
}

run_fleet 2
n=$(overlapped)
((n >= 2)) || {
	grep -v '^\(begin \)\?C_\(Get\|Find\)' "$T/serve.log" >&2
	die "--jobs 2: no key generation overlapped the other employer's network steps (at most $n request(s) during one)"
}
echo "ok: --jobs 2: $n requests of the other employer answered during one key generation"
# Two employers more, renewed one after the other: nothing overlaps.
fleet_add_file 3 pfx
fleet_add_file 4 pfx
{ head -n 1 "$T/fleet.csv"; tail -n 2 "$T/fleet.csv"; } >"$T/fleet-2.csv"
mv "$T/fleet-2.csv" "$T/fleet.csv"
run_fleet 1
assert_eq 0 "$(overlapped)" "--jobs 1: no request during a key generation"
echo "PASS"
