#!/usr/bin/env bash
# check with several --cert and directories (every .cer, .crt, .pem and
# .der in it; other files ignored), sorted by days left; a directory with
# no certificate file or only CA certificates is exit 1 with the reason;
# --notify-command gets the JSON result on stdin when something expires
# (not when all is well), without the env: secret's variable nor the fd:
# secret's descriptor (nor any other above 2), its stdout
# kept off the tool's stdout; its failure is a warning and the exit status
# stays.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/check-lib.sh
. "$TESTS_DIR/check/check-lib.sh"
t_need openssl jq
t_tmpdir
check_file_certs

# Several --cert: every certificate, most urgent first (a bare certificate
# file supersedes nothing: its key is unknown).
assert_exit 11 capture "$T/out" check --cert "$T/f90.pem" --cert "$T/fexpired.cer" --cert "$T/f10.pem"
assert_eq "EXPIRED EXPIRING OK" "$(grep -E '^[A-Z]+:' "$T/out" | cut -d: -f1 | xargs)" \
	"several --cert: three lines, most urgent first"
assert_exit 10 capture "$T/out" check --cert "$T/f90.pem" --cert "$T/f10.cer"
assert_exit 0 capture "$T/out" check --cert "$T/f90.pem" --cert "$T/f90.cer"

# A directory: its .cer, .crt, .pem and .der, nothing else, not hidden ones.
mkdir "$T/dir" "$T/empty" "$T/cas"
cp "$T/f90.pem" "$T/dir/a.crt"
cp "$T/f10.cer" "$T/dir/b.DER"
cp "$T/f90.cer" "$T/dir/c.cer"
printf 'not a certificate\n' >"$T/dir/notes.txt"
cp "$T/fexpired.pem" "$T/dir/.hidden.pem"
assert_exit 10 capture "$T/dir.json" jcheck --cert "$T/dir"
assert_eq "$T/dir/b.DER $T/dir/a.crt $T/dir/c.cer" \
	"$(jq -r '[.certificates[].location] | join(" ")' "$T/dir.json")" \
	"a directory: its certificate files, most urgent first"
assert_exit 11 capture "$T/out" check --cert "$T/dir" --cert "$T/fexpired.pem"
assert_eq 4 "$(grep -cE '^(OK|EXPIRING|EXPIRED):' "$T/out")" "a directory and a file"
assert_exit 1 capture "$T/out" check --cert "$T/empty"
assert_contains "$(<"$T/stderr")" "has no certificate file" "an empty directory: exit 1, the reason"
cp "$T/ca.pem" "$T/cas/ca.pem"
assert_exit 1 capture "$T/out" check --cert "$T/cas"
assert_contains "$(<"$T/stderr")" "hold no employer certificate" "only CA certificates: exit 1, the reason"
args=()
for i in $(seq 65); do args+=(--cert "$T/f90.pem"); done
assert_exit 2 capture "$T/out" check "${args[@]}"
assert_contains "$(<"$T/stderr")" "at most 64 times" "65 --cert: a usage error"

# --notify-command: the JSON result on stdin when something expires.
cat >"$T/notify.sh" <<'SH'
#!/bin/sh
cat >"$NOTIFY_OUT"
env >"$NOTIFY_OUT.env"
echo "from the notify command"
SH
chmod +x "$T/notify.sh"
export NOTIFY_OUT=$T/notified.json SECRET_PW=pfxpass
pki_user user "$SUBJECT"
assert_exit 10 capture "$T/out" check --cert "$T/f10.pem" --notify-command "$T/notify.sh"
jq -e '.status == "expiring" and .days == 30 and (.certificates | length == 1)' "$NOTIFY_OUT" >/dev/null ||
	die "notify: not the JSON result: $(<"$NOTIFY_OUT")"
printf 'ok: notify: the JSON result on stdin\n'
[[ $(<"$T/out") != *"from the notify command"* ]] || die "notify: its stdout on the tool's stdout"
assert_contains "$(<"$T/stderr")" "from the notify command" "notify: its stdout goes to stderr"
assert_exit 10 capture "$T/out.json" jcheck --cert "$T/f10.pem" --notify-command "$T/notify.sh"
assert_eq "$(jq -c . "$T/out.json")" "$(jq -c . "$NOTIFY_OUT")" "notify: the same document as --json"
# A secret read from env:NAME is not in its environment.
SECRET_PW=$(<"$T/user.pw") assert_exit 0 capture "$T/out" check --credential "$T/user.pfx" \
	--password-source env:SECRET_PW --days 0 --notify-command "$T/notify.sh"
rm -f "$NOTIFY_OUT.env"
SECRET_PW=$(<"$T/user.pw") assert_exit 10 capture "$T/out" check --credential "$T/user.pfx" \
	--password-source env:SECRET_PW --days 4000 --notify-command "$T/notify.sh"
[[ -s $NOTIFY_OUT.env ]] || die "notify: not run"
! grep -q '^SECRET_PW=' "$NOTIFY_OUT.env" || die "notify: the env: secret's variable reached the command"
grep -q '^NOTIFY_OUT=' "$NOTIFY_OUT.env" || die "notify: the rest of the environment is missing"
printf 'ok: notify: no env: secret in its environment\n'
# A secret read from fd:N: that descriptor is not open in the command.
rm -f "$T/leaked"
assert_exit 10 capture "$T/out" check --credential "$T/user.pfx" --password-source fd:3 \
	--days 4000 --notify-command "cat >/dev/null; cat /dev/fd/3 >'$T/leaked' 2>/dev/null; ls /proc/self/fd >'$T/fds'" \
	3<"$T/user.pw"
[[ -e $T/fds ]] || die "notify (fd:3): not run"
[[ ! -s $T/leaked ]] || die "notify: the fd: secret's descriptor reached the command: $(<"$T/leaked")"
assert_eq "0 1 2 3" "$(sort -n "$T/fds" | xargs)" "notify: only stdin, stdout, stderr (and ls's own) open in the command"
printf 'ok: notify: no fd: secret descriptor in the command\n'
# Not run when all is well.
rm -f "$NOTIFY_OUT"
assert_exit 0 capture "$T/out" check --cert "$T/f90.pem" --notify-command "$T/notify.sh"
[[ ! -e $NOTIFY_OUT ]] || die "notify: run although nothing expires"
printf 'ok: notify: not run when every certificate is valid\n'
# Its failure: a warning, the exit status unchanged.
assert_exit 11 capture "$T/out" check --cert "$T/fexpired.pem" --notify-command 'cat >/dev/null; exit 3'
assert_contains "$(<"$T/stderr")" "the notify command failed (exit status 3)" "notify: its failure is reported"
assert_exit 11 capture "$T/out" check --cert "$T/fexpired.pem" --notify-command 'exit 0'
printf 'ok: notify: a command that does not read its input is no error\n'
# Nothing found to check: notified as a failure.
assert_exit 1 capture "$T/out" check --cert "$T/cas" --notify-command "$T/notify.sh"
assert_eq "failed|30|NO_OBJECT" "$(jq -r '[.status, .days, .error.code] | map(tostring) | join("|")' "$NOTIFY_OUT")" \
	"notify: nothing found is notified as failed, with the error's code"
assert_contains "$(jq -r .error.detail "$NOTIFY_OUT")" "hold no employer certificate" "notify: and its detail"

echo "PASS: $T_NAME"
