#!/usr/bin/env bash
# README: renew asks "whether to change the e-mail (unless --email) and
# whether to sign the terms letter (unless --yes)", and --retire-old acts
# "after asking unless --yes".
#  - on a terminal (a pty from script(1)), the answers given are obeyed:
#    a new e-mail typed at the prompt is in the new certificate; 'y' signs
#    the letter; 'n' to --retire-old leaves the old credential as it was;
#  - with no terminal at all and no --yes, nothing is signed for the user:
#    the run stops before submitting, says how to go on, stores nothing;
#    the same command with --yes then completes with the same key;
#  - "renew asks for the token PIN once ..., the IDSE user's password, the
#    .pfx password" with tty, the default source: each asked once on the
#    terminal, without echo, and the renewal completes.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
t_need script setsid

svc_init
svc_start

# ask_args: the case's renewal arguments without --yes.
ask_args() {
	renew_args
	unset 'RENEW_ARGS[-1]'
	[[ " ${RENEW_ARGS[*]} " != *" --yes "* ]] || die "--yes left in the arguments"
}

# === on a terminal: the answers are obeyed =====================================
case_new tty token
ask_args
cmd=$(printf '%q ' "$IMSS_RENEW" --module "$SOFTHSM" renew "${RENEW_ARGS[@]}" --retire-old)
new_email=nuevo@$RP.example.mx
rc=0
printf '%s\ny\nn\n' "$new_email" |
	timeout 120 script -qec "$cmd" /dev/null >"$C/tty.out" 2>&1 || rc=$?
assert_eq 0 "$rc" "tty: renew with the questions answered on the terminal"
tr -d '\r' <"$C/tty.out" >"$C/tty.txt"
assert_contains "$(<"$C/tty.txt")" "E-mail for the new certificate [$EMAIL]" "tty: it asks for the e-mail"
grep -q '\[y/N\]' "$C/tty.txt" || die "tty: no y/N question: $(<"$C/tty.txt")"
assert_eq 2 "$(grep -o '\[y/N\]' "$C/tty.txt" | wc -l)" "tty: two questions: sign the letter, retire the old credential"
check_renewed "tty"
subject=$(openssl x509 -inform DER -in "$C/new-cert.der" -noout -subject -nameopt RFC2253)
assert_contains "$subject" "emailAddress=$new_email" "tty: the e-mail typed is in the new certificate"
echo "ok: tty: answered 'n' to --retire-old, the old key and certificate are as they were"

# === no terminal, no --yes: nothing signed for the user ========================
case_new notty token
ask_args
rc=0
setsid -w "$IMSS_RENEW" --module "$SOFTHSM" renew "${RENEW_ARGS[@]}" </dev/null >"$C/out.txt" 2>"$C/err" || rc=$?
no_sanitizer_report "$C/err"
[[ $rc != 0 ]] || die "notty: renew without --yes and without a terminal signed the letter"
printf 'ok: notty: exit %s: %s\n' "$rc" "$(tr '\n' ' ' <"$C/err")"
# (It says that no terminal could be asked and names --yes: renew-interrupt.)
assert_contains "$(<"$C/err")" "The letter was not signed" "notty: the message says the letter was not signed"
[[ $(journal_state) != submit* && $(journal_state) != 'done' ]] || die "notty: the request was submitted ($(journal_state))"
check_candidate_only "notty"
key_id=$(jq -r '.key_id // "none"' "$(journal)" 2>/dev/null || echo none)
renew_run >"$C/out.txt" || die "notty, then --yes: failed: $(<"$C/err")"
check_renewed "notty, then --yes"
[[ $key_id == none ]] || assert_eq "$key_id" "$(jq -r .key_id "$(journal)")" "notty, then --yes: the key made before"

# === the secrets typed on the terminal (tty, the default source) ===============
# No --pin-source, --idse-password-source or --password-source: renew asks
# on the terminal, without echo, for the token PIN (once), the IDSE
# password and the .pfx password.  The terminal discards what was typed
# ahead of a prompt (TCSAFLUSH), so each answer is sent once its prompt
# shows.
case_new tty-secrets pfx
renew_args
args=()
for ((i = 0; i < ${#RENEW_ARGS[@]}; i++)); do
	case ${RENEW_ARGS[i]} in
	--pin-source | --idse-password-source | --password-source) i=$((i + 1)) ;;
	*) args+=("${RENEW_ARGS[i]}") ;;
	esac
done
[[ " ${args[*]} " != *-source* ]] || die "tty-secrets: a secret source left in the arguments"
cmd=$(printf '%q ' "$IMSS_RENEW" --module "$SOFTHSM" renew "${args[@]}")
mkfifo "$C/keys"
exec {keys}<>"$C/keys"
timeout 120 script -qec "$cmd" /dev/null <"$C/keys" >"$C/tty.out" 2>&1 &
pid=$!
BG_PIDS+=("$pid")
declare -A answer=(
	["PIN for token 'IMSS': "]=$USER_PIN
	["IDSE password of user $USER (registro patronal $RP): "]=$(<"$T/idse.pass")
	["Password for $C/old.pfx: "]=$(<"$T/pfx.pass")
)
declare -A answered=()
while kill -0 "$pid" 2>/dev/null; do
	for prompt in "${!answer[@]}"; do
		shown=$(grep -oF "$prompt" "$C/tty.out" | wc -l || true)
		if ((shown > ${answered[$prompt]:-0})); then
			printf '%s\n' "${answer[$prompt]}" >&"$keys"
			answered[$prompt]=$shown
		fi
	done
	sleep 0.1
done
rc=0
wait "$pid" || rc=$?
exec {keys}>&-
tr -d '\r' <"$C/tty.out" >"$C/tty.txt"
[[ $rc == 0 ]] || die "tty-secrets: renew with the secrets typed failed ($rc): $(<"$C/tty.txt")"
echo "ok: tty-secrets: renew with the PIN and both passwords typed on the terminal"
for prompt in "${!answer[@]}"; do
	assert_eq 1 "$(grep -oF "$prompt" "$C/tty.txt" | wc -l)" "tty-secrets: asked once: '$prompt'"
done
for secret in "$(<"$T/idse.pass")" "$(<"$T/pfx.pass")"; do
	[[ $(<"$C/tty.txt") != *"$secret"* ]] || die "tty-secrets: a password was echoed"
done
echo "ok: tty-secrets: no password echoed"
check_renewed "tty-secrets"

echo "$T_NAME: all passed"
