#!/usr/bin/env bash
# Mistakes typed at the terminal are asked again (issue 10, Interface),
# renew on a terminal of its own (script(1)) against the reference service:
#  - a wrong IDSE password, then the right one: the renewal completes and
#    the service logged exactly one LOGIN_FAILED; the same wrong password
#    from a file is not read twice: one LOGIN_FAILED, exit 1;
#  - an e-mail that is no address is asked again, nothing sent for it, and
#    the address typed next is in the new certificate; --email with no
#    address is a usage error before any prompt;
#  - a wrong PIN is asked again (two C_Login, the renewal completes); on a
#    token that reports its final try (fault module, with --force) a wrong
#    PIN is not asked again (one C_Login);
#  - a missing .pfx, or the .key of a .cer, fails before any secret is asked.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=tty-lib.sh
. "$TESTS_DIR/renew/tty-lib.sh"
command -v script >/dev/null || { echo "script is missing: skipped" >&2; exit 77; }

svc_init
svc_start
PASS=$(<"$T/idse.pass")

# args_without OPTION...: RENEW_ARGS less those options (and their values)
# and less --yes unless KEEP_YES=1, as one quoted command line in CMD.
args_without() {
	local i drop=" $* " args=()
	renew_args
	for ((i = 0; i < ${#RENEW_ARGS[@]}; i++)); do
		if [[ $drop == *" ${RENEW_ARGS[i]} "* ]]; then
			i=$((i + 1))
		elif [[ ${RENEW_ARGS[i]} != --yes || ${KEEP_YES:-0} == 1 ]]; then
			args+=("${RENEW_ARGS[i]}")
		fi
	done
	CMD=$(printf '%q ' env "FAULT_LOG=$C/calls.log" ${FLAGS:+"FAULT_TOKEN_FLAGS=$FLAGS"} \
		"$IMSS_RENEW" --module "$FAULT_MODULE" renew "${args[@]}" "${EXTRA[@]}")
}
failed_logins() { count_of LOGIN_FAILED "$T/serve.log"; }
EXTRA=()

# === a wrong IDSE password, then the right one ================================
case_new password token
before=$(failed_logins)
KEEP_YES=1 args_without --idse-password-source
prompt="IDSE password of user $USER (registro patronal $RP): "
tty_drive "$C/tty.txt" "$CMD" "$prompt" Equivocado9 "$prompt" "$PASS"
[[ $TTY_RC == 0 ]] || die "password: the renewal completes after the password is typed again: exit $TTY_RC: $(<"$C/tty.txt")"
echo "ok: password: the renewal completes after the password is typed again"
assert_eq 2 "$(count_of "$prompt" "$C/tty.txt")" "password: asked twice, naming the user and employer"
assert_contains "$(<"$C/tty.txt")" "did not accept the IDSE user and password (try 1 of 3)" "password: says why it asks again"
assert_eq 1 "$(($(failed_logins) - before))" "password: one login failure logged by the service"
check_renewed "password"

# A certificate renewed already says what to do (a fresh state directory,
# so that the journal of the renewal just done is not found): the service
# said so at login, before any key was made.
rc=0
renew_run --state-dir "$C/state2" >"$C/again.txt" || rc=$?
assert_eq 1 "$rc" "already-renewed: a second renewal of the same certificate fails"
assert_contains "$(<"$C/err")" "was renewed already: the service issued certificate" "already-renewed: says so"
assert_contains "$(<"$C/err")" "renew from it" "already-renewed: says what to use"
assert_contains "$(<"$C/err")" "imss-renew recover --serial" "already-renewed: or how to fetch it"
assert_eq 0 "$(grep -c "^C_GenerateKeyPair " "$C/calls.log" || :)" "already-renewed: no second key made"

# The same mistake from a file: never read twice, the run fails as before.
case_new password-file token
printf 'Equivocado9' >"$C/wrong.pass"
before=$(failed_logins)
rc=0
renew_run --idse-password-source "file:$C/wrong.pass" >"$C/out.txt" || rc=$?
assert_eq 1 "$rc" "password-file: a wrong password from a file fails"
assert_contains "$(<"$C/err")" "The password is incorrect" "password-file: the headline names the password"
assert_contains "$(<"$C/err")" "LOGIN_FAILED" "password-file: the service's code is shown"
assert_eq 1 "$(($(failed_logins) - before))" "password-file: one login tried"

# === an e-mail that is no address ==============================================
case_new email token
new_email=nuevo@$RP.example.mx
args_without
tty_drive "$C/tty.txt" "$CMD" "E-mail for the new certificate" "no-es-correo" \
	"E-mail for the new certificate" "rh@sin-punto" \
	"E-mail for the new certificate" "$new_email" "[y/N]" y
[[ $TTY_RC == 0 ]] || die "email: completes: exit $TTY_RC: $(<"$C/tty.txt")"
echo "ok: email: completes"
assert_eq 3 "$(count_of 'E-mail for the new certificate' "$C/tty.txt")" "email: asked three times"
assert_contains "$(<"$C/tty.txt")" "not a valid e-mail address" "email: says why it asks again"
assert_eq 0 "$(count_of 'FIELD_INVALID' "$T/serve.log")" "email: no address sent to the service"
check_renewed "email"
subject=$(openssl x509 -inform DER -in "$C/new-cert.der" -noout -subject -nameopt RFC2253)
assert_contains "$subject" "emailAddress=$new_email" "email: the address typed at last is in the certificate"

case_new email-option token
EXTRA=(--email 'rh@@empresa')
args_without --pin-source --idse-password-source
tty_drive "$C/tty.txt" "$CMD"
assert_eq 2 "$TTY_RC" "email-option: --email with no address is a usage error"
assert_contains "$(<"$C/tty.txt")" "is not a valid e-mail address" "email-option: says so"
assert_eq 0 "$(count_of 'PIN for token' "$C/tty.txt")" "email-option: before the PIN is asked"
EXTRA=()

# === a wrong PIN =================================================================
case_new wrong-pin token
KEEP_YES=1 args_without --pin-source
tty_drive "$C/tty.txt" "$CMD" "PIN for token 'IMSS': " 999999 "PIN for token 'IMSS': " "$USER_PIN"
[[ $TTY_RC == 0 ]] || die "pin: completes after the PIN is typed again: exit $TTY_RC: $(<"$C/tty.txt")"
echo "ok: pin: completes after the PIN is typed again"
assert_eq 2 "$(count_of "PIN for token 'IMSS': " "$C/tty.txt")" "pin: asked twice"
assert_contains "$(<"$C/tty.txt")" "The PIN is incorrect (try 1 of 3)" "pin: says why it asks again"
assert_eq 2 "$(grep -c '^C_Login ' "$C/calls.log")" "pin: one C_Login per PIN typed"
check_renewed "pin"

# The token reports its final try: the wrong PIN (tried with --force) is not
# asked again.
case_new final-try token
FLAGS=final_try EXTRA=(--force)
KEEP_YES=1 args_without --pin-source
tty_drive "$C/tty.txt" "$CMD" "PIN for token 'IMSS': " 999999 "PIN for token 'IMSS': " "$USER_PIN"
assert_eq 1 "$TTY_RC" "final-try: a wrong PIN on the final try fails"
assert_eq 1 "$(count_of "PIN for token 'IMSS': " "$C/tty.txt")" "final-try: asked once"
assert_eq 1 "$(grep -c '^C_Login ' "$C/calls.log")" "final-try: one C_Login"
assert_contains "$(<"$C/tty.txt")" "The PIN is incorrect" "final-try: says the PIN was wrong"
FLAGS='' EXTRA=()

# === a missing .pfx: nothing asked ================================================
case_new missing-pfx pfx
CURRENT=(--credential "$C/no-such.pfx")
args_without --pin-source --idse-password-source
tty_drive "$C/tty.txt" "$CMD" "PIN for token 'IMSS': " "$USER_PIN"
assert_eq 1 "$TTY_RC" "missing-pfx: fails"
assert_eq 1 "$TTY_LEFT" "missing-pfx: no prompt came"
assert_contains "$(<"$C/tty.txt")" "no-such.pfx" "missing-pfx: names the file"
for prompt in "PIN for" "IDSE password" "Password for"; do
	assert_eq 0 "$(count_of "$prompt" "$C/tty.txt")" "missing-pfx: '$prompt' not asked"
done

# A .cer whose .key is missing: noticed before any secret too.
openssl pkcs12 -in "$C/old.pfx" -passin "file:$T/pfx.pass" -nokeys -clcerts 2>/dev/null |
	openssl x509 -outform DER -out "$C/alone.cer" || die "missing-key: cannot make a .cer"
CURRENT=(--credential "$C/alone.cer")
args_without --pin-source --idse-password-source
tty_drive "$C/tty-key.txt" "$CMD" "PIN for token 'IMSS': " "$USER_PIN"
assert_eq 1 "$TTY_RC" "missing-key: fails"
assert_eq 1 "$TTY_LEFT" "missing-key: no prompt came"
assert_contains "$(<"$C/tty-key.txt")" "alone.key" "missing-key: names the .key looked for"

echo "$T_NAME: all passed"
