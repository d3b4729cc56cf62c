#!/usr/bin/env bash
# A renewal writes its journal 9 times (docs/design.md, "Journal writes";
# 11 before, issue 12): each a new file, two fsync and a rename.  The
# key-generated record goes with request-built, stored with done; every
# state a write precedes an irreversible step with is still written, in
# order (renew-crash, renew-interrupt: the resumes from each).
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/lib.sh
. "$TESTS_DIR/renew/lib.sh"
t_need strace
strace -f -o /dev/null true 2>/dev/null || { echo "SKIP: strace cannot trace here" >&2; exit 77; }

svc_init
svc_start
case_new writes token
renew_args
rc=0
# LeakSanitizer cannot run under ptrace (the sanitizer build): leaks are
# checked by the other tests of the same paths.
no_leak_check
strace -f -qq -e trace=rename,renameat,renameat2 -o "$T/trace" \
	"$IMSS_RENEW" --module "$SOFTHSM" renew "${RENEW_ARGS[@]}" >"$C/out.txt" 2>"$C/err" || rc=$?
assert_eq 0 "$rc" "the renewal: $(<"$C/err")"
check_renewed "traced renewal"
writes=$(grep -c "\"$(journal)\"" "$T/trace" || :)
assert_eq 9 "$writes" "journal writes of one renewal (renames onto $(journal))"
assert_eq done "$(journal_state)" "the journal says done"
echo "ok: renew-journal-writes"
