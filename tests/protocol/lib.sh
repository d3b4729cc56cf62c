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

# The CMP tests (test-cmp.sh, campaign/finding-4-cmp-text.sh): OpenSSL's
# own CMP server (`openssl cmp -port`), its certificate $T/srv.pem and key
# $T/srv.key issued by the test CA $T/ca.pem; `trap cmp_cleanup EXIT`.
MOCK_PID=''
cmp_cleanup() {
	[[ -z $MOCK_PID ]] || { kill -KILL "$MOCK_PID" 2>/dev/null || :; wait "$MOCK_PID" 2>/dev/null || :; }
	t_cleanup
}

# mock_start RSP_CERT [MOCK OPTIONS]: OpenSSL's CMP server on a free port
# (MOCK_PORT, when set: that one, as a journal names its server) answering
# with RSP_CERT; CMP_URL.  (OpenSSL 3.0's mock accepts a key update only
# when the oldCertID, the current certificate's issuer and serial, are
# those of RSP_CERT: the tests issue it with the current certificate's
# serial.)
mock_start() {
	local port=${MOCK_PORT:-} rsp=$1
	shift
	[[ -z $MOCK_PID ]] || { kill -KILL "$MOCK_PID"; wait "$MOCK_PID" 2>/dev/null || :; MOCK_PID=''; }
	[[ -n $port ]] ||
		port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	for _ in $(seq 100); do
		openssl cmp -port "$port" -srv_cert "$T/srv.pem" -srv_key "$T/srv.key" \
			-srv_trusted "$T/ca.pem" -rsp_cert "$rsp" -rsp_capubs "$T/ca.pem" "$@" \
			>>"$T/mock.log" 2>&1 &
		MOCK_PID=$!
		mock_wait "$port" && break
		wait "$MOCK_PID" 2>/dev/null || : # the port was still taken
		MOCK_PID=''
		sleep 0.1
	done
	[[ -n $MOCK_PID ]] || die "the CMP mock server did not start on port $port: $(<"$T/mock.log")"
	CMP_URL=http://127.0.0.1:$port/pkix/
}

# mock_wait PORT: the mock accepts connections (0), or has exited (1).
mock_wait() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$MOCK_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
