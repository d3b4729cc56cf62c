# shellcheck shell=bash
# Helpers of the install tests, sourced after tests/lib/common.sh: what an
# installed imss-renew must offer, checked against an installed tree.

# tool_commands TOOL: the commands `TOOL --help` lists, one per line.
tool_commands() {
	"$1" --help | awk '/^Commands:/ { c = 1; next } c && /^$/ { exit } c { print $1 }'
}

# help_options TOOL [COMMAND]: the long options in the usage synopsis and
# the Options: lines of `TOOL [COMMAND] --help`, global ones left out,
# --help always in; sorted, one line.
help_options() {
	local tool=$1
	shift
	{
		"$tool" "$@" --help | awk '
			/^Usage:/ { u = 1 }
			u && /^$/ { u = 0 }
			u && (/^Usage:/ || /^[ \t]/) { print }
			/^Options:/ { o = 1; next }
			o && /^$/ { o = 0 }
			o && /^  -/ { print }' | grep -oE -- '--[a-z][a-z0-9-]*'
		echo --help
	} | grep -vxE -- '--(module|json|verbose|version)' | sort -u | paste -sd' ' -
}

# check_commands_help TOOL USAGE_PREFIX: --version, and for every command
# --help with a usage line and examples.
check_commands_help() {
	local tool=$1 prefix=$2 cmd out
	out=$("$tool" --version) || die "$tool --version failed"
	assert_eq "$prefix $IMSS_VERSION" "$out" "$prefix --version"
	for cmd in $(tool_commands "$tool"); do
		out=$("$tool" "$cmd" --help) || die "$prefix $cmd --help failed"
		[[ $out == "Usage: $prefix "* ]] || die "$prefix $cmd --help: no usage line: $out"
		[[ $prefix != imss-renew || $out == *Example* ]] ||
			die "$prefix $cmd --help: no examples"
	done
	printf 'ok: %s: --version, and --help for every command (%s)\n' "$prefix" \
		"$(tool_commands "$tool" | xargs)"
}

# check_man PAGE NAME: `man -l` renders PAGE without a warning; its NAME
# line names NAME.
check_man() {
	local page=$1 name=$2 text
	text=$(MANWIDTH=80 man --warnings -l "$page" 2>"$T/man.err") || die "man -l $page failed"
	[[ ! -s $T/man.err ]] || die "man -l $page warns: $(<"$T/man.err")"
	[[ $text == *"$name - "* ]] || die "man -l $page: no NAME line for $name"
	printf 'ok: man -l %s renders\n' "$page"
	printf '%s\n' "$text" >"$T/man.txt"
}

# check_man_tool PAGE TOOL: imss-renew(1) documents every command and the
# exit status 10 and 11 of check.
check_man_tool() {
	local page=$1 tool=$2 cmd
	check_man "$page" imss-renew
	for cmd in $(tool_commands "$tool"); do
		grep -qE "^       $cmd( |$)" "$T/man.txt" || die "$page: no entry for the command $cmd"
	done
	for cmd in 10 11 --days --pin-source JOURNAL_STREAM imss-renew-check.timer; do
		grep -q -- "$cmd" "$T/man.txt" || die "$page: nothing about $cmd"
	done
	printf 'ok: %s documents every command and the exit status of check\n' "$page"
}

# complete_words FILE WORDS...: the completions bash gives for the last of
# WORDS after `imss-renew WORDS...`, with FILE sourced (and the
# bash-completion framework first when BASH_COMPLETION_FRAMEWORK is set).
complete_words() {
	local file=$1
	shift
	bash --norc --noprofile -c '
		if [[ -n ${BASH_COMPLETION_FRAMEWORK:-} ]]; then . "$BASH_COMPLETION_FRAMEWORK"; fi
		. "$1"
		shift
		COMP_WORDS=(imss-renew "$@")
		COMP_CWORD=$#
		COMP_LINE="imss-renew $*"
		COMP_POINT=${#COMP_LINE}
		_imss_renew imss-renew "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' sh "$file" "$@" 2>"$T/complete.err" | sort | paste -sd' ' -
}

# check_completion FILE TOOL: FILE is valid bash, completes what TOOL has
# (commands and each command's options, as their --help shows them), and
# completes values.
check_completion() {
	local file=$1 tool=$2 cmd fw
	bash -n "$file" || die "$file: not valid bash"
	assert_eq "$(tool_commands "$tool" | xargs)" \
		"$(bash -c '. "$1"; _imss_renew_commands' sh "$file")" "completion: the commands of --help"
	assert_eq "--help --json --module --verbose --version" \
		"$(bash -c '. "$1"; _imss_renew_options' sh "$file" | tr ' ' '\n' | sort | paste -sd' ' -)" \
		"completion: the global options"
	for cmd in $(tool_commands "$tool"); do
		assert_eq "$(help_options "$tool" "$cmd")" \
			"$(bash -c '. "$1"; _imss_renew_options "$2"' sh "$file" "$cmd" | tr ' ' '\n' | sort | paste -sd' ' -)" \
			"completion: the options of $cmd"
	done
	: >"$T/cert.pem"
	: >"$T/pin-file"
	mkdir -p "$T/state-dir"
	for fw in "" /usr/share/bash-completion/bash_completion; do
		[[ -z $fw || -f $fw ]] || { echo "note: no bash-completion framework at $fw"; continue; }
		export BASH_COMPLETION_FRAMEWORK=$fw
		assert_eq check "$(complete_words "$file" ch)" "completion${fw:+ (framework)}: ch"
		assert_eq status "$(complete_words "$file" --module x.so st)" "completion: after --module PATH"
		assert_eq --json "$(complete_words "$file" --js)" "completion: global --js"
		assert_eq --days "$(complete_words "$file" check --d)" "completion: check --d"
		assert_eq --token "$(complete_words "$file" --json check --to)" "completion: check --to"
		assert_eq "ec:prime256v1 ec:secp384r1" "$(complete_words "$file" keygen --type ec)" \
			"completion: keygen --type ec"
		assert_eq "env: fd: file: tty" "$(complete_words "$file" check --pin-source '')" \
			"completion: --pin-source forms"
		assert_eq "file:$T/pin-file" "$(complete_words "$file" check --pin-source "file:$T/pin-")" \
			"completion: --pin-source file:PATH"
		assert_eq "$T/cert.pem" "$(complete_words "$file" check --cert "$T/cert.")" \
			"completion: --cert FILE"
		assert_eq "$T/state-dir" "$(complete_words "$file" renew --state-dir "$T/state-")" \
			"completion: --state-dir DIR"
		assert_eq "" "$(complete_words "$file" check --days '')" "completion: nothing for --days N"
		assert_eq --help "$(complete_words "$file" tokens --)" "completion: tokens --"
		[[ ! -s $T/complete.err ]] || die "completion printed errors: $(<"$T/complete.err")"
	done
	unset BASH_COMPLETION_FRAMEWORK
}
