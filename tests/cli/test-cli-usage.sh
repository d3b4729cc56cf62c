#!/usr/bin/env bash
# imss-renew's command line: --help for the tool and every command,
# --version, exit status 2 for every usage error, and no PIN on the command
# line.  A module path that does not exist makes sure no token is touched: a
# usage error that slipped through would fail with 1 instead of 2.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
t_tmpdir

commands=(tokens objects doctor keygen csr sign import status export)
nomod=(--module "$T/no-such-module.so")
key=(--key 'pkcs11:object=k;type=private')
: >"$T/letter.txt"

# run ARGS...: the tool with its stdout in $T/out (stderr: see assert_exit).
run() { "$IMSS_RENEW" "$@" >"$T/out"; }

# usage_error MSG ARGS...: exit 2, nothing on stdout, a pointer to --help.
usage_error() {
	local msg=$1
	shift
	assert_exit 2 run "${nomod[@]}" "$@"
	assert_eq "" "$(<"$T/out")" "$msg: stdout stays empty"
	assert_contains "$(<"$T/stderr")" "--help'." "$msg: points to --help"
}

# --help and --version.
assert_exit 0 run --help
help=$(<"$T/out")
assert_contains "$help" "Exit status" "--help documents the exit status"
assert_contains "$help" "2  usage error" "--help documents exit status 2"
assert_contains "$help" "--pin-source" "--help names --pin-source"
assert_contains "$help" "--password-source" "--help names --password-source"
for cmd in "${commands[@]}"; do
	assert_contains "$help" "  $cmd " "--help lists $cmd"
	assert_exit 0 run "$cmd" --help
	assert_contains "$(<"$T/out")" "Usage: imss-renew" "$cmd --help: usage"
	assert_contains "$(<"$T/out")" "Examples:" "$cmd --help: examples"
	assert_exit 0 run "${nomod[@]}" "$cmd" -h
done
assert_exit 0 run --version
[[ $(<"$T/out") =~ ^imss-renew\ [0-9]+\.[0-9]+ ]] ||
	die "--version printed '$(<"$T/out")'"
assert_exit 0 run --json --version
version=$("$IMSS_RENEW" --version)
command -v jq >/dev/null &&
	assert_eq "${version#imss-renew }" "$(jq -r .version "$T/out")" "--json --version"

# Usage errors.
usage_error "no command"
usage_error "unknown command" frobnicate
assert_contains "$(<"$T/stderr")" "unknown command 'frobnicate'" "unknown command named"
usage_error "unknown global option" --frobnicate tokens
assert_contains "$(<"$T/stderr")" "'--frobnicate'" "unknown option named"
usage_error "--module without its argument" --module
assert_contains "$(<"$T/stderr")" "needs an argument" "missing argument named"
for cmd in "${commands[@]}"; do
	usage_error "$cmd: unknown option" "$cmd" --frobnicate
	usage_error "$cmd: unexpected argument" "$cmd" extra
done
usage_error "objects without --token" objects
usage_error "doctor without --token" doctor
usage_error "keygen without --token" keygen --label x
usage_error "keygen without --label" keygen --token pkcs11:
usage_error "keygen with an empty label" keygen --token pkcs11: --label ''
usage_error "keygen --token without its argument" keygen --label x --token
usage_error "keygen --force with an argument" keygen --token pkcs11: --label x --force=yes
usage_error "bad --type" keygen --token pkcs11: --label x --type rsa:1024
assert_contains "$(<"$T/stderr")" "ec:secp384r1" "bad --type lists the types"
usage_error "bad --type" keygen --token pkcs11: --label x --type dsa
for src in secret file: fd:x env: nonsense:x; do
	usage_error "keygen bad --pin-source $src" \
		keygen --token pkcs11: --label x --pin-source "$src"
	usage_error "objects bad --pin-source $src" \
		objects --token pkcs11: --pin-source "$src"
	usage_error "csr bad --pin-source $src" \
		csr "${key[@]}" --subject /CN=x --pin-source "$src"
	usage_error "import bad --pin-source $src" \
		import --token pkcs11: --cert c.pem --pin-source "$src"
	usage_error "status bad --pin-source $src" status --pin-source "$src"
done
assert_contains "$(<"$T/stderr")" "tty, file:PATH, fd:N, env:NAME or cred:NAME" \
	"bad --pin-source lists the sources"

# csr, sign, import, status, export: missing, conflicting and malformed options.
usage_error "csr without --key" csr --subject /CN=x
usage_error "csr without a subject" csr "${key[@]}"
assert_contains "$(<"$T/stderr")" "--subject-from" "csr without a subject: names both options"
usage_error "csr with --subject and --subject-from" csr "${key[@]}" --subject /CN=x \
	--subject-from cert.pem
usage_error "csr with a malformed --subject" csr "${key[@]}" --subject CN=x
assert_contains "$(<"$T/stderr")" "malformed --subject" "malformed --subject named"
usage_error "csr with an empty --subject field" csr "${key[@]}" --subject /CN=
assert_exit 2 run "${nomod[@]}" --json csr "${key[@]}" --subject /CN=x --der
assert_contains "$(<"$T/out")" "cannot go into JSON" "csr --der to JSON: a JSON usage error"
usage_error "sign without a key" sign --in "$T/letter.txt" --out "$T/sig"
usage_error "sign with --key and --credential" sign "${key[@]}" --credential c.pfx \
	--in "$T/letter.txt" --out "$T/sig"
usage_error "sign --key-file without --credential" sign "${key[@]}" --key-file k.key \
	--in "$T/letter.txt" --out "$T/sig"
usage_error "sign --key-file with a .pfx" sign --credential c.PFX --key-file k.key \
	--in "$T/letter.txt" --out "$T/sig"
usage_error "sign --pin-source with --credential" sign --credential c.pfx \
	--pin-source "file:$T/pin" --in "$T/letter.txt" --out "$T/sig"
usage_error "sign --password-source with --key" sign "${key[@]}" \
	--password-source "file:$T/pw" --in "$T/letter.txt" --out "$T/sig"
usage_error "sign without --in" sign "${key[@]}" --out "$T/sig"
usage_error "sign without --out" sign "${key[@]}" --in "$T/letter.txt"
usage_error "sign --out = --in" sign "${key[@]}" --in "$T/letter.txt" --out "$T/./letter.txt"
assert_contains "$(<"$T/stderr")" "would be replaced" "sign --out = --in: named"
usage_error "sign bad --password-source" sign --credential c.pfx --password-source secret \
	--in "$T/letter.txt" --out "$T/sig"
assert_contains "$(<"$T/stderr")" "malformed --password-source" "bad --password-source named"
usage_error "sign bad --pin-source, before reading --in" sign "${key[@]}" --pin-source x \
	--in "$T/no-such-file" --out "$T/sig"
usage_error "import without --token" import --cert c.pem
usage_error "import without --cert" import --token pkcs11:
usage_error "import with an empty --label" import --token pkcs11: --cert c.pem --label ''
usage_error "status with --cert and --token" status --cert c.pem --token pkcs11:
usage_error "status --key-file without --credential" status --cert c.cer --key-file k.key
usage_error "status --login with --cert" status --cert c.pem --login
usage_error "status --password-source with --token" status --token pkcs11: \
	--password-source "file:$T/pw"
usage_error "export without --cert" export --out x.cer
usage_error "export without --out" export --cert 'pkcs11:object=c;type=cert'
for args in "sign --credential c.pfx --in $T/letter.txt --out $T/sig" "status --credential c.pfx"; do
	for pw in "--password secret" "--password=secret" "--password"; do
		# shellcheck disable=SC2086 # split on purpose
		usage_error "$args $pw" $args $pw
		assert_contains "$(<"$T/stderr")" "--password-source" "$args $pw: points to --password-source"
		[[ $(<"$T/stderr") != *secret* ]] || die "$args $pw: the password is repeated"
	done
done
[[ ! -e $T/sig ]] || die "a usage error wrote a file"

# No PIN on the command line, in any spelling; the error points to --pin-source.
for args in "--pin 1234" "--pin=1234" "--pin"; do
	# shellcheck disable=SC2086 # split on purpose
	usage_error "keygen $args" keygen --token pkcs11: --label x $args
	assert_contains "$(<"$T/stderr")" "--pin-source" "keygen $args: points to --pin-source"
	# shellcheck disable=SC2086
	usage_error "objects $args" objects --token pkcs11: $args
	assert_contains "$(<"$T/stderr")" "--pin-source" "objects $args: points to --pin-source"
	for cmd in "csr --key pkcs11:object=k --subject /CN=x" "sign --key pkcs11:object=k" \
		"import --token pkcs11: --cert c.pem" "status"; do
		# shellcheck disable=SC2086
		usage_error "$cmd $args" $cmd $args
		assert_contains "$(<"$T/stderr")" "--pin-source" "$cmd $args: points to --pin-source"
	done
done
usage_error "global --pin" --pin 1234 tokens
assert_contains "$(<"$T/stderr")" "--pin-source" "global --pin: points to --pin-source"

# JSON mode: a usage error is also a JSON error object on stdout.
assert_exit 2 run "${nomod[@]}" --json frobnicate
assert_contains "$(<"$T/out")" '"error"' "--json usage error on stdout"
assert_contains "$(<"$T/stderr")" "unknown command" "--json usage error on stderr too"
if command -v jq >/dev/null; then
	assert_eq "USAGE 2" "$(jq -r '"\(.error.code) \(.error.exit)"' "$T/out")" "--json usage error code"
	assert_exit 2 run "${nomod[@]}" --frobnicate --json tokens
	assert_eq "USAGE 2" "$(jq -r '"\(.error.code) \(.error.exit)"' "$T/out")" "--json after a bad option still applies"
fi

# A failure that is not a usage error exits 1.
assert_exit 1 run "${nomod[@]}" tokens
assert_contains "$(<"$T/stderr")" "imss-renew: " "failure message"

echo "PASS: $T_NAME"
