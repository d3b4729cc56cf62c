#!/usr/bin/env bash
# Shorten a campaign step list that shows a violation: the shortest list
# found still fails the same way (its message contains PATTERN).
#
#   minimize.sh STEPS_FILE 'PATTERN' [CAMPAIGN ARGS...]   (e.g. --allow pinned-ca)
#
# STEPS_FILE is a step list as a violation prints it (numbers and notes are
# ignored).  First only the steps of the lineage that failed are kept, then
# chunks of steps (halves, quarters, ... single steps) are dropped while the
# replay still fails with PATTERN.  The result goes to STEPS_FILE.min and
# stdout.  It needs the environment of campaign.sh (see README.md).
set -euo pipefail
here=$(cd -- "$(dirname -- "$0")" && pwd)
file=$1 pattern=$2
shift 2
mapfile -t steps < <(grep -v '^[[:space:]]*\(#\|$\)' "$file" | sed -e 's/^ *[0-9]* //' -e 's/  *#.*//')
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
runs=0

# fails LINES...: does the replay of these steps still show the violation?
fails() {
	printf '%s\n' "$@" >"$tmp"
	runs=$((runs + 1))
	local out
	out=$(bash "$here/campaign.sh" --replay "$tmp" "${ARGS[@]}" 2>&1 >/dev/null) || :
	grep -q -- "VIOLATION.*$pattern" <<<"$out"
}
ARGS=("$@")

fails "${steps[@]}" || { echo "minimize: the whole list does not fail with '$pattern'" >&2; exit 1; }
last=${steps[-1]}
lineage=$(cut -d'|' -f2 <<<"$last")
mapfile -t only < <(printf '%s\n' "${steps[@]}" | awk -F'|' -v l="$lineage" '$2 == l')
if ((${#only[@]} < ${#steps[@]})) && fails "${only[@]}"; then steps=("${only[@]}"); fi

chunk=$(((${#steps[@]} + 1) / 2))
while ((chunk >= 1)); do
	i=0
	while ((i < ${#steps[@]} - 1)); do
		# Never drop the last step: it is the one that fails.
		n=$chunk
		((i + n <= ${#steps[@]} - 1)) || n=$((${#steps[@]} - 1 - i))
		try=("${steps[@]:0:i}" "${steps[@]:i+n}")
		if ((n > 0)) && fails "${try[@]}"; then
			steps=("${try[@]}")
		else
			i=$((i + chunk))
		fi
	done
	chunk=$((chunk / 2))
done
printf '%s\n' "${steps[@]}" | tee "$file.min"
echo "minimize: ${#steps[@]} steps ($runs replays)" >&2
