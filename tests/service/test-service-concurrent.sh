#!/usr/bin/env bash
# Requests are served side by side (issue 12, a fleet's throughput): while
# a login's password is being hashed (the costliest step of any request;
# here a slow KDF of 4,000,000 iterations, about a second), another
# client's request is answered, and a second login hashes at the same time.
# One served after the other, the request would wait for the hash.
. "$TESTS_DIR/lib/common.sh"
. "$TESTS_DIR/service/lib.sh"

assert_exit 0 "$IMSS_SERVICE" init --dir "$D" --kdf-iterations 4000000
svc_employer Y1234567108 usuario01
svc_start

# login_bg N USER: a login with a wrong password, in the background (LOGIN_PID).
login_bg() {
	curl -sS --max-time 60 --cacert "$D/ca.pem" -H 'Content-Type: application/json' \
		--data-binary "{\"user\":\"$2\",\"password\":\"no-es-esta\",\"signature\":\"AAAA\"}" \
		-o "$T/login$1.body" -w '%{http_code}' "$SVC_URL/session" >"$T/login$1.status" &
	LOGIN_PID=$!
}
ms() { date +%s%3N; }

# One login alone: how long a hash takes on this machine now.
start=$(ms)
login_bg 0 nadie
wait "$LOGIN_PID"
alone=$(($(ms) - start))
assert_eq 401 "$(cat "$T/login0.status")" "an unknown user's login is refused"
echo "one login alone: $alone ms"
((alone >= 300)) || { echo "the hash took $alone ms: too fast to tell (skipped)" >&2; exit 77; }

# A login under way (a known user: the hash of its row), then GET /ca.
login_bg 1 usuario01
first=$LOGIN_PID
login_bg 2 nadie
second=$LOGIN_PID
sleep 0.1
start=$(ms)
assert_eq 200 "$(TOKEN='' api GET /ca)" "GET /ca while two logins hash their passwords"
took=$(($(ms) - start))
echo "GET /ca answered in $took ms while two logins of $alone ms each were under way"
kill -0 "$first" 2>/dev/null && kill -0 "$second" 2>/dev/null ||
	die "GET /ca waited for the logins ($took ms; a login alone: $alone ms)"
wait "$first" "$second"
assert_eq 401 "$(cat "$T/login1.status")" "a wrong password is refused"
assert_eq LOGIN_FAILED "$(jq -r .error.code "$T/login1.body")" "as LOGIN_FAILED"
assert_eq 401 "$(cat "$T/login2.status")" "an unknown user is refused"
assert_eq LOGIN_FAILED "$(jq -r .error.code "$T/login2.body")" "the same way"
assert_eq 1 "$(sqlite3 "$D/service.db" "SELECT failed_logins FROM users WHERE name = 'usuario01'")" \
	"the wrong password counted once"
svc_stop
