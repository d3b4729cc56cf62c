#!/usr/bin/env bash
# Review 4, finding: the output directory was judged by its mode bits
# alone, not by its owner.  A directory another user made (755, or 1777:
# the owner of a sticky directory may still rename and delete what others
# put in it), given as --out-dir to a renewal run by root (the system
# fleet unit, or sudo), received the terms letter and the certificate copy
# where that user could replace them.  Now an output directory must belong
# to the user or to root; one of another user's is refused before
# anything is done, and the renewal succeeds once it is the user's.
# Needs root (chown).
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root (chown)" >&2; exit 77; }
id nobody >/dev/null 2>&1 || { echo "SKIP: no user nobody" >&2; exit 77; }

svc_init
svc_start
case_new c1 pfx
chmod 711 "$T" "$C" # the service's files stay root's; nobody only passes through
for mode in 755 1777; do
	chown nobody "$C/out"
	chmod "$mode" "$C/out"
	rc=0
	renew_run >"$C/out.txt" || rc=$?
	[[ $rc != 0 ]] || die "an output directory of user nobody (mode $mode) was accepted"
	assert_contains "$(<"$C/err")" "$C/out" "mode $mode: the message names the directory"
	assert_contains "$(<"$C/err")" "nobody" "mode $mode: the message names its owner"
	assert_eq 0 "$(grep -c '^C_GenerateKeyPair ' "$C/calls.log" || :)" "mode $mode: no key generated"
	[[ -z $(ls -A "$C/out") ]] || die "mode $mode: something was written to $C/out: $(ls -A "$C/out")"
done
chown root "$C/out"
chmod 755 "$C/out"
renew_run >"$C/out.txt" || die "the user's own output directory: renew failed: $(<"$C/err")"
echo "PASS"
