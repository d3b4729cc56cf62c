#!/usr/bin/env bash
# A certificate is renewed once (issue 9, finding 11).  A certificate that
# was renewed logs in to recover the certificate that replaced it, but a
# new renewal from it is ALREADY_RENEWED; 20 renewals sent at once from one
# certificate yield exactly one certificate; revoking a certificate
# cancels the pending request it signed (REQUEST_CANCELLED, never issued);
# a certificate expired longer than --expired-login-days cannot log in.
. "$TESTS_DIR/lib/common.sh"
. "$TESTS_DIR/service/lib.sh"

svc_two_expired
svc_issue "$RPB" b2          # a second, current certificate of B
# The parallel renewals come from one address: room for all of them.
svc_start --per-ip-connections 32

# 1. Renew A once; a second renewal from A is refused, in the session
#    that renewed and in a new one; the first request is still recovered.
login usuario01 a
sign_letter a
request a "$RPA" k1
assert_eq 201 "$(renewal k1)" "first renewal from A"
R1=$(jq -r .request_id "$T/body")
S1=$(jq -r .certificate.serial "$T/body")
request a "$RPA" k2
before=$(db_state)
expect_error 409 ALREADY_RENEWED "$(renewal k2)" "second renewal from A, same session"
assert_eq "$before" "$(db_state)" "ALREADY_RENEWED: database unchanged"
assert_eq 201 "$(renewal k1)" "the first request sent again still answers"
assert_eq "$S1" "$(jq -r .certificate.serial "$T/body")" "... with the same certificate"
api DELETE /session >/dev/null

login usuario01 a
assert_eq "true $R1 false" "$(jq -r '"\(.renewed) \(.renewal_request) \(.renewal_required)"' "$T/body")" \
	"the renewed certificate logs in, told what replaced it"
assert_eq 201 "$(api GET "/requests/$R1")" "the renewed certificate recovers its request"
assert_eq "$S1" "$(jq -r .certificate.serial "$T/body")" "... and its certificate"
assert_eq 200 "$(api GET "/certificates/$S1")" "... also by serial"
sign_letter a
request a "$RPA" k3
expect_error 409 ALREADY_RENEWED "$(renewal k3)" "second renewal from A, new session"
assert_eq 1 "$(sqlite3 "$D/service.db" "SELECT count(*) FROM requests WHERE old_serial = '$(cat "$T/a.serial")'")" \
	"one request from A"
# The new certificate renews in its turn.
api GET "/certificates/$S1" >/dev/null
jq -r .certificate.pem "$T/body" >"$T/a1.pem"
cp "$T/k1.key" "$T/a1.key"
api DELETE /session >/dev/null
login usuario01 a1
assert_eq false "$(jq -r .renewed "$T/body")" "the new certificate is not renewed"
sign_letter a1
request a1 "$RPA" k4
assert_eq 201 "$(renewal k4)" "the new certificate renews"
api DELETE /session >/dev/null

# 2. 20 renewals at once from B's certificate, each with its own key, in
#    one session: one certificate.
login usuario02 b
sign_letter b
for i in $(seq 20); do request b "$RPB" "p$i"; done
pids=()
for i in $(seq 20); do
	curl -sS --max-time 60 --cacert "$D/ca.pem" -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' --data-binary "@$T/p$i.json" \
		-o "$T/p$i.out" -w '%{http_code}' "$SVC_URL/renewal" >"$T/p$i.status" 2>"$T/p$i.err" &
	pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || :; done
answers=$(for i in $(seq 20); do
	printf '%s %s\n' "$(cat "$T/p$i.status")" "$(jq -r '.error.code // .status' "$T/p$i.out" 2>/dev/null)"
done | sort | uniq -c | sed 's/^ *//')
assert_eq "1 201 issued
19 409 ALREADY_RENEWED" "$answers" "20 parallel renewals from one certificate"
assert_eq 1 "$(sqlite3 "$D/service.db" "SELECT count(*) FROM certificates c JOIN requests r ON r.id = c.request_id WHERE r.old_serial = '$(cat "$T/b.serial")'")" \
	"one certificate issued from B's certificate"
api DELETE /session >/dev/null
svc_stop

# 3. Revocation cancels the pending request the certificate signed.
svc_start --issue-delay 600
svc_issue "$RPA" c --expired
login usuario01 c
TOKEN_C=$TOKEN
sign_letter c
request c "$RPA" k5
assert_eq 202 "$(renewal k5)" "a delayed renewal from C: pending"
R5=$(jq -r .request_id "$T/body")
out=$("$IMSS_SERVICE" revoke --dir "$D" --serial "$(cat "$T/c.serial")") || die "revoke C"
assert_contains "$out" "cancelled 1 pending renewal request" "revoke says it cancelled the request"
assert_eq cancelled "$(sqlite3 "$D/service.db" "SELECT state FROM requests WHERE id = '$R5'")" \
	"the request is cancelled"
TOKEN=$TOKEN_C
expect_error 403 CERT_REVOKED "$(api GET "/requests/$R5")" "the revoked certificate's session ends"
svc_issue "$RPA" d
login usuario01 d
expect_error 410 REQUEST_CANCELLED "$(api GET "/requests/$R5")" "the cancelled request, polled"
sign_letter d
request d "$RPA" k6
assert_eq 202 "$(renewal k6)" "another certificate renews: nothing pending blocks it"
svc_stop
sqlite3 "$D/service.db" "UPDATE requests SET due_at = 0 WHERE id = '$R5'"
svc_start
assert_eq "cancelled 0" "$(sqlite3 "$D/service.db" "SELECT state || ' ' || (SELECT count(*) FROM certificates WHERE request_id = '$R5') FROM requests WHERE id = '$R5'")" \
	"a cancelled request is never issued, even when due"
svc_stop

# 4. How long after expiry a certificate may log in.
svc_issue "$RPB" e --expired
svc_start --expired-login-days 0
TOKEN=''
challenge usuario02
sign_attached "$T/challenge.txt" "$T/e.p7s" "$T/e.pem" "$T/e.key"
before=$(db_state)
expect_error 403 CERT_EXPIRED_TOO_LONG "$(api POST /session "$(login_body usuario02 "$PASSWORD" "$T/e.p7s")")" \
	"expired a day ago, limit 0 days: refused"
assert_eq "$before" "$(db_state)" "CERT_EXPIRED_TOO_LONG: database unchanged"
login usuario02 b2
assert_eq false "$(jq -r .certificate.expired "$T/body")" "a current certificate logs in"
svc_stop
svc_start
login usuario02 e
assert_eq true "$(jq -r .renewal_required "$T/body")" "by default (365 days) it logs in"
svc_stop
