#!/usr/bin/env bash
# README: "Messages are in Spanish under a Spanish locale (LANG=es_MX.UTF-8,
# or LANGUAGE=es) and in English otherwise.  --json output is the same in
# every language: its keys, values and messages are English"; imss-renew(1):
# "LANG, LC_ALL, LC_MESSAGES: Spanish messages under es_* locales".
#  - each of LANG=es_MX.UTF-8 (LC_ALL unset, as a user has it),
#    LC_MESSAGES=es_MX.UTF-8, LANGUAGE=es over an English LANG, and another
#    es_* locale (es_ES.UTF-8, made with localedef into the test's
#    directory) gives Spanish; LANG=C.UTF-8 gives English;
#  - a whole `renew --json` under es_MX.UTF-8, and its error when the
#    service refuses the password, are the output in English, once the
#    values that differ between two renewals (numbers, serials, IDs,
#    times) are masked alike.  (tests/i18n covers --json for the other
#    commands.)
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
: "${IMSS_RENEW_LOCALEDIR:?IMSS_RENEW_LOCALEDIR is not set (run the test through ctest)}"
locale -a 2>/dev/null | grep -qix 'es_MX\.utf-\{0,1\}8' ||
	{ echo "no es_MX.UTF-8 locale (scripts/test.sh makes it as root): skipped" >&2; exit 77; }

# in_locale VAR=VALUE... -- CMD...: CMD with no locale variable but those.
in_locale() {
	local vars=()
	while [[ $1 != -- ]]; do vars+=("$1"); shift; done
	shift
	env -u LC_ALL -u LC_MESSAGES -u LANG -u LANGUAGE "${vars[@]}" "$@"
}

# spanish WHAT VAR=VALUE...: `imss-renew --help` in that environment is Spanish.
spanish() {
	local what=$1
	shift
	in_locale "$@" -- "$IMSS_RENEW" --help >"$T/help.out" 2>&1 || die "$what: --help failed"
	assert_contains "$(head -n1 "$T/help.out")" "Uso: imss-renew" "$what: Spanish"
}

# === which locales give Spanish ================================================
spanish "LANG=es_MX.UTF-8" LANG=es_MX.UTF-8
spanish "LC_MESSAGES=es_MX.UTF-8 over LANG=C.UTF-8" LANG=C.UTF-8 LC_MESSAGES=es_MX.UTF-8
spanish "LC_ALL=es_MX.UTF-8" LC_ALL=es_MX.UTF-8
spanish "LANGUAGE=es over LANG=C.UTF-8" LANG=C.UTF-8 LANGUAGE=es
mkdir -p "$T/locales"
command -v localedef >/dev/null && [[ -e /usr/share/i18n/locales/es_ES ]] &&
	{ localedef -i es_ES -f UTF-8 "$T/locales/es_ES.UTF-8" >/dev/null 2>&1 || :; }
if [[ -d $T/locales/es_ES.UTF-8 ]]; then
	# (glibc's setlocale leaks a few bytes when LOCPATH is set: not the
	# tool's, so a sanitizer build does not count leaks in this one case.)
	spanish "LANG=es_ES.UTF-8 (another es_* locale)" LOCPATH="$T/locales" LANG=es_ES.UTF-8 \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
else
	echo "note: localedef cannot make es_ES.UTF-8 here; that case is not run"
fi
in_locale LANG=C.UTF-8 -- "$IMSS_RENEW" --help >"$T/help.out" 2>&1 || die "English --help failed"
assert_contains "$(head -n1 "$T/help.out")" "Usage: imss-renew" "LANG=C.UTF-8: English"

# === renew --json: the same in Spanish and English ===============================
svc_init
svc_start

# masked FILE: the JSON lines with every run of hex digits as one 'x' and
# the case's directory as CASE (two renewals differ only there).
masked() {
	sed "s|$C|CASE|g" "$1" |
		jq -c 'walk(if type == "string" then gsub("[0-9A-Fa-f]+"; "x")
			elif type == "number" then 0 else . end)'
}

for lang in es en; do
	if [[ $lang == es ]]; then loc=(LANG=es_MX.UTF-8); else loc=(LANG=C.UTF-8); fi
	# Same-length names: the cases differ only in hex digits once masked.
	case_new "case-$lang" token
	rc=0
	(export LANGUAGE='' LC_ALL='' LC_MESSAGES='' "${loc[@]}"; JSON=1 renew_run) >"$C/out.json" || rc=$?
	assert_eq 0 "$rc" "renew --json ($lang)"
	check_renewed "renew --json ($lang)"
	masked "$C/out.json" >"$T/renew-$lang.json"
	# The service refuses a wrong password: the error, in JSON.
	case_new "fail-$lang" pfx
	printf 'NoEsLaContrasena1' >"$T/wrong.pass"
	rc=0
	(export LANGUAGE='' LC_ALL='' LC_MESSAGES='' "${loc[@]}"
	 renew_args
	 "$IMSS_RENEW" --json --module "$SOFTHSM" renew "${RENEW_ARGS[@]}" \
		--idse-password-source "file:$T/wrong.pass") >"$C/out.json" 2>"$C/err" || rc=$?
	assert_eq 1 "$rc" "renew --json with a wrong password ($lang)"
	masked "$C/out.json" >"$T/refused-$lang.json"
	# The same environment speaks Spanish outside --json (else this proves nothing).
	(export LANGUAGE='' LC_ALL='' LC_MESSAGES='' "${loc[@]}"; "$IMSS_RENEW" --help) >"$C/help.out" 2>&1 || :
	[[ $lang == en ]] || assert_contains "$(head -n1 "$C/help.out")" "Uso: imss-renew" \
		"the environment of the Spanish runs gives Spanish outside --json"
done
for what in renew refused; do
	[[ -s $T/$what-en.json ]] || die "$what --json: no output"
	if ! cmp -s "$T/$what-es.json" "$T/$what-en.json"; then
		diff -u "$T/$what-en.json" "$T/$what-es.json" >&2 || :
		die "$what --json under es_MX.UTF-8 differs from the English output"
	fi
	echo "ok: $what --json is the same in Spanish and English ($(wc -l <"$T/$what-en.json") lines)"
done

echo "$T_NAME: all passed"
