#!/usr/bin/env bash
# A hostile or broken service: hostile-proxy (a TLS proxy with the
# service's own certificate, so the pinned CA trusts it) forwards every
# request to the real service and spoils the answer to the renewal
# (POST /renewal, and GET /requests/{id} when issuance is delayed) as its
# mode says.  For each mode: `renew` fails with a message naming the
# problem; the token is unchanged but for the candidate key the journal
# records (no certificate stored); then, the proxy honest again (same
# address, so the same journal), `renew` completes: the service had
# issued the certificate already (the request reached it), and the rerun
# gets it back by its request id (journal 'submitted') or by sending the
# same request again (journal 'submit-started'), never a second one.
# Modes that must be accepted are run apart (not-before-ahead).  Last,
# recover: a refused certificate fetched again by serial, first spoiled
# (cn-other: refused, nothing stored), then honest.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=lib.sh
. "$TESTS_DIR/renew/lib.sh"
: "${HOSTILE_PROXY:?HOSTILE_PROXY is not set (run the test through ctest)}"
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing: skipped" >&2; exit 77; }

# The client's timeout for one exchange, and how long the proxy stalls.
export IMSS_RENEW_HTTP_TIMEOUT=2
STALL=4
failures=0
fail_soft() { printf '%s: FAIL: %s\n' "$T_NAME" "$*" >&2; failures=$((failures + 1)); }

svc_init
svc_start
PORT=$(svc_port)
proxy_start --stall "$STALL"

# What each mode must be refused with (a part of the message).
declare -A expect=(
	[other-key]='it is for another key than the one generated on the token'
	[other-subject]='its subject is not this employer'
	[other-ca]="it does not chain to the service's CA"
	[expired]='it has expired'
	[garbage]='The service sent invalid base64'
	[truncated]='is not a JSON object'
	[oversized]='The service sent more than 8388608 bytes'
	[http-500]='The service answered HTTP 500'
	[stall]='timed out'
	[redirect]='redirected'
	[cn-other]='its CN (razon social) is not'
	[ca-true]='it is a CA certificate (basicConstraints CA:TRUE)'
	[server-eku]='allows neither clientAuth nor emailProtection'
	[sha1]='it is signed with a broken hash (SHA-1 or MD5)'
)
MODES=(other-key other-subject other-ca expired garbage truncated oversized http-500 stall redirect)
MODES+=(cn-other ca-true server-eku sha1)

# hostile_case MODE PATH: a renewal through the proxy in MODE, refused;
# then through the honest proxy, done.
hostile_case() {
	local mode=$1 path=$2 rc=0 state first
	case_new "$path-$mode" token
	if [[ $path == submit ]]; then
		printf '%s renewal\n' "$mode" >"$T/mode"
	else
		printf '%s poll\n' "$mode" >"$T/mode"
	fi
	: >"$T/proxy.log"
	renew_run >"$C/out.txt" || rc=$?
	printf 'pass\n' >"$T/mode"
	grep -q "answered as '$mode'" "$T/proxy.log" ||
		{ fail_soft "$path, $mode: the proxy spoiled no answer: $(<"$T/proxy.log")"; return; }
	[[ $rc == 1 ]] || { fail_soft "$path, $mode: exit $rc, expected 1: $(<"$C/err")"; return; }
	grep -qF "${expect[$mode]}" "$C/err" ||
		fail_soft "$path, $mode: the message does not say '${expect[$mode]}': $(<"$C/err")"
	cp "$C/err" "$C/refused.err"
	first=$(sed -n '1s/^imss-renew: //p' "$C/err")
	# Nothing stored: the token holds the old credential and the candidate key.
	(check_candidate_only "$path, $mode") || { fail_soft "$path, $mode: the token changed"; return; }
	state=$(journal_state)
	rc=0
	renew_run >"$C/rerun.txt" || rc=$?
	[[ $rc == 0 ]] || { fail_soft "$path, $mode: the rerun failed: $(<"$C/err")"; return; }
	if (check_renewed "$path, $mode, then the honest service"); then
		printf 'ok: %-6s %-13s journal %-16s rerun: done; refused: %s: %s\n' "$path" "$mode" \
			"'$state'" "$first" "$(sed -n 2p "$C/refused.err")"
	else
		fail_soft "$path, $mode, then the honest service"
	fi
}

# --- the answer to POST /renewal spoiled (the certificate issued at once) --------
for mode in "${MODES[@]}"; do
	hostile_case "$mode" submit
done

# --- the answer to GET /requests/{id} spoiled (delayed issuance, polling) --------
svc_stop
svc_start_on "$PORT" --issue-delay 1
for mode in "${MODES[@]}"; do
	hostile_case "$mode" poll
done
svc_stop
svc_start_on "$PORT"

# --- a service clock a little ahead: accepted ---------------------------------------
# A certificate valid from 30 s from now (re-made by the service's CA) is
# within the clock skew: stored, not blamed on the CA.
case_new not-before-ahead token
printf 'not-before-ahead renewal\n' >"$T/mode"
: >"$T/proxy.log"
rc=0
renew_run >"$C/out.txt" || rc=$?
printf 'pass\n' >"$T/mode"
grep -q "answered as 'not-before-ahead'" "$T/proxy.log" || die "not-before-ahead: the proxy spoiled no answer"
assert_eq 0 "$rc" "not-before-ahead: a certificate valid from 30 s ahead is accepted ($(<"$C/err"))"
VERIFY_ATTIME=$(($(date +%s) + 60)) check_renewed "not-before-ahead"
nb=$(openssl x509 -inform DER -in "$(jq -r .cert_path "$(journal)")" -noout -startdate | cut -d= -f2)
(($(date -d "$nb" +%s) > $(date +%s) - 5)) || die "not-before-ahead: the stored certificate is not the one made ahead ($nb)"
echo "ok: not-before-ahead: stored (notBefore $nb)"

# --- recover after a refusal -----------------------------------------------------
# The service issued a certificate for the candidate key, but the proxy sent
# one for another key.  `recover --serial` (through the honest proxy) fetches
# the real one by its serial, checks it and stores it next to the key; the
# journal still says 'submitted', so `renew` then finishes: it finds the
# certificate already on the token and does not store it twice.
case_new recover token
printf 'other-key\n' >"$T/mode"
rc=0
renew_run >"$C/out.txt" || rc=$?
printf 'pass\n' >"$T/mode"
assert_eq 1 "$rc" "recover: the spoiled renewal fails"
serial=$(sqlite3 "$D/service.db" "SELECT serial FROM certificates ORDER BY issued_at DESC, rowid DESC LIMIT 1")
[[ -n $serial ]] || die "recover: no serial in the service's database"
renew_args
# The certificate fetched by serial spoiled first: recover checks it in full.
printf 'cn-other recover\n' >"$T/mode"
rc=0
FAULT_LOG=$C/calls.log "$IMSS_RENEW" --module "$FAULT_MODULE" recover --serial "$serial" \
	"${RENEW_ARGS[@]:0:${#RENEW_ARGS[@]}-1}" >"$C/recover.out" 2>"$C/err" || rc=$?
printf 'pass\n' >"$T/mode"
no_sanitizer_report "$C/err"
assert_eq 1 "$rc" "recover, a certificate with another CN: refused"
grep -q "its CN (razon social) is not" "$C/err" || die "recover, another CN: unclear message: $(<"$C/err")"
check_candidate_only "recover, another CN"
FAULT_LOG=$C/calls.log "$IMSS_RENEW" --module "$FAULT_MODULE" recover --serial "$serial" \
	"${RENEW_ARGS[@]:0:${#RENEW_ARGS[@]}-1}" >"$C/recover.out" 2>"$C/err" ||
	die "recover failed: $(<"$C/err")"
no_sanitizer_report "$C/err"
objects_json "$C/objects.json"
assert_eq 1 "$(new_objects "$C/objects.json" | jq '[.[] | select(.class == "certificate")] | length')" \
	"recover: the certificate is on the token"
renew_run >"$C/rerun.txt" || die "recover, then renew: failed: $(<"$C/err")"
check_renewed "recover, then renew"
echo "ok: recover stored the issued certificate; renew then finished without a second copy"

((failures == 0)) || die "$failures case(s) failed"
echo "$T_NAME: all passed"
