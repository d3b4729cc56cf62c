#!/usr/bin/env bash
# Build the libFuzzer targets of fuzz/ and run each for a while.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
#   SECONDS  how long each target runs (default 60)
#   TARGET   e.g. journal or fuzz-journal (default: every target)
#
# Builds with clang into build-fuzz/ (FUZZ_BUILD_DIR), runs each target on
# a copy of its seed corpus fuzz/corpus/NAME/ (the committed corpus never
# grows), and prints one line per target: executions, executions per
# second, coverage (edges of our code) and crashes.  A crash, leak or
# timeout keeps its input in build-fuzz/artifacts/ and the whole output in
# build-fuzz/logs/NAME.log; the script then exits non-zero.  Missing Debian
# packages (clang among them) are installed when run as root.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$root/scripts/lib.sh"

die() { printf 'fuzz.sh: %s\n' "$*" >&2; exit 1; }

case ${1:-} in
-h | --help) sed -n '2,/^set -e/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
esac
seconds=60
if (($#)) && [[ $1 =~ ^[0-9]+$ ]]; then
	seconds=$1
	shift
fi
((seconds > 0)) || die "SECONDS must be positive"

IMSS_PACKAGES+=("${IMSS_FUZZ_PACKAGES[@]}")
imss_install_packages fuzz.sh || exit
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
CC=clang cmake -S "$root" -B "$build" -DIMSS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --parallel "$(nproc)" >/dev/null || die "the build failed (run: cmake --build $build)"

targets=()
if (($#)); then
	for t in "$@"; do
		t=${t#fuzz-}
		[[ -x $build/fuzz/fuzz-$t ]] || die "no target fuzz-$t (see fuzz/)"
		targets+=("$t")
	done
else
	for f in "$root"/fuzz/fuzz-*.c; do
		t=${f##*/fuzz-}
		targets+=("${t%.c}")
	done
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/imss-fuzz.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
mkdir -p "$build/artifacts" "$build/logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# stat LOG NAME: libFuzzer's final stat NAME (-print_final_stats).
stat() { sed -n "s/^stat::$2: *//p" "$1" | tail -n 1; }

status=0
total=0
for t in "${targets[@]}"; do
	log=$build/logs/$t.log
	corpus=$work/$t
	mkdir -p "$corpus"
	if [[ -d $root/fuzz/corpus/$t ]]; then
		cp -R "$root/fuzz/corpus/$t/." "$corpus/"
	fi
	rc=0
	"$build/fuzz/fuzz-$t" -max_total_time="$seconds" -timeout=10 -close_fd_mask=3 \
		-print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" "$corpus" \
		>"$log" 2>&1 || rc=$?
	runs=$(stat "$log" number_of_executed_units)
	speed=$(stat "$log" average_exec_per_sec)
	cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' "$log" | tail -n 1)
	crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | head -n 1)
	if ((rc != 0)); then
		status=1
		printf 'fuzz-%-16s CRASH after %s runs: input %s, log %s\n' "$t" "${runs:-?}" \
			"${crash:-(none written)}" "$log"
		grep -m 3 -E '^(==[0-9]+==ERROR|SUMMARY|fuzz: invariant)' "$log" | sed 's/^/    /' || true
		continue
	fi
	total=$((total + ${runs:-0}))
	printf 'fuzz-%-16s %10s runs %8s exec/s  cov %5s  0 crashes\n' "$t" "${runs:-?}" \
		"${speed:-?}" "${cov:-?}"
done
printf 'fuzz.sh: %d targets, %s s each, %d runs in all%s\n' "${#targets[@]}" "$seconds" \
	"$total" "$( ((status)) && echo ', CRASHES (see above)')"
exit "$status"
