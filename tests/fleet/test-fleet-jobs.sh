#!/usr/bin/env bash
# fleet renew keeps three employers under way by default (README,
# "Pipelined"; issue 12's ratio): with two, the token waited while both
# workers talked to the service or wrote their journals (idle a quarter of
# a fleet's run; a fourth of that with three).  Three employers whose
# current credentials are .pfx files (their logins sign without the token)
# and a token whose key generation is modelled slow (FAULT_LATENCY,
# C_GenerateKeyPair 2 s): each worker logs in, then waits for the token,
# so the most sessions the service had open at once is the number of
# workers: 3 without --jobs, 2 with --jobs 2 (the service's log, in order:
# a login is "POST .../session 201", a logout "DELETE .../session 204").
. "$TESTS_DIR/lib/common.sh"
. "$TESTS_DIR/renew/lib.sh"
. "$TESTS_DIR/fleet/lib.sh"

fleet_started 0
fleet_wide
# In the sanitizer build LeakSanitizer's tracer dies at the exit of the
# second run ("LeakSanitizer has encountered a fatal error" while it reads
# the main thread's dynamic TLS block of a library the run unloaded, as in
# fleet-tls-resume) before it reports anything: the leak check is off here
# only; the other fleet tests check the same paths for leaks.
no_leak_check

# most_sessions: the most sessions open at once in $T/serve.log.
most_sessions() {
	awk '/^POST [^ ]*\/session 201/ { n++; if (n > most) most = n }
		/^DELETE [^ ]*\/session 204/ { n-- }
		END { print most + 0 }' "$T/serve.log"
}

# run_fleet FIRST [ARGS]: employers FIRST..FIRST+2 renewed by one run.
run_fleet() {
	local first=$1 rc=0 i
	shift
	head -n 1 "$T/fleet.csv" >"$T/fleet-head.csv"
	for i in 0 1 2; do fleet_add_file $((first + i)) pfx; done
	{ cat "$T/fleet-head.csv"; tail -n 3 "$T/fleet.csv"; } >"$T/fleet-3.csv"
	mv "$T/fleet-3.csv" "$T/fleet.csv"
	: >"$T/serve.log"
	fleet_args renew
	FAULT_LATENCY=C_GenerateKeyPair:2000ms FAULT_LOG=$T/calls.log \
		"$IMSS_RENEW" --module "$FAULT_MODULE" "${FLEET_ARGS[@]}" "$@" \
		--report "$T/report.json" >"$T/out.txt" 2>"$T/err" || rc=$?
	no_sanitizer_report "$T/err"
	[[ $rc == 0 ]] || { cat "$T/out.txt" "$T/err" >&2; die "fleet renew $*: exit $rc"; }
	assert_eq 3 "$(jq .renewed "$T/report.json")" "fleet renew $*: the three employers renewed"
}

run_fleet 1
assert_eq 3 "$(most_sessions)" "without --jobs: three employers under way at once"
run_fleet 4 --jobs 2
assert_eq 2 "$(most_sessions)" "--jobs 2: two employers under way at once"
echo "PASS"
