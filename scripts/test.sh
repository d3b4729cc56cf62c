#!/usr/bin/env bash
# Build imss-renew and run its tests.
#
#   scripts/test.sh [--sanitize] [-R REGEX]
#
#   --sanitize  build with ASan+UBSan into build-sanitize/ (SANITIZE_BUILD_DIR)
#   -R REGEX    run only the tests matching REGEX (passed to ctest)
#
# The normal build goes to build/ (BUILD_DIR).  With CI=true both the normal
# and the sanitizer build are tested, after scripts/format.sh --check (a
# file that differs from .clang-format fails the run), then every fuzz
# target runs briefly (scripts/fuzz.sh, FUZZ_SECONDS each, default 20).
# Missing Debian packages are installed when run as root; otherwise the
# script names them and stops.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

# The package list and imss_install_packages.
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$root/scripts/lib.sh"

die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

sanitize=0
ctest_args=(--output-on-failure)
while (($#)); do
	case $1 in
	--sanitize) sanitize=1; shift ;;
	-R) (($# >= 2)) || die "-R needs a regex"; ctest_args+=(-R "$2"); shift 2 ;;
	-h | --help) sed -n '2,/^set -e/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) die "unknown argument: $1 (try --help)" ;;
	esac
done

# run_suite BUILD_DIR SANITIZE(ON|OFF): configure, build and ctest.
run_suite() {
	local dir=$1 san=$2
	echo "== $dir (IMSS_SANITIZE=$san)"
	cmake -S "$root" -B "$dir" -DIMSS_SANITIZE="$san" || return
	cmake --build "$dir" --parallel "$(nproc)" || return
	(
		cd "$dir" || exit
		if [[ $san == ON ]]; then
			export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
			export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
		fi
		ctest "${ctest_args[@]}"
	)
}

imss_install_packages test.sh || exit
imss_spanish_locale test.sh
build=${BUILD_DIR:-$root/build}
build_san=${SANITIZE_BUILD_DIR:-$root/build-sanitize}
status=0
if [[ ${CI:-} == true ]]; then
	"$root/scripts/format.sh" --check || status=1
	run_suite "$build" OFF || status=1
	run_suite "$build_san" ON || status=1
	echo "== fuzz (${FUZZ_SECONDS:-20} s per target)"
	"$root/scripts/fuzz.sh" "${FUZZ_SECONDS:-20}" || status=1
elif ((sanitize)); then
	run_suite "$build_san" ON || status=1
else
	run_suite "$build" OFF || status=1
fi
exit "$status"
