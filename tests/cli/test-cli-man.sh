#!/usr/bin/env bash
# The man pages name every option of every command: the lists come from
# the tool's option tables (`imss-renew __complete`, which also generates
# the bash completion), so that an option added to a table and not to the
# pages fails here.  The English page and the Spanish one (man/es).
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
: "${IMSS_SOURCE_DIR:?IMSS_SOURCE_DIR is not set (run the test through ctest)}"
t_tmpdir

"$IMSS_RENEW" __complete >"$T/lists.bash" || die "imss-renew __complete failed"
bash -n "$T/lists.bash" || die "imss-renew __complete: not valid bash"
# shellcheck disable=SC1091
. "$T/lists.bash"
commands=$(_imss_renew_commands)
[[ $commands == *renew* && $commands == *check* ]] || die "no commands listed: $commands"

for page in docs/man/imss-renew.1.scd docs/man/es/imss-renew.1.scd; do
	text=$(<"$IMSS_SOURCE_DIR/$page") || die "$page is missing"
	missing=()
	for cmd in '' $commands; do
		[[ -z $cmd ]] || [[ $text == *"*$cmd*"* ]] || missing+=("the command $cmd")
		for opt in $(_imss_renew_options "$cmd"); do
			[[ $text == *"*$opt*"* ]] || missing+=("${cmd:-global} $opt")
		done
	done
	((${#missing[@]} == 0)) || die "$page does not name: ${missing[*]}"
	printf 'ok: %s names every command and every option\n' "$page"
done
