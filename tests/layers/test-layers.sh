#!/bin/bash
# test-layers.sh SOURCE_DIR: every layer of the library calls only the
# layers below it (docs/design.md "Layers"):
#   tool -> engine -> protocol | credential -> token layer (pkcs11) -> base
# (and src/common, helpers both programs compile in: tool and service may
# include them; they include nothing of the project)
# checked on the #include "..." lines (a header belongs to the layer of the
# folder it lives in), the include path of pkcs11/, the driver and the
# steps of the engine (no circle), and the engine speaking only the token
# layer's API (no PKCS#11 template or C_ call of its own).
set -u
cd "${1:?usage: test-layers.sh SOURCE_DIR}" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The layer of a header named in a file's #include "...": the file's own
# folder first (as the compiler looks), then the library's include path.
declare -A rank=([base]=0 [token]=1 [credential]=2 [protocol]=2 [engine]=3
                 [tool]=4 [service]=4 [public]=-1 [common]=5)
layer_of_dir() {
	case $1 in
	include/imss-renew) echo base ;;
	pkcs11) echo token ;;
	src/base) echo base ;;
	src/credential) echo credential ;;
	src/protocol) echo protocol ;;
	src/engine) echo engine ;;
	src/tool) echo tool ;;
	src/service) echo service ;;
	src/common) echo common ;;
	*) echo unknown ;;
	esac
}
header_layer() { # FILE_DIR HEADER
	local dir
	[[ $2 == imss-renew/imss-renew.h ]] && { echo public; return; }
	for dir in "$1" include pkcs11 src/base src/credential src/protocol src/engine src/common; do
		if [[ -f $dir/$2 ]]; then
			layer_of_dir "$(dirname "$dir/$2")"
			return
		fi
	done
	echo unknown
}

checked=0
for f in include/imss-renew/*.h pkcs11/*.[ch] src/*/*.[ch]; do
	dir=$(dirname "$f")
	own=$(layer_of_dir "$dir")
	[[ $own == unknown ]] && { fail "$f: a folder of no layer (add it to docs/design.md and here)"; continue; }
	while IFS= read -r header; do
		checked=$((checked + 1))
		# A unit test beside its code also has the tests' assertion helper.
		[[ $header == unit.h && $(basename "$f") == test-*.c ]] && continue
		to=$(header_layer "$dir" "$header")
		[[ $to == public || $to == "$own" ]] && continue
		[[ $to == common && ($own == tool || $own == service) ]] && continue
		if [[ $own == common ]]; then
			fail "$f (common) includes \"$header\": src/common includes nothing of the project"
			continue
		fi
		if [[ $to == unknown ]]; then
			fail "$f includes \"$header\", found in no layer"
		elif [[ $own == service && $to != public ]]; then
			fail "$f (service) includes \"$header\" of the $to layer: the service uses only the public API"
		elif ((rank[$to] >= rank[$own])); then
			fail "$f ($own) includes \"$header\" of the $to layer: a layer calls only the layers below it"
		fi
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done
((checked > 50)) || fail "only $checked #include lines checked: is this the source tree?"

# The tool links the public API only.
grep -n '#include "\(token-internal\|imss-renew/base\)\.h"' src/tool/*.[ch] &&
	fail "the tool includes a private header of the library"

# pkcs11/ builds without src/ on its include path.
grep -n 'src' pkcs11/CMakeLists.txt | grep -v '^[0-9]*:#' &&
	fail "pkcs11/CMakeLists.txt names src/: the token layer includes nothing from src/"

# The token layer's private header declares only what pkcs11/ defines.
declared=$(sed -n 's/^[a-zA-Z_][a-zA-Z0-9_ ]*[ *]\([a-z_][a-z0-9_]*\)(.*/\1/p' pkcs11/token-internal.h)
[[ -n $declared ]] || fail "no function declared in pkcs11/token-internal.h"
for fn in $declared; do
	grep -q "^$fn(" pkcs11/*.c || fail "pkcs11/token-internal.h declares $fn, not defined in pkcs11/"
done

# No circle in the engine: renew.c (the driver) calls the steps; the steps
# and the other engine files do not call back into the driver.
driver_functions=$(awk '/^[a-z_][a-z0-9_]*\(/ { if (prev !~ /static/) { sub(/\(.*/, ""); print } } { prev = $0 }' \
	src/engine/renew.c)
[[ -n $driver_functions ]] || fail "no function found in src/engine/renew.c"
for fn in $driver_functions; do
	grep -lE "\\b$fn[[:space:]]*\\(" src/engine/*.c | grep -v '^src/engine/renew\.c$' | grep -v '/test-' |
		while read -r caller; do
			echo "FAIL: $caller calls $fn of the driver src/engine/renew.c"
		done
done | grep . && failures=$((failures + 1))

# The public header offers what an application needs: no "caller vouches"
# _ex variants (they are the token layer's, not exported).
grep -n '^[a-z].*imss_[a-z_]*_ex(' include/imss-renew/imss-renew.h &&
	fail "include/imss-renew/imss-renew.h declares an _ex function: make it internal (pkcs11/token-internal.h)"

# The engine speaks only the token layer's API.
grep -n 'CK_ATTRIBUTE\|->C_[A-Za-z]*(' src/engine/*.c src/credential/*.c src/protocol/*.c &&
	fail "PKCS#11 templates or calls above the token layer: give them a named function in pkcs11/"

if ((failures > 0)); then
	echo "layers: $failures failure(s)"
	exit 1
fi
echo "layers: ok ($checked #include lines)"
