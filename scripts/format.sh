#!/usr/bin/env bash
# Format the C sources with clang-format 14 and the style in .clang-format.
#
#   scripts/format.sh [--check]
#
#   --check  change nothing: print the files whose format differs and exit 1
#            when there is any (CI runs this from scripts/test.sh)
#
# The files: pkcs11/, src/, tests/ (every *.c below it), fuzz/ and
# softhsm-config/, *.c and *.h.
set -euo pipefail

cd "$(dirname "$0")/.."

die() { printf 'format.sh: %s\n' "$*" >&2; exit 2; }

check=0
case ${1-} in
'') ;;
--check) check=1 ;;
-h | --help) sed -n '2,/^set -e/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
*) die "unknown argument: $1 (try --help)" ;;
esac

clang_format=
for candidate in clang-format-14 clang-format; do
	if command -v "$candidate" >/dev/null; then
		clang_format=$candidate
		break
	fi
done
[[ -n $clang_format ]] || die "clang-format 14 not found (apt-get install clang-format)"
"$clang_format" --version | grep -q 'version 14\.' ||
	die "$clang_format is not version 14: other versions format differently"

files=()
while IFS= read -r -d '' file; do
	files+=("$file")
done < <(find pkcs11 src fuzz softhsm-config -name '*.[ch]' -print0
	find tests -name '*.c' -print0)
((${#files[@]})) || die "no C files found"

if ((!check)); then
	"$clang_format" -i --style=file "${files[@]}"
	exit 0
fi

differ=0
for file in "${files[@]}"; do
	if ! "$clang_format" --style=file "$file" | cmp -s - "$file"; then
		printf '%s\n' "$file"
		differ=1
	fi
done
if ((differ)); then
	echo "format.sh: the files above differ from .clang-format; run scripts/format.sh" >&2
	exit 1
fi
