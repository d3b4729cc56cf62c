#!/usr/bin/env bash
# A fleet run makes one TLS connection an employer; after the first, each
# resumes the TLS session (issue 12, fleet against renew processes): the
# service sends session tickets, as a production server does, and the
# run's HTTPS clients share the sessions of the CAs they trust.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$TESTS_DIR/fleet/lib.sh"

fleet_started 3
rc=0
# In the sanitizer build LeakSanitizer's tracer crashes at this run's exit
# ("Tracer caught signal 11", reading a dynamic TLS block of an unloaded
# library) before it reports anything: the leak check is off here only; the
# other fleet tests check the same paths for leaks.
no_leak_check
FAULT_PKCS11_REAL=$SOFTHSM "$IMSS_RENEW" --verbose --module "$FAULT_MODULE" "${FLEET_ARGS[@]}" \
	--jobs 1 --report "$T/report.json" >"$T/run.out" 2>"$T/err" || rc=$?
assert_eq 0 "$rc" "fleet renew: $(<"$T/err")"
assert_eq 3 "$(jq .renewed "$T/report.json")" "three renewed"
resumed=$(grep -c "TLS session with $SVC_URL resumed" "$T/err" || :)
assert_eq 2 "$resumed" "the second and third employers resume the first one's TLS session"
echo "ok: fleet-tls-resume"
