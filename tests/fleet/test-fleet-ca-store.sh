#!/usr/bin/env bash
# With --ca, TLS trusts that CA alone: the system's CA store is not read
# at all (issue 12, fleet wall time).  libcurl parsed its default bundle
# (some 150 certificates) for every connection, one an employer, only for
# the client to replace it by the CA given: a third of a fleet's CPU.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$TESTS_DIR/fleet/lib.sh"
t_need strace
strace -f -o /dev/null true 2>/dev/null || { echo "SKIP: strace cannot trace here" >&2; exit 77; }

fleet_started 2
rc=0
# LeakSanitizer cannot run under ptrace (the sanitizer build): leaks are
# checked by the other tests of the same paths.
no_leak_check
FAULT_PKCS11_REAL=$SOFTHSM strace -f -qq -e trace=open,openat -o "$T/trace" \
	"$IMSS_RENEW" --module "$FAULT_MODULE" "${FLEET_ARGS[@]}" --report "$T/report.json" \
	>"$T/run.out" 2>"$T/err" || rc=$?
assert_eq 0 "$rc" "fleet renew with --ca: $(<"$T/err")"
assert_eq 2 "$(jq .renewed "$T/report.json")" "two renewed"
grep -q "$D/ca.pem" "$T/trace" || die "the trace shows no open of the CA given: $(head -c 2000 "$T/trace")"
opened=$(grep -E '"/etc/ssl/certs|ca-certificates\.crt|ca-bundle' "$T/trace" || :)
assert_eq "" "$opened" "the system CA store is not read when --ca is given"
echo "ok: fleet-ca-store"
