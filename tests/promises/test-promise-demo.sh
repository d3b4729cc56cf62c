#!/usr/bin/env bash
# README, "Two commands": scripts/demo.sh runs a whole renewal end to end
# (the seven steps shown as they happen, the new certificate on the token,
# the copy on disk verified with `openssl verify`), "stops every process it
# started, removes the directory (unless KEEP=1) and exits non-zero if any
# step failed".
#  - a run on this build tree: exit 0, each of the seven step headers, the
#    copy identical to the token's and `openssl verify` OK, the service
#    stopped, its throwaway directory gone;
#  - a run where one step fails (a `jq` on the PATH that always fails):
#    exit non-zero with the step named, the service stopped, and with KEEP=1
#    the directory kept.
# Skipped (77) on a sanitizer build tree (the demo configures its build
# directory with IMSS_SANITIZE=OFF) and when packages are missing and the
# test is not root (the demo then names them and stops, as promised).
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${PROJECT_SOURCE_DIR:?PROJECT_SOURCE_DIR is not set (run the test through ctest)}"
: "${PROJECT_BINARY_DIR:?PROJECT_BINARY_DIR is not set (run the test through ctest)}"
grep -q '^IMSS_SANITIZE:BOOL=ON' "$PROJECT_BINARY_DIR/CMakeCache.txt" 2>/dev/null &&
	{ echo "a sanitizer build tree: the demo would reconfigure it; skipped" >&2; exit 77; }
t_tmpdir
# The demo's own environment: nothing of the test's SoftHSM or locale.
demo() {
	env -u SOFTHSM2_CONF -u LANGUAGE LC_ALL=C.UTF-8 TMPDIR="$T" BUILD_DIR="$PROJECT_BINARY_DIR" \
		"$@" bash "$PROJECT_SOURCE_DIR/scripts/demo.sh" </dev/null
}

# service_pid FILE: the service's PID the demo printed.
service_pid() { sed -n 's/.*(pid \([0-9]*\)), CA: .*/\1/p' "$1" | head -n1; }

# === a whole renewal ============================================================
rc=0
demo >"$T/demo.out" 2>"$T/demo.err" || rc=$?
if [[ $rc != 0 ]] && grep -q 'missing packages' "$T/demo.err"; then
	echo "the demo needs packages it may not install here: $(<"$T/demo.err"); skipped" >&2
	exit 77
fi
[[ $rc == 0 ]] || { cat "$T/demo.out" "$T/demo.err" >&2; die "demo.sh exited $rc"; }
echo "ok: demo.sh exited 0"
for step in 1 2 3 4 5 6 7; do
	grep -q "^--- Paso $step/7: " "$T/demo.out" || die "demo.sh: no header for step $step"
done
echo "ok: demo.sh: a header for each of the seven steps"
grep -q 'la copia es idéntica al certificado del token' "$T/demo.out" ||
	die "demo.sh: the copy was not compared with the token's certificate"
grep -Eq '^(.*/)?out/certificado-Y1234567108-[0-9A-F]+\.cer: OK$' "$T/demo.out" ||
	die "demo.sh: no 'openssl verify' OK for the copy"
echo "ok: demo.sh: the copy is the token's certificate and openssl verify accepts it"
pid=$(service_pid "$T/demo.out")
[[ -n $pid ]] || die "demo.sh: no service PID in its output"
! kill -0 "$pid" 2>/dev/null || die "demo.sh: its service ($pid) is still running"
echo "ok: demo.sh: its service ($pid) was stopped"
left=$(find "$T" -maxdepth 1 -name 'imss-demo.*')
assert_eq "" "$left" "demo.sh: its throwaway directory is removed"

# === a step fails ===============================================================
mkdir -p "$T/bin"
printf '#!/bin/sh\nexit 1\n' >"$T/bin/jq"
chmod +x "$T/bin/jq"
rc=0
demo KEEP=1 PATH="$T/bin:$PATH" >"$T/fail.out" 2>"$T/fail.err" || rc=$?
[[ $rc != 0 ]] || die "demo.sh with a failing step exited 0"
assert_contains "$(<"$T/fail.err")" "FAILED" "demo.sh, a step fails: it says so"
printf 'ok: demo.sh, a step fails: exit %s: %s\n' "$rc" "$(grep FAILED "$T/fail.err")"
pid=$(service_pid "$T/fail.out")
[[ -n $pid ]] || die "demo.sh, a step fails: no service PID in its output"
! kill -0 "$pid" 2>/dev/null || die "demo.sh, a step fails: its service ($pid) is still running"
echo "ok: demo.sh, a step fails: its service ($pid) was stopped"
left=$(find "$T" -maxdepth 1 -name 'imss-demo.*')
[[ -n $left && -d $left/svc ]] || die "demo.sh, a step fails, KEEP=1: the directory is not kept"
echo "ok: demo.sh, KEEP=1: the directory is kept ($left)"

echo "$T_NAME: all passed"
