#!/usr/bin/env bash
# CMP polling (README, "Renewing with your own CA"; exit code 12): OpenSSL's
# CMP server answers "waiting" to the key update and to the first polls
# (-poll_count N -check_after S) before it gives the certificate.
#  (1) --timeout long enough for the polls: the certificate is received,
#      checked and stored next to the new key, exit 0, the mock polled N
#      times (the messages in its log);
#  (2) --timeout shorter than the polls: exit 12, PENDING (the JSON error
#      line, the message saying to run it again), nothing stored, the
#      journal keeps the transaction; the same command run again with time
#      enough asks for the SAME transaction (its submit event and journal
#      name the transaction ID of the first run) and stores the
#      certificate.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=cmp-lib.sh
. "$TESTS_DIR/protocol/cmp-lib.sh"

current_files actual
# requests: how many messages the mock received since its log was emptied.
requests() { grep -c 'Received request' "$T/mock.log" || :; }

# ---- (1) polled within --timeout
answer_for 'cmp espera 1' "$T/actual.pem" "$T/rsp1.pem"
: >"$T/mock.log"
mock_start "$T/rsp1.pem" -poll_count 2 -check_after 1
cmp_renew polled --credential "$T/actual.cer" --password-source "file:$T/key.pass" --timeout 60 ||
	die "renew --protocol cmp with polling: exit $?: $(<"$T/polled.err") $(<"$T/mock.log")"
check_stored polled "$T/rsp1.pem"
n=$(requests)
((n >= 4)) || die "the mock got $n messages, expected the key update, two polls, the confirmation: $(<"$T/mock.log")"
echo "ok: polled: the server was polled before it gave the certificate ($n messages)"

# ---- (2) --timeout runs out first: 12, then the same transaction again
answer_for 'cmp espera 2' "$T/actual.pem" "$T/rsp2.pem"
: >"$T/mock.log"
mock_start "$T/rsp2.pem" -poll_count 1000 -check_after 1
before=$(objects_summary)
rc=0
cmp_renew late --credential "$T/actual.cer" --password-source "file:$T/key.pass" --timeout 7 || rc=$?
assert_eq 12 "$rc" "--timeout ran out while the CA said waiting: exit 12"
jq -e -s 'last | .error.code == "PENDING" and .error.exit == 12' "$T/late.json" >/dev/null ||
	die "no PENDING error line: $(tail -n 1 "$T/late.json")"
assert_contains "$(<"$T/late.err")" "Run the same command again later" "pending: says to run it again"
assert_eq "$before" "$(objects_summary)" "pending: nothing stored on the token"
tid=$(jq -r .request_id "$T/late-state"/renew-*.json)
[[ -n $tid && $tid != null ]] || die "pending: the journal has no transaction"
assert_eq "$tid" "$(jq -r -s '[.[] | select(.event == "submit")][0].request_id' "$T/late.json")" \
	"pending: the journal keeps the transaction the run sent"
port=${CMP_URL#http://127.0.0.1:}
MOCK_PORT=${port%%/*} mock_start "$T/rsp2.pem" -poll_count 1 -check_after 1 # the journal's server
cmp_renew late --credential "$T/actual.cer" --password-source "file:$T/key.pass" --timeout 60 ||
	die "the same command again: exit $?: $(<"$T/late.err") $(<"$T/mock.log")"
assert_eq "$tid" "$(jq -r -s '[.[] | select(.event == "submit")][0].request_id' "$T/late.json")" \
	"run again: the same transaction asked for"
check_stored late "$T/rsp2.pem"
assert_eq "$tid" "$(jq -r .request_id "$T/late-state"/renew-*.json)" "run again: the journal's transaction"
echo "cmp-poll: OK"
