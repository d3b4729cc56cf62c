#!/usr/bin/env bash
# README, "Two commands": scripts/demo.sh and scripts/test.sh "install the
# Debian packages that are missing (apt-get, the list is in
# scripts/lib.sh) ... Run as another user, they name the missing packages,
# if any, and stop."  With a dpkg-query that reports two packages of the
# list missing and an apt-get that only records its arguments (both first
# on the PATH):
#  - scripts/test.sh and scripts/demo.sh run as another user (nobody) name
#    exactly those packages, exit non-zero, run no apt-get and build
#    nothing;
#  - as root, the packages' check installs exactly the missing ones
#    (apt-get update, then install); with none missing, no apt-get at all.
# Skipped (77) when not root (no other user to become) or without runuser.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${PROJECT_SOURCE_DIR:?PROJECT_SOURCE_DIR is not set (run the test through ctest)}"
((EUID == 0)) || { echo "not root: skipped" >&2; exit 77; }
command -v runuser >/dev/null || { echo "runuser is missing: skipped" >&2; exit 77; }
id nobody >/dev/null 2>&1 || { echo "no user nobody: skipped" >&2; exit 77; }
t_tmpdir
chmod 755 "$T"
mkdir -p "$T/bin" "$T/build"
chmod 777 "$T/build"
# dpkg-query -W -f=... PACKAGE: "installed" but for the names in $MISSING.
cat >"$T/bin/dpkg-query" <<'EOF'
#!/usr/bin/env bash
for p; do :; done
if [[ " $MISSING " == *" $p "* ]]; then printf 'unknown ok not-installed'; exit 1; fi
printf 'install ok installed'
EOF
cat >"$T/bin/apt-get" <<EOF
#!/usr/bin/env bash
printf '%s\n' "\$*" >>"$T/apt.log"
EOF
chmod 755 "$T/bin/dpkg-query" "$T/bin/apt-get"
missing='jq scdoc'

# === as another user: name them and stop =======================================
for script in test.sh demo.sh; do
	rc=0
	runuser -u nobody -- env PATH="$T/bin:$PATH" MISSING="$missing" HOME="$T/build" \
		BUILD_DIR="$T/build/b" TMPDIR="$T/build" \
		bash "$PROJECT_SOURCE_DIR/scripts/$script" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	[[ $rc != 0 ]] || die "$script as nobody with packages missing: exit 0"
	assert_contains "$(<"$T/err")" "missing packages (install them as root): $missing" \
		"$script as another user: names the missing packages"
	[[ ! -e $T/apt.log ]] || die "$script as another user ran apt-get: $(<"$T/apt.log")"
	[[ ! -e $T/build/b ]] || die "$script as another user went on to build"
	echo "ok: $script as another user: exit $rc, no apt-get, no build"
done

# === as root: install exactly the missing ones =================================
rc=0
PATH="$T/bin:$PATH" MISSING="$missing" bash -c '. "$1/scripts/lib.sh"; imss_install_packages test.sh' \
	_ "$PROJECT_SOURCE_DIR" >"$T/out" 2>"$T/err" || rc=$?
assert_eq 0 "$rc" "as root: the check succeeds"
assert_eq "update
install -y --no-install-recommends $missing" "$(<"$T/apt.log")" "as root: apt-get installs exactly the missing packages"
rm -f "$T/apt.log"
PATH="$T/bin:$PATH" MISSING='' bash -c '. "$1/scripts/lib.sh"; imss_install_packages test.sh' \
	_ "$PROJECT_SOURCE_DIR" >"$T/out" 2>"$T/err" || die "as root, nothing missing: the check failed"
[[ ! -e $T/apt.log ]] || die "as root, nothing missing: apt-get ran: $(<"$T/apt.log")"
echo "ok: as root, nothing missing: no apt-get"

echo "$T_NAME: all passed"
