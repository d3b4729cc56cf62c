#!/usr/bin/env bash
# Review 4, finding: `check` (and every reader of certificate, key and
# .pfx files) read a file whole, without a limit: `--cert /dev/zero`, or a
# symbolic link to /dev/zero named x.cer in a --cert directory, ate memory
# until the kernel stopped the process, and a FIFO named x.pem there
# blocked the daily check for ever.  Now a file over 8 MiB is refused, and
# a directory entry that is not a regular file is refused by name; the
# check ends (exit 1) in seconds.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
t_need openssl timeout mkfifo
t_tmpdir

mkdir "$T/certs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k.pem" \
	-out "$T/certs/empresa.pem" -days 400 -subj "/O=EMPRESA SA/OU=Y1234567108/CN=EMPRESA SA" \
	-addext basicConstraints=critical,CA:FALSE >/dev/null 2>&1 || die "openssl req"

# AddressSanitizer reserves terabytes of address space for its shadow: the
# sanitizer build runs bounded in time only (the 8 MiB refusal is asserted
# all the same; the normal build also bounds the memory).
vmem=1000000
! ldd "$IMSS_RENEW" 2>/dev/null | grep -q libasan || vmem=unlimited
# run WHAT ARGS...: check, bounded in time and memory; sets rc and $T/err.
run() {
	local what=$1
	shift
	rc=0
	(ulimit -v "$vmem" && timeout 60 "$IMSS_RENEW" check "$@") >"$T/out" 2>"$T/err" || rc=$?
	[[ $rc != 124 ]] || die "$what: check still runs after 60 s"
	assert_eq 1 "$rc" "$what: check exits 1"
}

run "--cert /dev/zero" --cert /dev/zero
grep -q 'larger than 8 MiB' "$T/err" || die "--cert /dev/zero: no reason given: $(cat "$T/err")"

ln -s /dev/zero "$T/certs/zz.cer"
run "a link to /dev/zero in the directory" --cert "$T/certs"
grep -q "zz.cer' is not a regular file" "$T/err" || die "link to /dev/zero: no reason given: $(cat "$T/err")"
rm "$T/certs/zz.cer"

mkfifo "$T/certs/fifo.pem"
run "a FIFO in the directory" --cert "$T/certs"
grep -q "fifo.pem' is not a regular file" "$T/err" || die "FIFO: no reason given: $(cat "$T/err")"
rm "$T/certs/fifo.pem"

rc=0
"$IMSS_RENEW" check --cert "$T/certs" >"$T/out" 2>"$T/err" || rc=$?
assert_eq 0 "$rc" "the directory without them: checked (exit 0)"
echo "PASS"
