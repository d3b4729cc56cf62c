# shellcheck shell=bash
# tty_drive OUT CMD PROMPT ANSWER [PROMPT ANSWER ...]: run CMD (a quoted
# command line) on a terminal of its own (script(1)), and type each ANSWER
# once its PROMPT shows for the next time (a terminal discards what is
# typed ahead of a prompt).  The terminal's output, without '\r', in OUT;
# the exit status in TTY_RC; the answers not typed (their prompt never
# came) in TTY_LEFT.  Sourced after tests/renew/lib.sh.
tty_drive() {
	local out=$1 cmd=$2 keys pid prompt shown
	local -A typed=()
	shift 2
	rm -f "$C/keys"
	mkfifo "$C/keys"
	exec {keys}<>"$C/keys"
	timeout 120 script -qec "$cmd" /dev/null <"$C/keys" >"$out.raw" 2>&1 &
	pid=$!
	BG_PIDS+=("$pid")
	while (($# >= 2)) && kill -0 "$pid" 2>/dev/null; do
		prompt=$1
		shown=$(grep -oF -- "$prompt" "$out.raw" 2>/dev/null | wc -l || true)
		if ((shown > ${typed[$prompt]:-0})); then
			printf '%s\n' "$2" >&"$keys"
			typed[$prompt]=$((${typed[$prompt]:-0} + 1))
			shift 2
		fi
		sleep 0.1
	done
	# shellcheck disable=SC2034 # read by the tests
	TTY_LEFT=$(($# / 2))
	TTY_RC=0
	wait "$pid" || TTY_RC=$?
	exec {keys}>&-
	tr -d '\r' <"$out.raw" >"$out"
}

# count_of TEXT FILE: how many times TEXT occurs in FILE.
count_of() { grep -oF -- "$1" "$2" 2>/dev/null | wc -l || true; }
