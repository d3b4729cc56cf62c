#!/usr/bin/env bash
# The tool in Spanish: the main commands (every --help, tokens, objects
# --login, doctor, keygen, status, errors) run under es_MX.UTF-8 leave no
# line in English, and their --json output is byte for byte the output in
# English.
#
# A line is "left in English" when it holds English text of a message whose
# Spanish translation differs (english-lines.awk, from po/es.po), or when
# it is a sentence printed the same in both languages (a message never
# marked for translation).  Token data (labels, URIs, the module's own
# descriptions), paths and option names are not messages and do not count.
#
# check runs too when the tool has it.
#
# The Spanish locale: es_MX.UTF-8 when the system has it (scripts/test.sh
# generates it as root); otherwise C.UTF-8 with LANGUAGE=es, which glibc's
# gettext honours the same way.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
: "${IMSS_RENEW_LOCALEDIR:?IMSS_RENEW_LOCALEDIR is not set (run the test through ctest)}"
: "${IMSS_PO_DIR:?IMSS_PO_DIR is not set (run the test through ctest)}"
[[ -f $IMSS_RENEW_LOCALEDIR/es/LC_MESSAGES/imss-renew.mo ]] ||
	die "no catalogue in $IMSS_RENEW_LOCALEDIR (is the build complete?)"
command -v openssl >/dev/null || { echo "SKIP: openssl not found"; exit 77; }

if locale -a 2>/dev/null | grep -qix 'es_MX\.utf-\{0,1\}8'; then
	ES=(env LANG=es_MX.UTF-8 LC_ALL=es_MX.UTF-8 LANGUAGE=)
else
	echo "note: no es_MX.UTF-8 locale on this system; using C.UTF-8 with LANGUAGE=es"
	ES=(env LANG=es_MX.UTF-8 LC_ALL=C.UTF-8 LANGUAGE=es)
fi
EN=(env LANG=C.UTF-8 LC_ALL=C.UTF-8 LANGUAGE=)

t_make_token "IMSS i18n"
mkdir -p "$T/es" "$T/en"
printf '%s' 9876 >"$T/wrong-pin"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/cert.key" -out "$T/cert.pem" \
	-days 90 -subj '/O=Empresa de Prueba SA de CV/OU=Y1234567108/CN=Empresa de Prueba' \
	-addext basicConstraints=critical,CA:FALSE 2>/dev/null ||
	die "openssl cannot make a test certificate"

# run_in LANG WHAT EXPECTED_EXIT OUT ERR ARGS...: the tool in LANG (es or en),
# stdout in OUT and stderr in ERR (the same file: together); it must exit
# with EXPECTED_EXIT.
run_in() {
	local lang=$1 what=$2 want=$3 out=$4 err=$5 env got=0
	shift 5
	if [[ $lang == es ]]; then env=("${ES[@]}"); else env=("${EN[@]}"); fi
	if [[ $out == "$err" ]]; then
		"${env[@]}" "$IMSS_RENEW" --module "$SOFTHSM2_MODULE" "$@" >"$out" 2>&1 </dev/null || got=$?
	else
		"${env[@]}" "$IMSS_RENEW" --module "$SOFTHSM2_MODULE" "$@" >"$out" 2>"$err" </dev/null || got=$?
	fi
	if [[ $got != "$want" ]]; then
		cat "$err" >&2
		die "$what ($lang): expected exit $want, got $got"
	fi
}

# run NAME EXPECTED_EXIT ARGS...: run the tool in Spanish and in English,
# stdout and stderr together in $T/es/NAME and $T/en/NAME; both must exit
# with EXPECTED_EXIT.
run() {
	local name=$1 want=$2
	shift 2
	run_in es "$name" "$want" "$T/es/$name" "$T/es/$name" "$@"
	run_in en "$name" "$want" "$T/en/$name" "$T/en/$name" "$@"
	printf 'ok: %s (exit %s in both languages)\n' "$name" "$want"
}

# run_json NAME EXPECTED_EXIT ARGS...: the same with --json and stdout only;
# the two outputs must be identical.
run_json() {
	local name=$1 want=$2 lang
	shift 2
	for lang in es en; do
		run_in "$lang" "$name --json" "$want" "$T/$lang/$name.json" "$T/$lang/$name.stderr" --json "$@"
	done
	[[ -s $T/en/$name.json ]] || die "$name --json: no output"
	if ! cmp -s "$T/es/$name.json" "$T/en/$name.json"; then
		diff -u "$T/en/$name.json" "$T/es/$name.json" >&2 || true
		die "$name --json: the Spanish output differs from the English one"
	fi
	printf 'ok: %s --json is the same in both languages\n' "$name"
}

# ---- the commands, in both languages ------------------------------------

run help 0 --help
# Every command the tool lists (a new one is covered without editing this).
commands=$("${EN[@]}" "$IMSS_RENEW" --help |
	awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
[[ -n $commands ]] || die "no commands in 'imss-renew --help'"
for cmd in $commands; do
	run "help-$cmd" 0 "$cmd" --help
done

run tokens 0 tokens
run doctor 0 doctor --token "$IMSS_TOKEN_URI"
run objects-empty 0 objects --token "$IMSS_TOKEN_URI" --login --pin-source "file:$T/pin"
run objects-nologin 0 objects --token "$IMSS_TOKEN_URI"
# One key per language (the labels differ: a label is used once).
for lang in es en; do
	if [[ $lang == es ]]; then env=("${ES[@]}"); else env=("${EN[@]}"); fi
	"${env[@]}" "$IMSS_RENEW" --module "$SOFTHSM2_MODULE" keygen --token "$IMSS_TOKEN_URI" \
		--label "i18n-$lang" --pin-source "file:$T/pin" >"$T/$lang/keygen" 2>&1 ||
		{ cat "$T/$lang/keygen" >&2; die "keygen ($lang) failed"; }
done
echo "ok: keygen in both languages"
run objects 0 objects --token "$IMSS_TOKEN_URI" --login --pin-source "file:$T/pin"
run status-cert 0 status --cert "$T/cert.pem"
run status-token 0 status --token "$IMSS_TOKEN_URI"
run status-login 0 status --token "$IMSS_TOKEN_URI" --login --pin-source "file:$T/pin"
if grep -qx check <<<"$commands"; then
	run check 0 check --cert "$T/cert.pem"
	run check-expiring 10 check --cert "$T/cert.pem" --days 120
fi

# Errors: usage errors, a missing file, the same label again, a wrong PIN.
run no-command 2
run unknown-command 2 frobnicate
run unknown-option 2 tokens --frobnicate
run missing-option 2 doctor
run missing-argument 2 keygen --token
run pin-option 2 keygen --pin 1234
run bad-type 2 keygen --token "$IMSS_TOKEN_URI" --label x --type dsa:1024 \
	--pin-source "file:$T/pin"
run no-token 1 doctor --token 'pkcs11:token=No%20Such%20Token'
run bad-uri 2 doctor --token 'pkcs11:frobnicate=1'
run missing-file 1 status --cert "$T/no-such-file.cer"
run label-in-use 1 keygen --token "$IMSS_TOKEN_URI" --label i18n-en \
	--pin-source "file:$T/pin"
run wrong-pin 1 keygen --token "$IMSS_TOKEN_URI" --label never \
	--pin-source "file:$T/wrong-pin"

# The catalogue is in use at all (else every check below passes vacuously).
assert_contains "$(<"$T/es/help")" "Uso: imss-renew" "the help is in Spanish"
assert_contains "$(<"$T/es/wrong-pin")" "imss-renew: El PIN es incorrecto" \
	"the library's messages are in Spanish"
assert_contains "$(<"$T/es/status-cert")" "vigente, quedan" "status is in Spanish"

# ---- no English left ----------------------------------------------------

awk -f "$TESTS_DIR/i18n/english-lines.awk" "$IMSS_PO_DIR/es.po" "$T"/es/* \
	>"$T/english" || die "english-lines.awk failed"

# Lines printed the same in both languages that read as English prose: a
# message that is not marked for translation at all.  Prose here: four or
# more lower-case words; words with / : = . @ or a leading - are names.
for f in "$T"/es/*; do
	[[ $f == *.json || $f == *.stderr ]] && continue
	sort -u "$f" >"$T/es.sorted"
	sort -u "$T/en/${f##*/}" >"$T/en.sorted"
	comm -12 "$T/es.sorted" "$T/en.sorted" | awk -v file="$f" '
		{
			n = 0
			for (i = 1; i <= NF; i++) {
				w = $i
				if (w ~ /^-/ || w ~ /[\/:=.@$%]/) continue
				gsub(/[,;()'\''"]/, "", w)
				if (w ~ /^[a-z][a-z]+$/) n++
			}
			if (n >= 4) printf "%s: %s [the same in English]\n", file, $0
		}' >>"$T/english"
done
if [[ -s $T/english ]]; then
	cat "$T/english" >&2
	die "$(wc -l <"$T/english") line(s) left in English"
fi
echo "ok: no line left in English"

# ---- JSON: the same bytes in both languages -----------------------------

run_json tokens 0 tokens
run_json doctor 0 doctor --token "$IMSS_TOKEN_URI"
run_json objects 0 objects --token "$IMSS_TOKEN_URI" --login --pin-source "file:$T/pin"
run_json status-cert 0 status --cert "$T/cert.pem"
run_json status-token 0 status --token "$IMSS_TOKEN_URI" --login --pin-source "file:$T/pin"
if grep -qx check <<<"$commands"; then
	run_json check 10 check --cert "$T/cert.pem" --days 120
fi
run_json missing-option 2 doctor
run_json no-token 1 doctor --token 'pkcs11:token=No%20Such%20Token'
run_json wrong-pin 1 keygen --token "$IMSS_TOKEN_URI" --label never \
	--pin-source "file:$T/wrong-pin"

echo "PASS: $T_NAME"
