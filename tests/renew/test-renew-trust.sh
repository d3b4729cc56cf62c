#!/usr/bin/env bash
# Trust in CAs and certificates (issue 9, findings 2, 3 and 10):
#  - an end-entity certificate given as --ca is refused and pins nothing;
#    so is one planted as the pin;
#  - an unreachable server given with --ca pins nothing;
#  - a DER --ca works (TLS too) and is pinned once a handshake succeeded;
#  - a second renewal WITHOUT --ca uses the pin (a use-after-free made it
#    fail as "not the one trusted", or crash under ASan);
#  - a different --ca given explicitly replaces the pin and says so, with
#    both SHA-256; a later run without --ca trusts the new pin;
#  - killed at C_CreateObject, with the copy the journal names and the
#    --out-dir copy replaced by a certificate for the same key from another
#    CA (O=EVIL, valid to 2081): the resumed run refuses the copy, asks the
#    service again, stores the honest certificate, rewrites the user's
#    copy; the same after the journal says done (the certificate gone from
#    the token, the copy replaced by one the service's CA signed for O=EVIL).
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=lib.sh
. "$TESTS_DIR/renew/lib.sh"

svc_init
svc_start
PORT=$(svc_port)
SHARED=$T/shared-state        # one state directory, so the pin is shared
mkdir -p -m 700 "$SHARED"
PIN_FILE=$SHARED/$(pin_name "127.0.0.1:$PORT")

# The journal in the state directory of the case ($STATE, else $C/state).
journal() { printf '%s' "${STATE:-$C/state}/renew-$RP-$IMSS_TOKEN_SERIAL.json"; }
# trust_run STATE_DIR CA|- [ARGS]: renew_run with that state directory and
# that --ca (- for none).
trust_run() {
	local state=$1 ca=$2 rc=0 i args=()
	shift 2
	STATE=$state
	renew_args
	for ((i = 0; i < ${#RENEW_ARGS[@]}; i++)); do
		case ${RENEW_ARGS[i]} in
		--ca | --state-dir) i=$((i + 1)) ;;
		*) args+=("${RENEW_ARGS[i]}") ;;
		esac
	done
	args+=(--state-dir "$state")
	[[ $ca == - ]] || args+=(--ca "$ca")
	: >"$C/calls.log"
	{ FAULT_LOG=$C/calls.log "$IMSS_RENEW" --module "$FAULT_MODULE" renew "${args[@]}" "$@" \
		>"$C/out.txt" 2>"$C/err"; } 2>/dev/null || rc=$?
	no_sanitizer_report "$C/err"
	return "$rc"
}
# sha256_of PEM|DER: the certificate's SHA-256, lowercase hex without colons.
sha256_of() {
	openssl x509 -in "$1" -inform "$2" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : |
		tr 'A-F' 'a-f'
}
pins() { find "$1" -maxdepth 1 -name 'ca-*.pem' | wc -l; }

# --- an end-entity certificate as --ca, or as the pin ---------------------------
case_new end-entity token
rc=0
trust_run "$C/state" "$C/old-cert.der" || rc=$?
assert_eq 1 "$rc" "end-entity --ca: refused"
grep -q 'is not a CA certificate' "$C/err" || die "end-entity --ca: unclear message: $(<"$C/err")"
assert_eq 0 "$(pins "$C/state")" "end-entity --ca: nothing pinned"
mkdir -p -m 700 "$C/planted"
openssl x509 -inform DER -in "$C/old-cert.der" -out "$C/planted/$(pin_name "127.0.0.1:$PORT")"
rc=0
trust_run "$C/planted" - || rc=$?
assert_eq 1 "$rc" "end-entity certificate as the pin: refused"
grep -q 'it replaces the pin' "$C/err" || die "end-entity pin: the message does not say how to replace it: $(<"$C/err")"

# --- an unreachable server with --ca ----------------------------------------------
# Port 1 on loopback: nothing listens there.
rc=0
SERVER=https://127.0.0.1:1 trust_run "$C/state" "$D/ca.pem" || rc=$?
assert_eq 1 "$rc" "unreachable server: the run fails"
grep -q 'Cannot reach https://127.0.0.1:1' "$C/err" || die "unreachable server: unclear message: $(<"$C/err")"
assert_eq 0 "$(pins "$C/state")" "unreachable server: its --ca is not pinned"

# --- a DER --ca, pinned after the handshake ---------------------------------------
openssl x509 -in "$D/ca.pem" -outform DER -out "$T/ca.der"
case_new der-ca token
trust_run "$SHARED" "$T/ca.der" || die "DER --ca: the renewal failed: $(<"$C/err")"
check_renewed "DER --ca"
[[ -s $PIN_FILE ]] || die "DER --ca: not pinned in $PIN_FILE"
assert_eq "$(sha256_of "$D/ca.pem" PEM)" "$(sha256_of "$PIN_FILE" PEM)" "DER --ca: the service's CA is pinned"
grep -q 'is pinned in' "$C/out.txt" || die "DER --ca: the run does not say it pinned: $(<"$C/out.txt")"

# --- a second renewal without --ca: the pin -------------------------------------
case_new pinned token
trust_run "$SHARED" - || die "without --ca, the pinned CA: the renewal failed: $(<"$C/err")"
check_renewed "without --ca, the pinned CA"
! grep -q 'is pinned in\|is replaced' "$C/out.txt" || die "without --ca: the pin was written again: $(<"$C/out.txt")"
echo "ok: a renewal without --ca trusts the CA pinned by the first one"

# --- another --ca, given explicitly, replaces the pin -----------------------------
# The service's CA certificate made again (same key and name, another
# serial and validity): TLS and the certificates it issued chain to both.
subject=$(openssl x509 -in "$D/ca.pem" -noout -subject -nameopt compat | sed 's/^subject=//')
openssl req -x509 -new -key "$D/ca.key" -subj "$subject" -days 400 -set_serial 0x7E57 \
	-addext 'basicConstraints=critical,CA:TRUE,pathlen:0' -addext 'keyUsage=critical,keyCertSign,cRLSign' \
	-out "$T/ca2.pem" 2>"$T/ca2.err" || die "cannot make a second CA certificate: $(<"$T/ca2.err")"
old_sha=$(sha256_of "$D/ca.pem" PEM)
new_sha=$(sha256_of "$T/ca2.pem" PEM)
[[ $old_sha != "$new_sha" ]] || die "the second CA certificate is the first"
case_new replaced token
trust_run "$SHARED" "$T/ca2.pem" || die "another --ca: the renewal failed: $(<"$C/err")"
check_renewed "another --ca"
assert_eq "$new_sha" "$(sha256_of "$PIN_FILE" PEM)" "another --ca: it is pinned now"
grep -i 'replaced' "$C/out.txt" | grep -qi "$old_sha" || die "another --ca: the run does not name the old pin: $(<"$C/out.txt")"
grep -i 'replaced' "$C/out.txt" | grep -qi "$new_sha" || die "another --ca: the run does not name the new pin: $(<"$C/out.txt")"
echo "ok: another --ca replaces the pin and says so ($old_sha -> $new_sha)"
case_new after-replace token
trust_run "$SHARED" - || die "without --ca after the replacement: failed: $(<"$C/err")"
check_renewed "without --ca, the replaced pin"

# --- killed at C_CreateObject, the saved copies replaced ---------------------------
case_new tampered token
rc=0
FAULT_KILL=C_CreateObject:1 trust_run "$C/state" "$D/ca.pem" || rc=$?
assert_eq 137 "$rc" "tampered: killed at C_CreateObject"
assert_eq store-started "$(journal_state)" "tampered: the journal says store-started"
kept=$(jq -r .cert_path "$(journal)")
assert_eq "$C/state" "$(dirname "$kept")" "tampered: the copy for resuming is in the state directory"
assert_eq 600 "$(stat -c %a "$kept")" "tampered: the copy for resuming is private"
mapfile -t user_copies < <(find "$C/out" -name 'certificado-*.cer')
assert_eq 1 "${#user_copies[@]}" "tampered: one user copy in --out-dir"
# Same public key, another CA, O=EVIL, valid to 2081.
openssl x509 -inform DER -in "$kept" -noout -pubkey >"$C/pub.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/evilca.key" \
	-subj '/CN=Evil CA' -days 30 -out "$C/evilca.pem" 2>/dev/null || die "cannot make the other CA"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/junk.key" \
	-subj "/O=EVIL/OU=$RP/x500UniqueIdentifier=EPR010101AB1/CN=EVIL" -out "$C/evil.csr" 2>/dev/null ||
	die "cannot make the forged request"
openssl x509 -req -in "$C/evil.csr" -CA "$C/evilca.pem" -CAkey "$C/evilca.key" -force_pubkey "$C/pub.pem" \
	-set_serial 0x0BAD -days 20000 -outform DER -out "$C/evil.der" 2>/dev/null || die "cannot forge"
cp "$C/evil.der" "$kept"
cp "$C/evil.der" "${user_copies[0]}"
trust_run "$C/state" "$D/ca.pem" || die "tampered: the resumed run failed: $(<"$C/err")"
grep -q 'is not used' "$C/out.txt" || die "tampered: the run does not say the saved copy was refused: $(<"$C/out.txt")"
check_renewed "tampered copies, resumed"
cmp -s "$C/new-cert.der" "${user_copies[0]}" || die "tampered: the user's copy is not the certificate on the token"
echo "ok: killed at C_CreateObject, copies replaced: refused, fetched again, the honest certificate stored"

# The journal says done; the certificate gone from the token and the copy
# replaced by one the service's own CA signed for O=EVIL: the run that finds
# it "renewed already" checks the copy too.
id=$(jq -r .key_id "$(journal)")
p11 --login --pin "$USER_PIN" --delete-object --type cert --id "$id" >/dev/null 2>&1 ||
	die "done: cannot delete the new certificate"
openssl x509 -req -in "$C/evil.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -force_pubkey "$C/pub.pem" \
	-set_serial 0x0BAE -days 100 -outform DER -out "$C/evil2.der" 2>/dev/null || die "cannot forge with the CA"
cp "$C/evil2.der" "$kept"
trust_run "$C/state" "$D/ca.pem" || die "done, tampered: the run failed: $(<"$C/err")"
grep -q "is not used: its subject is not this employer" "$C/out.txt" ||
	die "done, tampered: the run does not say why the copy was refused: $(<"$C/out.txt")"
check_renewed "done, tampered copy, certificate gone"
echo "ok: journal done, copy replaced by an O=EVIL certificate of the service's CA: refused, the honest one stored"

echo "$T_NAME: all passed"
