#!/usr/bin/env bash
# Nothing from the service is believed unchecked (issue 9, findings 5-7).
# hostile-proxy forwards every request to the real service and spoils one
# kind of answer as its mode says:
#
#   other-company     the company data of another employer: refused before
#                     the e-mail is changed and before keygen, naming the
#                     service's and the certificate's registro patronal;
#   login-other-rp    the session of another registro patronal: the same;
#   empty-request-id, long-request-id
#                     a 202 with a request id that is empty or 4096 long:
#                     refused naming 'request_id', nothing journalled from
#                     it (the journal stays 'submit-started');
#   control-chars     ESC sequences in the razon social (refused naming
#                     the field), or ("error") an error message with ESC,
#                     C1, BEL, a newline, invalid UTF-8 and 3000 bytes
#                     more (shown escaped and cut).
#
# A current certificate that does not name its employer (O, OU,
# x500UniqueIdentifier) is refused before the login.
#
# Each case: exit 1 with the message; no key for another employer (no new
# key at all before keygen); the tool's stdout and stderr hold no byte
# under 0x20 but newlines; then, the proxy honest again (same address, same
# journal), `renew` completes.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=lib.sh
. "$TESTS_DIR/renew/lib.sh"
: "${HOSTILE_PROXY:?HOSTILE_PROXY is not set (run the test through ctest)}"
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing: skipped" >&2; exit 77; }

failures=0
fail_soft() { printf '%s: FAIL: %s\n' "$T_NAME" "$*" >&2; failures=$((failures + 1)); }

svc_init
svc_start --issue-delay 1      # a 202 first: the request id is what is polled
proxy_start

# clean_output FILE...: no byte under 0x20 but newline, no DEL.
clean_output() {
	local f
	for f in "$@"; do
		if LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$f"; then
			printf '%s: control bytes: %s\n' "$f" "$(LC_ALL=C grep -n $'[\x01-\x09\x0b-\x1f\x7f]' "$f" | od -c | head -5)"
			return 1
		fi
	done
}

service_email() { sqlite3 "$D/service.db" "SELECT email FROM employers WHERE registro_patronal = '$RP'"; }
new_keys() { objects_json "$C/objects.json"; new_objects "$C/objects.json" | jq '[.[] | select(.class == "private-key")] | length'; }

# string_case NAME MODE [VARIANT] KEYS MESSAGE...: a renewal through the
# proxy in MODE, refused with each MESSAGE in its stderr, KEYS new private
# keys on the token after it; then through the honest proxy, done.
string_case() {
	local name=$1 mode=$2 variant=$3 keys=$4 rc=0 msg state
	shift 4
	case_new "$name" token
	printf '%s %s\n' "$mode" "$variant" >"$T/mode"
	: >"$T/proxy.log"
	renew_run --email "nuevo@$RP.example.mx" >"$C/out.txt" || rc=$?
	printf 'pass\n' >"$T/mode"
	grep -q "answered as '$mode'" "$T/proxy.log" ||
		{ fail_soft "$name: the proxy spoiled no answer: $(<"$T/proxy.log")"; return; }
	[[ $rc == 1 ]] || { fail_soft "$name: exit $rc, expected 1: $(<"$C/err")"; return; }
	for msg in "$@"; do
		grep -qF -- "$msg" "$C/err" || fail_soft "$name: the message does not say '$msg': $(<"$C/err")"
	done
	clean_output "$C/out.txt" "$C/err" || fail_soft "$name: control characters reached the terminal"
	[[ $(new_keys) == "$keys" ]] ||
		fail_soft "$name: $(new_keys) new keys on the token, expected $keys: $(brief "$(new_objects "$C/objects.json")")"
	check_old_intact "$name"
	state=$(journal_state)
	if ((keys == 0)); then
		[[ $(service_email) == "$EMAIL" ]] || fail_soft "$name: the e-mail was changed to $(service_email)"
		[[ $state == none ]] || fail_soft "$name: a journal ('$state') was written"
	fi
	cp "$C/err" "$C/refused.err"
	rc=0
	renew_run >"$C/rerun.txt" || rc=$?
	[[ $rc == 0 ]] || { fail_soft "$name: the rerun failed: $(<"$C/err")"; return; }
	clean_output "$C/rerun.txt" "$C/err" || fail_soft "$name: the rerun printed control characters"
	if (check_renewed "$name, then the honest service"); then
		printf 'ok: %-18s journal %-16s rerun: done; refused: %s\n' "$name" "'$state'" \
			"$(head -c 300 "$C/refused.err" | tr '\n' ' ')"
	else
		fail_soft "$name, then the honest service"
	fi
}

# Finding 5: the employer comes from the current certificate.
string_case other-company other-company '' 0 \
	"The service says the registro patronal is 'X9999999999', but the current certificate says '" \
	'The service may be wrong or hostile'
grep -qF "says '$RP'" "$C/refused.err" || fail_soft "other-company: the certificate's $RP is not named"
string_case login-other-rp login-other-rp '' 0 \
	"The service says the registro patronal is 'X9999999999', but the current certificate says '" \
	'The service may be wrong or hostile'
grep -qF "says '$RP'" "$C/refused.err" || fail_soft "login-other-rp: the certificate's $RP is not named"

# Finding 6: a bad request id is a protocol error naming the field, and
# never reaches the journal.
for mode in empty-request-id long-request-id; do
	why=empty
	[[ $mode == long-request-id ]] && why='too long'
	string_case "$mode" "$mode" '' 1 "The service's answer has an invalid 'request_id' ($why)"
	j=$T/$mode/state/renew-$RP-$IMSS_TOKEN_SERIAL.json
	id=$(jq -r '.request_id // "none"' "$j")
	[[ $id =~ ^[0-9a-fA-F]{1,64}$ ]] || fail_soft "$mode: the journal's request id after the rerun is '$id'"
done

# Finding 7: control characters never reach the terminal.
string_case control-chars control-chars '' 0 \
	"The service's answer has an invalid 'razon_social' (control characters)"
string_case control-chars-error control-chars error 0 \
	'The service answered 403 LOGIN_FAILED: \x1b[2J\x1b]0;pwned\x07\x1b[31mROJO \xc2\x9b31m\x0asegunda linea \xff\xfe\xc3yyy' \
	'yyy...'
len=$(sed -n '1p' "$T/control-chars-error/refused.err" | wc -c)
((len < 1000)) || fail_soft "control-chars error: the service's message was not cut ($len bytes)"

# The employer comes from the current certificate: one that does not name
# it (no OU, no x500UniqueIdentifier) is refused before the login.
case_new no-employer token
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj '/O=SIN PATRON SA/CN=SIN PATRON SA' -keyout "$C/bare.key" -out "$C/bare.pem" 2>/dev/null &&
	openssl pkcs12 -export -in "$C/bare.pem" -inkey "$C/bare.key" -out "$C/bare.pfx" \
		-passout "file:$T/pfx.pass" || die "no-employer: cannot make the .pfx"
CURRENT=(--credential "$C/bare.pfx" --password-source "file:$T/pfx.pass")
rc=0
renew_run >"$C/out.txt" || rc=$?
if [[ $rc != 1 ]]; then
	fail_soft "no-employer: exit $rc, expected 1: $(<"$C/err")"
elif ! grep -qF 'does not name its employer' "$C/err"; then
	fail_soft "no-employer: the message does not say so: $(<"$C/err")"
elif [[ $(new_keys) != 0 || $(journal_state) != none ]]; then
	fail_soft "no-employer: a key or a journal was made"
else
	echo "ok: no-employer: $(sed -n 2p "$C/err")"
fi

((failures == 0)) || die "$failures case(s) failed"
echo "$T_NAME: all passed"
