#!/usr/bin/env bash
# Connections cannot be hoarded (issue 9, finding 12).  70 idle
# connections from one address hold at most --per-ip-connections of the
# service's 64: a client from another address is served at once.  A client
# that trickles its request a byte at a time (each byte resets the idle
# timer) is cut at --request-deadline, counted from the request's start
# (the connection's, or the end of the previous request on it).
# Idle connections are bash's /dev/tcp descriptors of this shell (closed
# at the end); the trickling client is bounded by timeout.
. "$TESTS_DIR/lib/common.sh"
. "$TESTS_DIR/service/lib.sh"

svc_init
svc_start --per-ip-connections 4
PORT=${SVC_URL#https://127.0.0.1:}
PORT=${PORT%%/*}
# The service listens on 127.0.0.1; another loopback address is another client.
curl -sS --max-time 10 --interface 127.0.0.2 --cacert "$D/ca.pem" -o /dev/null "$SVC_URL/ca" ||
	{ echo "cannot connect from 127.0.0.2: skipped" >&2; exit 77; }

fds=()
close_idle() {
	local fd
	for fd in "${fds[@]}"; do exec {fd}>&-; done
	fds=()
}
for _ in $(seq 70); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || break
	fds+=("$fd")
done
assert_eq 70 "${#fds[@]}" "70 idle connections opened"
sleep 0.5   # the service has accepted (and refused) them
assert_eq 200 "$(curl -sS --max-time 10 --interface 127.0.0.2 --cacert "$D/ca.pem" -o /dev/null \
	-w '%{http_code}' "$SVC_URL/ca")" "another client is served while one address holds idle connections"
status=$(curl -sS --max-time 10 --cacert "$D/ca.pem" -o /dev/null -w '%{http_code}' "$SVC_URL/ca" 2>/dev/null) || :
[[ $status != 200 ]] || die "a fifth connection from the address holding four was served"
close_idle
sleep 0.5
assert_eq 200 "$(TOKEN='' api GET /ca)" "once they are closed, that address is served again"
svc_stop

# A request trickled a byte a second: cut at the deadline (3 s), not kept
# alive by each byte (the idle timeout is 30 s).
svc_start --request-deadline 3
PORT=${SVC_URL#https://127.0.0.1:}
PORT=${PORT%%/*}
start=$(date +%s)
{
	printf 'POST /idse/v1/challenge HTTP/1.1\r\nHost: 127.0.0.1\r\n'
	for _ in $(seq 20); do printf 'X'; sleep 1; done
} 2>/dev/null | timeout 30 openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$D/ca.pem" \
	>"$T/trickle.out" 2>&1 || :
elapsed=$(($(date +%s) - start))
((elapsed <= 8)) || die "the trickling client was kept for $elapsed s (deadline 3 s)"
echo "ok: the trickling client was cut after $elapsed s"
assert_contains "$(cat "$T/serve.log")" "connection from 127.0.0.1 closed: request not complete within 3 s" \
	"the service logs the cut"
# Each request on a kept-alive connection has its own deadline, from the
# end of the one before: four requests 1.5 s apart (4.5 s in all, past a
# deadline counted from the connection's start) are all answered.
req='GET /idse/v1/ca HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
{
	for _ in 1 2 3 4; do printf "$req"; sleep 1.5; done
} 2>/dev/null | timeout 30 openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$D/ca.pem" \
	>"$T/keepalive.out" 2>&1 || :
assert_eq 4 "$(grep -o 'HTTP/1.1 200' "$T/keepalive.out" | wc -l)" "four requests on one connection, 1.5 s apart"
svc_stop
