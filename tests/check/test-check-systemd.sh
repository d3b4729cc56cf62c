#!/usr/bin/env bash
# The systemd units of `imss-renew check`, as the build tree holds them for
# installation (systemd/user and systemd/system): `systemd-analyze verify`
# accepts each (user units with --user), with no warning at all, their
# Documentation= man page found in the build tree's man pages; the
# service is a oneshot running `imss-renew check` with the configured
# arguments whose exit status 10 and 11 count as success; the timer is
# daily, persistent and randomized.  The ExecStart= command, run as
# systemd would run it, exits 10 for an expiring certificate.  Skipped
# (77) without systemd-analyze.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
: "${IMSS_SYSTEMD_UNITS:?IMSS_SYSTEMD_UNITS is not set (run the test through ctest)}"
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not found"; exit 77; }
t_tmpdir

# unit_value FILE KEY: the value of KEY= in FILE (the last one).
unit_value() { sed -n "s/^$2=//p" "$1" | tail -n1; }

# verify SCOPE DIR: systemd-analyze verify of the two units of DIR, with
# ExecStart= pointed at the tool of the build tree (the installed path
# does not exist yet).  Any message fails the test.
verify() {
	local scope=$1 dir=$2 exec work=$T/$1 mandir=() man=--man=no
	mkdir -p "$work"
	exec=$(unit_value "$dir/imss-renew-check.service" ExecStart)
	[[ $exec =~ ^(/[^ ]+)/imss-renew\ check\ \$IMSS_RENEW_CHECK_ARGS$ ]] ||
		die "$scope: ExecStart=$exec is not '<bindir>/imss-renew check \$IMSS_RENEW_CHECK_ARGS'"
	sed "s|^ExecStart=${BASH_REMATCH[1]}/imss-renew |ExecStart=$IMSS_RENEW |" \
		"$dir/imss-renew-check.service" >"$work/imss-renew-check.service"
	cp "$dir/imss-renew-check.timer" "$work/"
	# The man page of Documentation= is looked up with man(1): the build
	# tree's, when built.
	if [[ -n ${IMSS_MAN_DIR:-} && -f $IMSS_MAN_DIR/man1/imss-renew.1 ]] && command -v man >/dev/null; then
		man=--man=yes
		mandir=(MANPATH="$IMSS_MAN_DIR")
	fi
	local args=(verify "$man" "$work/imss-renew-check.service" "$work/imss-renew-check.timer")
	[[ $scope == user ]] && args=(--user "${args[@]}")
	mkdir -p "$T/runtime"
	chmod 700 "$T/runtime"
	rc=0
	env "${mandir[@]}" XDG_RUNTIME_DIR="$T/runtime" systemd-analyze "${args[@]}" \
		>"$T/verify.out" 2>&1 || rc=$?
	if ((rc != 0)) || [[ -s $T/verify.out ]]; then
		cat "$T/verify.out" >&2
		die "$scope units: systemd-analyze verify said something (exit $rc)"
	fi
	printf 'ok: %s units: systemd-analyze verify (%s) is silent\n' "$scope" "$man"
}

for scope in user system; do
	dir=$IMSS_SYSTEMD_UNITS/$scope
	[[ -f $dir/imss-renew-check.service && -f $dir/imss-renew-check.timer ]] ||
		die "no $scope units in $dir"
	verify "$scope" "$dir"
	svc=$dir/imss-renew-check.service timer=$dir/imss-renew-check.timer
	assert_eq oneshot "$(unit_value "$svc" Type)" "$scope: Type=oneshot"
	assert_eq "10 11" "$(unit_value "$svc" SuccessExitStatus)" "$scope: 10 and 11 are not failures"
	assert_eq "-%E/imss-renew/check.conf" "$(unit_value "$svc" EnvironmentFile)" \
		"$scope: optional arguments file"
	assert_eq "man:imss-renew(1)" "$(unit_value "$svc" Documentation)" "$scope: Documentation="
	assert_eq daily "$(unit_value "$timer" OnCalendar)" "$scope timer: daily"
	assert_eq true "$(unit_value "$timer" Persistent)" "$scope timer: Persistent=true"
	[[ -n $(unit_value "$timer" RandomizedDelaySec) ]] || die "$scope timer: no RandomizedDelaySec"
	assert_eq timers.target "$(unit_value "$timer" WantedBy)" "$scope timer: WantedBy=timers.target"
	! grep -q '^Unit=' "$timer" || die "$scope timer: Unit= (the service of the same name is meant)"
done

# What the unit runs, run the same way: the arguments file's words, exit
# 10 for an expiring certificate.
openssl req -x509 -newkey rsa:2048 -nodes -subj '/O=Empresa/OU=Y1234567890/CN=x' \
	-addext basicConstraints=CA:FALSE -days 10 -keyout "$T/k.pem" -out "$T/c.pem" 2>/dev/null ||
	die "openssl cannot make a certificate"
printf 'IMSS_RENEW_CHECK_ARGS=--cert %s --days 30\n' "$T/c.pem" >"$T/check.conf"
# EnvironmentFile= takes the rest of the line as the value.
IMSS_RENEW_CHECK_ARGS=$(sed -n 's/^IMSS_RENEW_CHECK_ARGS=//p' "$T/check.conf")
rc=0
# shellcheck disable=SC2086 # systemd splits $VAR into words too
"$IMSS_RENEW" check $IMSS_RENEW_CHECK_ARGS >"$T/out" 2>&1 || rc=$?
assert_eq 10 "$rc" "the unit's command: exit 10, which SuccessExitStatus= accepts"
assert_contains "$(<"$T/out")" "expires within 30 days" "the unit's command: the log line"

echo "PASS: $T_NAME"
