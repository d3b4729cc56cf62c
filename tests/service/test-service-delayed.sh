#!/usr/bin/env bash
# Delayed issuance and restarts: with --issue-delay the renewal answers
# 202 + Retry-After + a request id, and polling gives 201 with the
# certificate once due.  The service is restarted in the middle of a
# renewal (request accepted, certificate not issued): after the restart
# the session, the letter and the request are all there and the poll
# returns the certificate; a request that fell due while the service was
# down is issued when it starts.  Certificates are recoverable by serial.
. "$TESTS_DIR/lib/common.sh"
. "$TESTS_DIR/service/lib.sh"

svc_two_expired
svc_start --issue-delay 3

# renew USER NAME RP: log in with NAME, sign the letter, send a renewal with
# a new key ($T/NAME-new.key); the status in $STATUS, the answer in $T/body.
renew() {
	local user=$1 name=$2 rp=$3
	login "$user" "$name"
	sign_letter "$name"
	request "$name" "$rp" "$name-new"
	STATUS=$(renewal "$name-new")
}

header() { tr -d '\r' <"$T/headers" | sed -n "s/^$1: //p"; }

# A: accepted, pending.
renew usuario01 a "$RPA"
assert_eq 202 "$STATUS" "renewal with a delay: 202"
assert_eq pending "$(jq -r .status "$T/body")" "status pending"
ID=$(jq -r .request_id "$T/body")
retry=$(header Retry-After)
[[ $retry =~ ^[1-3]$ ]] || die "Retry-After '$retry'"
assert_eq "/idse/v1/requests/$ID" "$(header Location)" "Location of the request"
TOKEN_A=$TOKEN
before=$(db_state)
# The same request again (a client that lost the answer): that request's
# answer, not a second request.
assert_eq 202 "$(renewal a-new)" \
	"the same request sent again: 202"
assert_eq "$ID" "$(jq -r .request_id "$T/body")" "the same request sent again: the same request id"
# (A successful call keeps the session alive: only its last use may move.)
assert_eq "$(sed 's/^INSERT INTO sessions .*//' <<<"$before")" "$(db_state | sed 's/^INSERT INTO sessions .*//')" \
	"the same request sent again: nothing but the session's last use changed"
# Another key while one is pending: refused.
request a "$RPA" a-other
before=$(db_state)
expect_error 409 REQUEST_PENDING "$(renewal a-other)" \
	"a second request while one is pending"
assert_eq "$before" "$(db_state)" "REQUEST_PENDING: database unchanged"
assert_eq 202 "$(api GET "/requests/$ID")" "poll before due: 202"
assert_eq 0 "$(sqlite3 "$D/service.db" "SELECT count(*) FROM certificates WHERE request_id = '$ID'")" \
	"no certificate yet"

# Restart in the middle of the renewal.
before=$(db_state)
svc_stop
assert_eq "$before" "$(db_state)" "the stop loses nothing"
svc_start --issue-delay 3
assert_eq "$before" "$(db_state)" "the start changes nothing before the request is due"
TOKEN=$TOKEN_A
status=202
for _ in $(seq 20); do
	status=$(api GET "/requests/$ID")
	[[ $status == 202 ]] || break
	assert_eq pending "$(jq -r .status "$T/body")" "poll: pending"
	sleep "$(header Retry-After)"
done
assert_eq 201 "$status" "after the restart the poll returns the certificate: 201"
assert_eq issued "$(jq -r .status "$T/body")" "status issued"
jq -r .certificate.pem "$T/body" >"$T/a-new.pem"
SERIAL_A=$(jq -r .certificate.serial "$T/body")
assert_eq "$T/a-new.pem: OK" "$(openssl verify -CAfile "$D/ca.pem" "$T/a-new.pem")" "openssl verify"
assert_eq "$(spki_of_key "$T/a-new.key")" "$(spki_of_cert "$T/a-new.pem")" "the new key"
assert_eq 201 "$(api GET "/requests/$ID")" "a later poll: 201 again"
assert_eq "$SERIAL_A" "$(jq -r .certificate.serial "$T/body")" "the same certificate"

# B: due while the service is down; issued when it starts.
renew usuario02 b "$RPB"
assert_eq 202 "$STATUS" "B: 202"
ID_B=$(jq -r .request_id "$T/body")
TOKEN_B=$TOKEN
svc_stop
sleep 4.2  # past the 3 s delay whatever the second boundaries
svc_start --issue-delay 3
assert_eq issued "$(sqlite3 "$D/service.db" "SELECT state FROM requests WHERE id = '$ID_B'")" \
	"a request due while stopped is issued at start"
assert_contains "$(cat "$T/serve.log")" "issued 1 delayed request" "the start says so"
TOKEN=$TOKEN_B
assert_eq 201 "$(api GET "/requests/$ID_B")" "B: poll gives 201"
jq -r .certificate.pem "$T/body" >"$T/b-new.pem"
assert_eq "$T/b-new.pem: OK" "$(openssl verify -CAfile "$D/ca.pem" "$T/b-new.pem")" "B: openssl verify"
assert_eq "$(spki_of_key "$T/b-new.key")" "$(spki_of_cert "$T/b-new.pem")" "B: the new key"

# Recovery by serial: later, in a new session, with the new certificate.
expect_error 404 REQUEST_NOT_FOUND "$(api GET "/requests/$ID")" "another employer's request"
expect_error 404 CERT_NOT_FOUND "$(api GET "/certificates/$SERIAL_A")" "another employer's certificate"
api DELETE /session >/dev/null
cp "$T/a-new.key" "$T/a2.key"
cp "$T/a-new.pem" "$T/a2.pem"
login usuario01 a2
assert_eq false "$(jq -r .renewal_required "$T/body")" "the renewed certificate logs in"
assert_eq 200 "$(api GET "/certificates/$SERIAL_A")" "recovery by serial"
assert_eq "$(cat "$T/a-new.pem")" "$(jq -r .certificate.pem "$T/body")" "the same certificate recovered"
assert_eq false "$(jq -r .revoked "$T/body")" "not revoked"
assert_eq 2 "$(sqlite3 "$D/service.db" "SELECT count(*) FROM requests WHERE state = 'issued'")" \
	"both requests issued, nothing lost"
svc_stop
