#!/usr/bin/env bash
# The Debian package: configured for /usr (with the udev rules) in its own
# tree under this build tree, built, and packed with `cpack -G DEB`.  Its
# control data: name, version, architecture, dependencies found from the
# shared libraries (libc6, libssl3, libp11-kit0, ... each satisfied on this
# machine), no conffiles.  Installed with `dpkg --root` into a throwaway
# root (maintainer scripts run outside the root, their ldconfig replaced
# by a stub that records the call): the tool answers --version, the man
# pages render with `man -l`, the completion, units and udev rules are in
# place; `dpkg -r` then leaves nothing but dpkg's own database, and
# `dpkg -P` forgets the package.  With CI=true it is also installed into
# this system with `dpkg -i` (`imss-renew` on the PATH, `man imss-renew`)
# and removed again, every file of it gone; skipped when a package of that
# name is installed already.  Skipped (77) when not root, or without
# dpkg-deb or dpkg-shlibdeps.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/install-lib.sh
. "$TESTS_DIR/install/install-lib.sh"
: "${IMSS_PACKAGE_BUILD_DIR:?IMSS_PACKAGE_BUILD_DIR is not set (run the test through ctest)}"
((EUID == 0)) || { echo "SKIP: dpkg installs need root"; exit 77; }
t_need dpkg dpkg-deb dpkg-shlibdeps man
t_tmpdir
arch=$(dpkg --print-architecture)
B=$IMSS_PACKAGE_BUILD_DIR

# Build and pack.
start=$SECONDS
"$CMAKE_COMMAND" -S "$IMSS_SOURCE_DIR" -B "$B" -DCMAKE_INSTALL_PREFIX=/usr \
	-DUDEV_RULES_DIR=/usr/lib/udev/rules.d -DBUILD_TESTING=OFF -DIMSS_SANITIZE=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >"$T/configure.log" 2>&1 ||
	die "configure failed: $(tail -n 20 "$T/configure.log")"
"$CMAKE_COMMAND" --build "$B" --parallel "$(nproc)" >"$T/build.log" 2>&1 ||
	die "build failed: $(tail -n 30 "$T/build.log")"
rm -f "$B"/imss-renew_*.deb
(cd "$B" && "$CPACK_COMMAND" -G DEB) >"$T/cpack.log" 2>&1 ||
	die "cpack failed: $(tail -n 30 "$T/cpack.log")"
deb=$B/imss-renew_${IMSS_VERSION}_$arch.deb
[[ -f $deb ]] || die "no $deb: $(tail -n 5 "$T/cpack.log")"
printf 'ok: %s built in %d s\n' "$(basename "$deb")" $((SECONDS - start))

# Control data.
field() { dpkg-deb -f "$deb" "$1"; }
assert_eq "imss-renew|$IMSS_VERSION|$arch" "$(field Package)|$(field Version)|$(field Architecture)" \
	"package name, version, architecture"
depends=$(field Depends)
for lib in libc6 libssl3 libp11-kit0 libcurl4 libjson-c5; do
	[[ ", $depends" == *", $lib "* ]] || die "Depends lacks $lib: $depends"
done
IFS=',' read -ra deps <<<"$depends"
for dep in "${deps[@]}"; do
	[[ $dep =~ ^\ *([a-z0-9.+-]+)(\ \((<<|<=|=|>=|>>)\ ([^\)]+)\))?\ *$ ]] ||
		die "cannot read the dependency '$dep'"
	name=${BASH_REMATCH[1]} op=${BASH_REMATCH[3]} version=${BASH_REMATCH[4]}
	have=$(dpkg-query -W -f='${Version}' "$name" 2>/dev/null) ||
		die "dependency $name is not installed here"
	[[ -z $op ]] || dpkg --compare-versions "$have" "$op" "$version" ||
		die "dependency $dep: $name $have here"
done
printf 'ok: Depends from the shared libraries, each satisfied here: %s\n' "$depends"
dpkg-deb --ctrl-tarfile "$deb" | tar -t >"$T/control-files"
! grep -q conffiles "$T/control-files" || die "the package has conffiles"
printf 'ok: no conffiles\n'
dpkg-deb -c "$deb" | awk '{ print substr($6, 2) }' | grep -v '/$' | sed 's/ ->.*//' >"$T/files"
for f in /usr/bin/imss-renew /usr/sbin/imss-renew-service /usr/include/imss-renew/imss-renew.h \
	/usr/lib/systemd/user/imss-renew-check.service /usr/lib/systemd/user/imss-renew-check.timer \
	/usr/lib/systemd/system/imss-renew-check.service /usr/lib/systemd/system/imss-renew-check.timer \
	/usr/lib/systemd/user/imss-renew-fleet.service /usr/lib/systemd/user/imss-renew-fleet.timer \
	/usr/lib/systemd/system/imss-renew-fleet.service /usr/lib/systemd/system/imss-renew-fleet.timer \
	/usr/lib/udev/rules.d/70-imss-renew.rules /usr/share/man/man1/imss-renew.1.gz \
	/usr/share/man/man8/imss-renew-service.8.gz /usr/share/bash-completion/completions/imss-renew; do
	grep -qxF "$f" "$T/files" || die "the package lacks $f"
done
grep -qE '^/usr/lib/([^/]+/)?libimss-renew\.so\.0$' "$T/files" || die "the package lacks the library"
grep -qE '^/usr/lib/([^/]+/)?pkgconfig/imss-renew\.pc$' "$T/files" || die "the package lacks imss-renew.pc"
printf 'ok: the package holds the tool, service, library, header, .pc, units, rules, man pages, completion\n'

# A throwaway root.  Maintainer scripts run outside it (the root has no
# shell); they only call ldconfig, replaced by a stub.
R=$T/dpkg-root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers" "$T/stub"
: >"$R/var/lib/dpkg/status"
: >"$R/var/lib/dpkg/available"
printf '#!/bin/sh\necho "ldconfig $*" >>"%s/ldconfig.log"\n' "$T" >"$T/stub/ldconfig"
chmod +x "$T/stub/ldconfig"
tdpkg() { PATH=$T/stub:$PATH dpkg --root="$R" --force-script-chrootless "$@"; }
tdpkg --force-depends -i "$deb" >"$T/dpkg.log" 2>&1 || die "dpkg --root -i failed: $(<"$T/dpkg.log")"
assert_eq "install ok installed" "$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status}' imss-renew)" \
	"dpkg --root -i: installed in the throwaway root"
assert_eq 1 "$(grep -c ldconfig "$T/ldconfig.log")" "postinst ran ldconfig"
libdir=$(dirname "$R$(grep -m1 -E '/libimss-renew\.so\.0$' "$T/files")")
assert_eq "imss-renew $IMSS_VERSION" "$(LD_LIBRARY_PATH=$libdir "$R/usr/bin/imss-renew" --version)" \
	"the installed imss-renew --version"
assert_eq "imss-renew-service $IMSS_VERSION" \
	"$(LD_LIBRARY_PATH=$libdir "$R/usr/sbin/imss-renew-service" --version)" \
	"the installed imss-renew-service --version"
check_man_tool "$R/usr/share/man/man1/imss-renew.1.gz" "$R/usr/bin/imss-renew"
check_man "$R/usr/share/man/man8/imss-renew-service.8.gz" imss-renew-service
[[ -f $R/usr/share/bash-completion/completions/imss-renew ]] || die "no completion file"
bash -n "$R/usr/share/bash-completion/completions/imss-renew" || die "the completion is not valid bash"
printf 'ok: the completion file is there\n'
for scope in user system; do
	assert_eq "/usr/bin/imss-renew check \$IMSS_RENEW_CHECK_ARGS" \
		"$(sed -n 's/^ExecStart=//p' "$R/usr/lib/systemd/$scope/imss-renew-check.service")" \
		"$scope unit: ExecStart= /usr/bin/imss-renew"
done
cmp -s "$R/usr/lib/udev/rules.d/70-imss-renew.rules" "$IMSS_SOURCE_DIR/udev/70-imss-renew.rules" ||
	die "the installed udev rules differ from udev/70-imss-renew.rules"

# Removal: nothing left but dpkg's database.
tdpkg -r imss-renew >"$T/dpkg.log" 2>&1 || die "dpkg --root -r failed: $(<"$T/dpkg.log")"
left=$(cd "$R" && find . -mindepth 1 ! -path './var' ! -path './var/lib' ! -path './var/lib/dpkg' \
	! -path './var/lib/dpkg/*')
assert_eq "" "$left" "dpkg -r: nothing left in the root"
assert_eq 2 "$(grep -c ldconfig "$T/ldconfig.log")" "postrm ran ldconfig"
tdpkg -P imss-renew >"$T/dpkg.log" 2>&1 || die "dpkg --root -P failed: $(<"$T/dpkg.log")"
[[ -z $(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status}' imss-renew 2>/dev/null) ]] ||
	die "dpkg -P: the package is still known"
printf 'ok: dpkg -P: the package is forgotten\n'

# The real system, in CI only.
if [[ ${CI:-} != true ]]; then
	echo "note: not installed into this system (CI is not true)"
	echo "PASS: $T_NAME"
	exit 0
fi
if dpkg-query -W -f='${Status}' imss-renew 2>/dev/null | grep -q installed; then
	echo "note: a package imss-renew is installed already: not touched"
	echo "PASS: $T_NAME"
	exit 0
fi
while read -r f; do
	[[ ! -e $f ]] || die "$f exists already: not installing over it"
done <"$T/files"
trap 'dpkg -P imss-renew >/dev/null 2>&1 || true; t_cleanup' EXIT
dpkg -i "$deb" >"$T/dpkg.log" 2>&1 || die "dpkg -i failed: $(<"$T/dpkg.log")"
assert_eq "imss-renew $IMSS_VERSION" "$(PATH=/usr/bin:/bin imss-renew --version)" "dpkg -i: imss-renew on the PATH"
assert_eq /usr/share/man/man1/imss-renew.1.gz "$(man -w imss-renew)" "dpkg -i: man finds imss-renew(1)"
MANPAGER=cat MANWIDTH=80 man imss-renew 2>/dev/null | grep -q '^NAME' || die "man imss-renew shows nothing"
dpkg -r imss-renew >"$T/dpkg.log" 2>&1 || die "dpkg -r failed: $(<"$T/dpkg.log")"
while read -r f; do
	[[ ! -e $f && ! -L $f ]] || die "dpkg -r left $f"
done <"$T/files"
dpkg -P imss-renew >"$T/dpkg.log" 2>&1 || die "dpkg -P failed: $(<"$T/dpkg.log")"
trap t_cleanup EXIT
printf 'ok: dpkg -i into this system, then dpkg -r: every file gone\n'

echo "PASS: $T_NAME"
