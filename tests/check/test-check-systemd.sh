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

# verify SCOPE DIR NAME: systemd-analyze verify of the two units NAME.service
# and NAME.timer of DIR, with ExecStart= pointed at the tool of the build
# tree (the installed path does not exist yet).  Any message fails the test.
verify() {
	local scope=$1 dir=$2 name=$3 exec work=$T/$1-$3 mandir=() man=--man=no
	mkdir -p "$work"
	exec=$(unit_value "$dir/$name.service" ExecStart)
	[[ $exec =~ ^(/[^ ]+)/imss-renew\ ((check|fleet\ renew)\ .*)$ ]] ||
		die "$scope: ExecStart=$exec is not '<bindir>/imss-renew check|fleet renew ...'"
	sed "s|^ExecStart=${BASH_REMATCH[1]}/imss-renew |ExecStart=$IMSS_RENEW |" \
		"$dir/$name.service" >"$work/$name.service"
	cp "$dir/$name.timer" "$work/"
	# The man page of Documentation= is looked up with man(1): the build
	# tree's, when built.
	if [[ -n ${IMSS_MAN_DIR:-} && -f $IMSS_MAN_DIR/man1/imss-renew.1 ]] && command -v man >/dev/null; then
		man=--man=yes
		mandir=(MANPATH="$IMSS_MAN_DIR")
	fi
	local args=(verify "$man" "$work/$name.service" "$work/$name.timer")
	[[ $scope == user ]] && args=(--user "${args[@]}")
	mkdir -p "$T/runtime"
	chmod 700 "$T/runtime"
	rc=0
	env "${mandir[@]}" XDG_RUNTIME_DIR="$T/runtime" systemd-analyze "${args[@]}" \
		>"$T/verify.out" 2>&1 || rc=$?
	if ((rc != 0)) || [[ -s $T/verify.out ]]; then
		cat "$T/verify.out" >&2
		die "$scope $name units: systemd-analyze verify said something (exit $rc)"
	fi
	printf 'ok: %s %s units: systemd-analyze verify (%s) is silent\n' "$scope" "$name" "$man"
}

for scope in user system; do
	dir=$IMSS_SYSTEMD_UNITS/$scope
	[[ -f $dir/imss-renew-check.service && -f $dir/imss-renew-check.timer ]] ||
		die "no $scope units in $dir"
	verify "$scope" "$dir" imss-renew-check
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
	assert_contains "$(unit_value "$svc" ExecStart)" "imss-renew check \$IMSS_RENEW_CHECK_ARGS" \
		"$scope: ExecStart= check with the configured arguments"
done

# The fleet units: a oneshot `fleet renew --due 30` of the fleet file, the
# pending status (12) no failure, daily; the system one reads its secrets
# as systemd credentials (LoadCredential=, cred:NAME sources).
for scope in user system; do
	dir=$IMSS_SYSTEMD_UNITS/$scope
	svc=$dir/imss-renew-fleet.service timer=$dir/imss-renew-fleet.timer
	[[ -f $svc && -f $timer ]] || die "no $scope fleet units in $dir"
	verify "$scope" "$dir" imss-renew-fleet
	exec=$(unit_value "$svc" ExecStart)
	assert_contains "$exec" "imss-renew fleet renew --due 30 --file %E/imss-renew/fleet.csv " \
		"$scope fleet: ExecStart= fleet renew --due 30 of the fleet file"
	assert_contains "$exec" " --yes \$IMSS_RENEW_FLEET_ARGS" "$scope fleet: unattended, configured arguments last"
	assert_eq oneshot "$(unit_value "$svc" Type)" "$scope fleet: Type=oneshot"
	assert_eq 12 "$(unit_value "$svc" SuccessExitStatus)" "$scope fleet: pending (12) is no failure"
	assert_eq "-%E/imss-renew/fleet.conf" "$(unit_value "$svc" EnvironmentFile)" "$scope fleet: arguments file"
	assert_eq daily "$(unit_value "$timer" OnCalendar)" "$scope fleet timer: daily"
	assert_eq true "$(unit_value "$timer" Persistent)" "$scope fleet timer: Persistent=true"
	assert_eq timers.target "$(unit_value "$timer" WantedBy)" "$scope fleet timer: WantedBy=timers.target"
done
svc=$IMSS_SYSTEMD_UNITS/system/imss-renew-fleet.service
assert_eq "pin:%E/imss-renew/credentials/pin idse-password:%E/imss-renew/credentials/idse-password" \
	"$(sed -n 's/^LoadCredential=//p' "$svc" | xargs)" "system fleet: the PIN and password as credentials"
for src in "--pin-source cred:pin" "--idse-password-source cred:idse-password"; do
	assert_contains "$(unit_value "$svc" ExecStart)" "$src" "system fleet: $src"
done
! grep -qE 'file:|env:' <<<"$(unit_value "$svc" ExecStart)" ||
	die "system fleet: a secret from a file or variable"
printf 'ok: system fleet: no secret from a file or a variable
'

# What the system fleet unit gives the tool: $CREDENTIALS_DIRECTORY with
# the credentials, read through cred:NAME (here by check's --pin-source).
if [[ -n ${SOFTHSM2_MODULE:-} && -n ${MAKE_TOKEN:-} ]] && command -v softhsm2-util >/dev/null; then
	out=$(IMSS_USER_PIN=87654321 IMSS_SO_PIN=12345678 "$MAKE_TOKEN" --dir "$T/softhsm" \
		--label CRED --init-tool "$SOFTHSM_TOKEN_INIT" --module "$SOFTHSM2_MODULE") || die "no token"
	eval "$out"
	mkdir -m 700 "$T/creds"
	printf '87654321\n' >"$T/creds/pin"
	rc=0
	CREDENTIALS_DIRECTORY=$T/creds "$IMSS_RENEW" --module "$SOFTHSM2_MODULE" status \
		--token "$IMSS_TOKEN_URI" --pin-source cred:pin >"$T/out" 2>&1 || rc=$?
	assert_eq 0 "$rc" "cred:pin: the PIN read from \$CREDENTIALS_DIRECTORY/pin logs in"
	rc=0
	env -u CREDENTIALS_DIRECTORY "$IMSS_RENEW" --module "$SOFTHSM2_MODULE" status \
		--token "$IMSS_TOKEN_URI" --pin-source cred:pin >"$T/out" 2>&1 || rc=$?
	assert_eq 1 "$rc" "cred:pin without \$CREDENTIALS_DIRECTORY: exit 1"
	assert_contains "$(<"$T/out")" "CREDENTIALS_DIRECTORY is not set" "cred:pin unset: says why"
	rc=0
	CREDENTIALS_DIRECTORY=$T/creds "$IMSS_RENEW" --module "$SOFTHSM2_MODULE" status \
		--token "$IMSS_TOKEN_URI" --pin-source cred:idse-password >"$T/out" 2>&1 || rc=$?
	assert_eq 1 "$rc" "cred: a missing credential: exit 1"
	assert_contains "$(<"$T/out")" "$T/creds/idse-password: No such file" "cred: a missing credential: says which"
	rc=0
	"$IMSS_RENEW" --module "$SOFTHSM2_MODULE" status --token "$IMSS_TOKEN_URI" \
		--pin-source cred:../pin >"$T/out" 2>&1 || rc=$?
	assert_eq 2 "$rc" "cred:../pin: a usage error"
fi

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
