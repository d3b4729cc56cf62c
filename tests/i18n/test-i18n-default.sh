#!/usr/bin/env bash
# Spanish out of the box: the tool the README's commands build
# (build/src/tool/imss-renew) finds its catalogue with no environment
# variable naming it (IMSS_RENEW_LOCALEDIR unset), and so does a copy of
# the tree installed under another prefix (the catalogue beside its bin/).
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
: "${IMSS_BUILD_LOCALEDIR:?IMSS_BUILD_LOCALEDIR is not set (run the test through ctest)}"
t_tmpdir
unset IMSS_RENEW_LOCALEDIR
if locale -a 2>/dev/null | grep -qix 'es_MX\.utf-\{0,1\}8'; then
	ES=(env LANG=es_MX.UTF-8 LC_ALL=es_MX.UTF-8 LANGUAGE=)
else
	echo "note: no es_MX.UTF-8 locale on this system; using C.UTF-8 with LANGUAGE=es"
	ES=(env LANG=es_MX.UTF-8 LC_ALL=C.UTF-8 LANGUAGE=es)
fi
printf 'not a certificate\n' >"$T/x.cer"

# spanish WHAT TOOL: `check --cert` of a file that is no certificate, in
# Spanish.
spanish() {
	local rc=0
	"${ES[@]}" "$2" check --cert "$T/x.cer" >"$T/out" 2>"$T/err" || rc=$?
	assert_eq 1 "$rc" "$1: exit status"
	assert_contains "$(<"$T/err")" "no contiene ningún certificado" "$1: the message in Spanish"
	assert_contains "$(<"$T/err")" "El archivo no tiene el formato esperado" "$1: the headline in Spanish"
}

spanish "the build tree's tool" "$IMSS_RENEW"
# An installed tree elsewhere: bin/ and the catalogue where the install
# puts it relative to bin/ (share/locale).
mkdir -p "$T/prefix/bin" "$T/prefix/share/locale/es/LC_MESSAGES"
cp "$IMSS_RENEW" "$T/prefix/bin/imss-renew"
cp "$IMSS_BUILD_LOCALEDIR/es/LC_MESSAGES/imss-renew.mo" "$T/prefix/share/locale/es/LC_MESSAGES/"
spanish "a tree installed under another prefix" "$T/prefix/bin/imss-renew"
