#!/usr/bin/env bash
# The library's messages do not name the tool's options (issue 10): no
# _() or N_() string of the library (pkcs11/ and src/ but the tool, the
# service and the tests) holds "--" and a letter.  What to do next naming
# an option is the tool's to say (imss_ctx_get_next(), src/tool/hints.c).
#
#   lib-messages.sh SOURCE_DIR
set -euo pipefail

cd "${1:?usage: lib-messages.sh SOURCE_DIR}"
mapfile -d '' files < <(find pkcs11 src -name '*.c' -not -path 'src/tool/*' \
	-not -path 'src/service/*' -not -name 'test-*.c' -print0)
((${#files[@]} > 10)) || { echo "lib-messages: too few library files found" >&2; exit 1; }

# Each _("...") or N_("..."), its adjacent literals joined, as
# FILE:LINE: TEXT for those that name an option.
perl -0777 -ne '
	while (/\bN?_\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\)/g) {
		my ($lits, $at) = ($1, $-[0]);
		my $text = join "", $lits =~ /"((?:[^"\\]|\\.)*)"/g;
		next unless $text =~ /--[a-z]/;
		my $line = 1 + (substr($_, 0, $at) =~ tr/\n//);
		print "$ARGV:$line: $text\n";
	}
' "${files[@]}" >"${TMPDIR:-/tmp}/lib-messages.$$" || true
if [[ -s ${TMPDIR:-/tmp}/lib-messages.$$ ]]; then
	echo "lib-messages: these library messages name options; say it in words and set" >&2
	echo "an imss_next code with ctx_fail_next() for the tool to name the option:" >&2
	cat "${TMPDIR:-/tmp}/lib-messages.$$" >&2
	rm -f "${TMPDIR:-/tmp}/lib-messages.$$"
	exit 1
fi
rm -f "${TMPDIR:-/tmp}/lib-messages.$$"
echo "lib-messages: ${#files[@]} library files, no message names an option"
