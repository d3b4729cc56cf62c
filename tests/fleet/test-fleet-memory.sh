#!/usr/bin/env bash
# fleet renew's summary, --report and --notify-command come after the
# PKCS#11 module was finalized (issue 12, peak memory): SoftHSM keeps a
# copy of every object of its tokens in the process (8 MiB for the 1209
# objects at the end of a fleet of 200), and the summary of 200 employers
# was built on top of it.  The notify command finds C_Finalize in the
# fault module's log already, and the summary is whole.
# GnuTLS, loaded only as a dependency of libcurl's dependencies and never
# used, is not initialised by its library constructor (1 MiB of every
# run's resident memory): it takes the tool's _gnutls_global_init_skip.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$TESTS_DIR/fleet/lib.sh"

libs=$(LD_DEBUG=libs "$IMSS_RENEW" --version 2>&1 >/dev/null)
if [[ $libs == *"calling init: "*libgnutls* ]]; then
	bound=$(LD_DEBUG=bindings "$IMSS_RENEW" --version 2>&1 >/dev/null)
	bound=$(grep "symbol \`_gnutls_global_init_skip'" <<<"$bound" || :)
	assert_contains "$bound" "to $IMSS_RENEW [0]" "GnuTLS asks the tool whether to skip its initialisation"
else
	echo "note: GnuTLS is not loaded here; its initialisation hook is not checked" >&2
fi

svc_init
svc_start
fleet_new 2
rc=0
fleet_run renew --report "$T/report.json" \
	--notify-command "grep -c '^C_Finalize ' '$T/calls.log' >'$T/finalized'; cat >'$T/notify.json'" \
	>"$T/run.out" || rc=$?
assert_eq 0 "$rc" "fleet renew of 2: $(<"$T/err")"
assert_eq 1 "$(<"$T/finalized")" "the module was finalized before the notify command ran"
assert_eq 1 "$(calls C_Finalize)" "one C_Finalize in the run"
assert_eq 2 "$(jq .renewed "$T/report.json")" "the report counts both renewed"
assert_eq 2 "$(jq .renewed "$T/notify.json")" "the notify command's summary counts both renewed"
jq -e '[.employers[].new_serial | strings] | length == 2' "$T/report.json" >/dev/null ||
	die "the report lacks the new serials: $(<"$T/report.json")"
assert_contains "$(<"$T/run.out")" "renewed: 2" "the summary table counts both renewed"

echo "ok: fleet-memory"
