#!/usr/bin/env bash
# `cmake --install` of the build tree into a staging directory (DESTDIR)
# puts in place: the tool and the service, the library with its header
# and imss-renew.pc (a program built with `pkg-config --cflags --libs
# imss-renew` links and runs), the systemd units (ExecStart= the installed
# tool), the man pages (they render with `man -l` and `man NAME` finds
# them; imss-renew(1) documents every command), the bash completion (it
# completes every command and option --help shows), and the udev rules
# only when configured with -DUDEV_RULES_DIR=.  The installed tool and
# service answer --version and --help for every command.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/install-lib.sh
. "$TESTS_DIR/install/install-lib.sh"
: "${IMSS_BUILD_DIR:?IMSS_BUILD_DIR is not set (run the test through ctest)}"
t_tmpdir
D=$T/root

DESTDIR=$D "$CMAKE_COMMAND" --install "$IMSS_BUILD_DIR" >"$T/install.log" ||
	die "cmake --install failed: $(<"$T/install.log")"
bin=$D$IMSS_INSTALL_BINDIR lib=$D$IMSS_INSTALL_LIBDIR
export LD_LIBRARY_PATH=$lib

for f in "$bin/imss-renew" "$D$IMSS_INSTALL_SBINDIR/imss-renew-service"; do
	[[ -x $f ]] || die "not installed: $f"
done
for f in "$lib/libimss-renew.so.0" "$lib/libimss-renew.so" \
	"$D$IMSS_INSTALL_INCLUDEDIR/imss-renew/imss-renew.h" "$lib/pkgconfig/imss-renew.pc" \
	"$D$IMSS_INSTALL_USER_UNITS/imss-renew-check.service" "$D$IMSS_INSTALL_USER_UNITS/imss-renew-check.timer" \
	"$D$IMSS_INSTALL_SYSTEM_UNITS/imss-renew-check.service" "$D$IMSS_INSTALL_SYSTEM_UNITS/imss-renew-check.timer" \
	"$D$IMSS_INSTALL_USER_UNITS/imss-renew-fleet.service" "$D$IMSS_INSTALL_USER_UNITS/imss-renew-fleet.timer" \
	"$D$IMSS_INSTALL_SYSTEM_UNITS/imss-renew-fleet.service" "$D$IMSS_INSTALL_SYSTEM_UNITS/imss-renew-fleet.timer" \
	"$D$IMSS_INSTALL_MANDIR/man1/imss-renew.1.gz" "$D$IMSS_INSTALL_MANDIR/man8/imss-renew-service.8.gz" \
	"$D$IMSS_INSTALL_COMPLETION/imss-renew"; do
	[[ -e $f ]] || die "not installed: $f"
done
printf 'ok: the tool, the service, the library, header, pkg-config file, units, man pages, completion\n'
if [[ -n $IMSS_INSTALL_UDEV ]]; then
	[[ -f $D$IMSS_INSTALL_UDEV/70-imss-renew.rules ]] || die "udev rules not installed"
	printf 'ok: udev rules installed to %s\n' "$IMSS_INSTALL_UDEV"
else
	! grep -q '\.rules$' "$IMSS_BUILD_DIR/install_manifest.txt" ||
		die "udev rules installed without -DUDEV_RULES_DIR"
	printf 'ok: no udev rules without -DUDEV_RULES_DIR\n'
fi
for scope in "$IMSS_INSTALL_USER_UNITS" "$IMSS_INSTALL_SYSTEM_UNITS"; do
	assert_eq "$IMSS_INSTALL_BINDIR/imss-renew check \$IMSS_RENEW_CHECK_ARGS" \
		"$(sed -n 's/^ExecStart=//p' "$D$scope/imss-renew-check.service")" "$scope: ExecStart= the installed tool"
	assert_contains "$(sed -n 's/^ExecStart=//p' "$D$scope/imss-renew-fleet.service")" \
		"$IMSS_INSTALL_BINDIR/imss-renew fleet renew --due 30 " "$scope: the fleet unit runs the installed tool"
done

# The programs.
check_commands_help "$bin/imss-renew" imss-renew
check_commands_help "$D$IMSS_INSTALL_SBINDIR/imss-renew-service" imss-renew-service

# The library through pkg-config.
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$D
assert_eq "$IMSS_VERSION" "$(pkg-config --modversion imss-renew)" "pkg-config --modversion"
cat >"$T/version.c" <<'C'
#include <stdio.h>
#include <imss-renew/imss-renew.h>

int main(void)
{
	puts(imss_version());
	return imss_strerror(IMSS_ERR_NOMEM) ? 0 : 1;
}
C
# A sanitizer build's library needs the program built the same way.
san=()
[[ ${IMSS_SANITIZE:-OFF} != ON ]] || san=(-fsanitize=address,undefined)
# shellcheck disable=SC2046 # pkg-config's words
"${CC:-cc}" -std=c11 -Wall -Werror "${san[@]}" -o "$T/version" "$T/version.c" \
	$(pkg-config --cflags --libs imss-renew) || die "cannot build against imss-renew.pc"
assert_eq "$IMSS_VERSION" "$("$T/version")" "a program built with imss-renew.pc runs"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

# The man pages, by file and by name.
check_man_tool "$D$IMSS_INSTALL_MANDIR/man1/imss-renew.1.gz" "$bin/imss-renew"
check_man "$D$IMSS_INSTALL_MANDIR/man8/imss-renew-service.8.gz" imss-renew-service
for page in 1:imss-renew 8:imss-renew-service; do
	set -- "${page%%:*}" "${page#*:}"
	assert_eq "$D$IMSS_INSTALL_MANDIR/man$1/$2.$1.gz" \
		"$(MANPATH=$D$IMSS_INSTALL_MANDIR man -w "$1" "$2" 2>/dev/null)" "man -w $1 $2 finds it"
	MANPATH=$D$IMSS_INSTALL_MANDIR MANPAGER=cat MANWIDTH=80 man "$1" "$2" 2>/dev/null |
		grep -q "^NAME" || die "man $1 $2 shows nothing"
done

# The completion.
check_completion "$D$IMSS_INSTALL_COMPLETION/imss-renew" "$bin/imss-renew"

echo "PASS: $T_NAME"
