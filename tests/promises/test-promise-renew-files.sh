#!/usr/bin/env bash
# README promises about what `imss-renew renew` writes and makes, checked
# from the outside (stat, openssl, pkcs11-tool, sha256sum):
#  - defaults: the state in $XDG_STATE_HOME/imss-renew, else
#    ~/.local/state/imss-renew; the letter and the certificate copy in the
#    current directory; the label 'IMSS <registro patronal> <time>'; the
#    type rsa:2048; --yes keeps the e-mail;
#  - the state files: renew-RP-SERIAL.json (mode 0600, kept after success),
#    request-RP-SERIAL.der (the request, verified by openssl);
#  - --out-dir created when missing; --label and --type as given;
#  - step 5: the letter saved and its SHA-256 shown; step 7: the new serial,
#    its validity and the files written reported;
#  - the new private key is sensitive and never extractable;
#  - the current credential may be a .cer + .key, left as it was;
#  - --yes with every secret from fd:/env: never waits for an answer (stdin
#    an open pipe nobody writes to);
#  - the call budget of "Limits": at most 25 PKCS#11 calls with the current
#    key on the token, 16 with a .pfx, one C_Login;
#  - --type rsa:3072 and rsa:4096 give keys of that size;
#  - a token with a PIN pad is used through its pad (one C_Login, the
#    --pin-source never read).
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
command -v timeout >/dev/null || { echo "timeout is missing: skipped" >&2; exit 77; }

svc_init
svc_start

# promise_renew [ARGS]: renew the current case through the fault module
# without --state-dir and --out-dir (so the defaults apply), from the
# directory $C/cwd; calls in $C/calls.log, stdout in $C/out.txt.
promise_renew() {
	local rc=0
	mkdir -p "$C/cwd"
	: >"$C/calls.log"
	(cd "$C/cwd" && FAULT_LOG=$C/calls.log "$IMSS_RENEW" --module "$FAULT_MODULE" renew \
		--server "$SVC_URL" --user "$USER" "${CURRENT[@]}" --token "$TOKEN_URI" \
		--ca "$D/ca.pem" --pin-source "file:$T/pin" \
		--idse-password-source "file:$T/idse.pass" --yes "$@" >"$C/out.txt" 2>"$C/err") || rc=$?
	no_sanitizer_report "$C/err"
	return "$rc"
}

# calls: the PKCS#11 calls of the last run (pkcs11-spy counts
# C_GetFunctionList too, and so does the README's figure).
calls() { wc -l <"$C/calls.log"; }
logins() { grep -c '^C_Login ' "$C/calls.log" || true; }

# new_key_access LABEL: pkcs11-tool's Access line of the private key LABEL.
new_key_access() {
	p11 --login --pin "$USER_PIN" --list-objects --type privkey 2>/dev/null |
		awk -v l="$1" '/^Private Key Object/ { on = 0 } $1 == "label:" { sub(/^[ \t]*label:[ \t]*/, ""); on = ($0 == l) }
			on && /Access:/ { sub(/^[ \t]*Access:[ \t]*/, ""); print; exit }'
}

# The README's figures are for an RSA-2048 current key (docs/design.md);
# case_new issues an EC one: this wrapper of the service makes it RSA.
cat >"$T/service-rsa" <<SCRIPT
#!/usr/bin/env bash
args=()
for a; do [[ \$a != ec:prime256v1 ]] || a=rsa:2048; args+=("\$a"); done
exec "$IMSS_SERVICE" "\${args[@]}"
SCRIPT
chmod +x "$T/service-rsa"

# === defaults, from a token credential ==========================================
IMSS_SERVICE=$T/service-rsa case_new defaults token
mkdir -p "$C/xdg"
export XDG_STATE_HOME=$C/xdg
promise_renew || die "defaults: renew failed: $(<"$C/err")"
unset XDG_STATE_HOME
S=$C/xdg/imss-renew
J=$S/renew-$RP-$IMSS_TOKEN_SERIAL.json
[[ -f $J ]] || die "defaults: no journal in \$XDG_STATE_HOME/imss-renew: $(ls -la "$C/xdg" "$S" 2>&1)"
assert_eq 'done' "$(jq -r .state "$J")" "defaults: the journal is kept after success, state done"
assert_eq 600 "$(stat -c %a "$J")" "defaults: the journal is mode 0600"
R=$S/request-$RP-$IMSS_TOKEN_SERIAL.der
[[ -f $R ]] || die "defaults: no request-$RP-$IMSS_TOKEN_SERIAL.der in the state directory: $(ls "$S")"
openssl req -inform DER -in "$R" -noout -verify >/dev/null 2>&1 ||
	die "defaults: openssl req -verify refuses the saved request"
echo "ok: defaults: the request is saved in the state directory and verifies"
# check_renewed reads the journal of the case's state/ directory.
cp -p "$J" "$C/state/"
check_renewed "defaults"
[[ $(openssl req -inform DER -in "$R" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1) == \
	"$(spki_of_cert "$C/new-cert.der")" ]] || die "defaults: the saved request is not for the new key"
echo "ok: defaults: the saved request is the new key's"

# The certificate copy and the letter went to the current directory.
# (The journal names the copy in the state directory that a resumed run
# checks; the user's copy in the output directory is never read back.)
cert_copies=("$C"/cwd/certificado-*.cer)
[[ ${#cert_copies[@]} == 1 && -f ${cert_copies[0]} ]] ||
	die "defaults: not one certificate copy in the current directory: ${cert_copies[*]}"
cert_path=${cert_copies[0]}
letter_path=$(jq -r .letter_path "$J")
assert_eq "$(dirname -- "$J")" "$(dirname -- "$(jq -r .cert_path "$J")")" "defaults: the journal's copy is in the state directory"
assert_eq "$C/cwd" "$(dirname -- "$letter_path")" "defaults: the terms letter is in the current directory"
cmp -s "$cert_path" "$C/new-cert.der" || die "defaults: the copy is not the certificate on the token"
[[ $(head -c 5 "$letter_path") == '%PDF-' ]] || die "defaults: the saved letter is not a PDF"
# Step 5 shows the letter's SHA-256.
letter_sha=$(sha256sum <"$letter_path" | cut -d' ' -f1)
grep -qiF "$letter_sha" "$C/out.txt" ||
	grep -qiF "$(sed 's/../&:/g; s/:$//' <<<"$letter_sha")" "$C/out.txt" ||
	die "defaults: the letter's SHA-256 $letter_sha is not shown: $(<"$C/out.txt")"
echo "ok: defaults: the letter's SHA-256 is shown"
# Step 7: the new serial, its validity and the files written.
serial=$(jq -r .cert_serial "$J")
assert_contains "$(<"$C/out.txt")" "$serial" "defaults: the report names the new serial"
not_after=$(date -u -d "$(openssl x509 -inform DER -in "$C/new-cert.der" -noout -enddate | cut -d= -f2)" +%Y-%m-%d)
assert_contains "$(<"$C/out.txt")" "$not_after" "defaults: the report shows the validity (until $not_after)"
assert_contains "$(<"$C/out.txt")" "$cert_path" "defaults: the report names the certificate copy"
assert_contains "$(<"$C/out.txt")" "$letter_path" "defaults: the report names the letter"
# The default label and type; --yes kept the e-mail.
label=$(new_objects "$C/objects.json" | jq -r '[.[] | select(.class == "private-key")][0].label')
[[ $label =~ ^IMSS\ $RP\ [0-9] ]] || die "defaults: label '$label', expected 'IMSS $RP <time>'"
echo "ok: defaults: the label is '$label'"
assert_eq "$label" "$(new_objects "$C/objects.json" | jq -r '[.[] | select(.class == "certificate")][0].label')" \
	"defaults: the certificate has the key's label"
bits=$(openssl x509 -inform DER -in "$C/new-cert.der" -noout -text | sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p')
assert_contains "$(openssl x509 -inform DER -in "$C/new-cert.der" -noout -text)" "rsaEncryption" \
	"defaults: the new key is RSA"
assert_eq 2048 "$bits" "defaults: the new key is rsa:2048"
subject=$(openssl x509 -inform DER -in "$C/new-cert.der" -noout -subject -nameopt RFC2253)
assert_contains "$subject" "emailAddress=$EMAIL" "defaults: --yes without --email keeps the e-mail"
# The key never leaves the token.
access=$(new_key_access "$label")
assert_contains "$access" "sensitive" "defaults: the new private key is sensitive"
assert_contains "$access" "never extractable" "defaults: the new private key is never extractable"
# The call budget with the current key on the token.
n=$(calls)
((n <= 25)) || die "defaults: $n PKCS#11 calls, the README says 25 ($(awk '{print $1}' "$C/calls.log" | tr '\n' ' '))"
echo "ok: defaults: $n PKCS#11 calls (README: 25)"
assert_eq 1 "$(logins)" "defaults: one C_Login"

# === ~/.local/state, --out-dir created, --label, --type, from a .pfx ============
IMSS_SERVICE=$T/service-rsa case_new home pfx
mkdir -p "$C/home"
(
	unset XDG_STATE_HOME
	export HOME=$C/home
	promise_renew --out-dir "$C/new/out/dir" --label 'Mi llave 2026' --type ec:secp384r1
) || die "home: renew failed: $(<"$C/err")"
S=$C/home/.local/state/imss-renew
J=$S/renew-$RP-$IMSS_TOKEN_SERIAL.json
[[ -f $J ]] || die "home: no journal in ~/.local/state/imss-renew: $(find "$C/home" 2>&1)"
assert_eq 'done' "$(jq -r .state "$J")" "home: the journal is in ~/.local/state/imss-renew"
[[ -d $C/new/out/dir ]] || die "home: --out-dir was not created"
copies=("$C"/new/out/dir/certificado-*.cer)
[[ -f ${copies[0]} ]] || die "home: no certificate copy in the new --out-dir"
echo "ok: home: the copy is in the new --out-dir"
assert_eq "$C/new/out/dir" "$(dirname -- "$(jq -r .letter_path "$J")")" "home: the letter is in the new --out-dir"
[[ -z $(ls -A "$C/cwd") ]] || die "home: files written to the current directory: $(ls -A "$C/cwd")"
cp -p "$J" "$C/state/"
check_renewed "home"
# (Private key and certificate: the public key was a session object.)
assert_eq 2 "$(jq '[.objects[] | select(.label == "Mi llave 2026")] | length' "$C/objects.json")" \
	"home: --label names the key and the certificate"
assert_contains "$(openssl x509 -inform DER -in "$C/new-cert.der" -noout -text)" "secp384r1" \
	"home: --type ec:secp384r1 made a P-384 key"

# === the call budget with a .pfx (defaults, rsa:2048) ===========================
IMSS_SERVICE=$T/service-rsa case_new budget pfx
renew_run || die "budget: renew failed: $(<"$C/err")"
check_renewed "budget"
n=$(calls)
((n <= 16)) || die "budget: $n PKCS#11 calls with a .pfx, the README says 16 ($(awk '{print $1}' "$C/calls.log" | tr '\n' ' '))"
echo "ok: budget: $n PKCS#11 calls with a .pfx (README: 16)"
assert_eq 1 "$(logins)" "budget: one C_Login"

# === a .cer + .key credential; nothing waits for an answer ======================
# The .key is what IMSS hands out: an encrypted PKCS#8 in DER, next to the
# .cer of the same name.  Secrets come from fd:3 and env:; stdin is a FIFO
# held open and never written: a question would hang until `timeout`.
case_new cerkey pfx
openssl pkcs12 -in "$C/old.pfx" -passin "file:$T/pfx.pass" -clcerts -nokeys 2>/dev/null |
	openssl x509 -outform DER -out "$C/empresa.cer" || die "cerkey: no certificate from the .pfx"
openssl pkcs12 -in "$C/old.pfx" -passin "file:$T/pfx.pass" -nocerts -nodes 2>/dev/null |
	openssl pkcs8 -topk8 -v2 aes-256-cbc -outform DER -passout "file:$T/pfx.pass" \
		-out "$C/empresa.key" || die "cerkey: no .key from the .pfx"
sha256sum "$C/empresa.cer" "$C/empresa.key" >"$C/cerkey.sha256"
CURRENT=(--credential "$C/empresa.cer" --password-source env:PROMISE_KEY_PASS)
mkfifo "$C/stdin"
exec {hold}<>"$C/stdin"
rc=0
PROMISE_KEY_PASS=$(<"$T/pfx.pass") PROMISE_IDSE_PASS=$(<"$T/idse.pass") \
	timeout 120 "$IMSS_RENEW" --module "$SOFTHSM" renew --server "$SVC_URL" --user "$USER" \
	"${CURRENT[@]}" --token "$TOKEN_URI" --ca "$D/ca.pem" --pin-source fd:3 \
	--idse-password-source env:PROMISE_IDSE_PASS --state-dir "$C/state" --out-dir "$C/out" \
	--yes <"$C/stdin" 3<"$T/pin" >"$C/out.txt" 2>"$C/err" || rc=$?
exec {hold}>&-
no_sanitizer_report "$C/err"
[[ $rc != 124 ]] || die "cerkey: renew --yes with every secret from fd:/env: waited for an answer"
assert_eq 0 "$rc" "cerkey: renew from a .cer + .key, secrets from fd:3 and env:, stdin never written"
check_renewed "cerkey"
sha256sum -c --quiet "$C/cerkey.sha256" || die "cerkey: the .cer or the .key changed"
echo "ok: cerkey: the .cer and the .key are unchanged"

# === --type rsa:3072 and rsa:4096 ===============================================
for type in rsa:3072 rsa:4096; do
	case_new "type-${type/:/-}" pfx
	renew_run --type "$type" >"$C/out.txt" || die "$type: renew failed: $(<"$C/err")"
	check_renewed "$type"
	bits=$(openssl x509 -inform DER -in "$C/new-cert.der" -noout -text | sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p')
	assert_eq "${type#rsa:}" "$bits" "--type $type: the new certificate's key is RSA of ${type#rsa:} bits"
done

# === a token with a PIN pad =====================================================
# "A token with a PIN pad is used through its pad": the fault module plays
# the pad (FAULT_TOKEN_FLAGS=pinpad; the PIN "typed" is FAULT_PINPAD_PIN).
# The --pin-source names a file that does not exist: read, it would fail.
case_new pinpad token
renew_args
RENEW_ARGS=("${RENEW_ARGS[@]/#file:$T\/pin/file:$T/no-such-pin}")
[[ " ${RENEW_ARGS[*]} " == *" file:$T/no-such-pin "* ]] || die "pinpad: the PIN source was not replaced"
: >"$C/calls.log"
FAULT_TOKEN_FLAGS=pinpad FAULT_PINPAD_PIN=$USER_PIN FAULT_LOG=$C/calls.log \
	"$IMSS_RENEW" --module "$FAULT_MODULE" renew "${RENEW_ARGS[@]}" >"$C/out.txt" 2>"$C/err" ||
	die "pinpad: renew through the PIN pad failed: $(<"$C/err")"
no_sanitizer_report "$C/err"
check_renewed "pinpad"
assert_eq 1 "$(logins)" "pinpad: one C_Login, through the pad, for the whole run"

echo "$T_NAME: all passed"
