#!/usr/bin/env bash
# TLS sessions are resumed across the HTTPS clients of one process (the
# employers of a fleet run: one client each), but only between clients that
# trust the same CAs.  libcurl checks its own TLS settings before resuming,
# not the CAs the client adds at the handshake (--ca, a pin): a client
# trusting another CA must still be refused after a good connection to the
# same server in the same process, not let in on the resumed session.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
: "${TLS_PROBE:?TLS_PROBE is not set (run the test through ctest)}"

svc_init
svc_start
other=$T/other-ca
"$IMSS_SERVICE" init --dir "$other" --kdf-iterations 10000 >/dev/null || die "other CA init"

"$TLS_PROBE" "$SVC_URL" "$D/ca.pem" "$D/ca.pem" "$other/ca.pem" "$D/ca.pem" \
	>"$T/probe.out" 2>"$T/probe.err" || die "tls-probe: $(<"$T/probe.err")"
assert_eq "$D/ca.pem: full
$D/ca.pem: resumed
$other/ca.pem: refused
$D/ca.pem: resumed" "$(<"$T/probe.out")" "a full handshake, then resumed; another CA refused"
echo "ok: tls-resume"
