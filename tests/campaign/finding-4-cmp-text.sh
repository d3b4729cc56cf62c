#!/usr/bin/env bash
# Review 4, finding: the text a CMP server puts in a rejection (its
# PKIFreeText) reached the terminal raw in the error detail: a hostile or
# broken CA could send ESC ] 0 ; ... BEL ESC [ 2 J and retitle and clear
# the terminal of whoever renewed.  Now an error's detail and warnings are
# printed with each control character but newline and tab as '?' (the
# detail of --json, escaped by JSON, keeps them).  Against OpenSSL's own
# CMP server (`openssl cmp -port`) answering "rejection" with such a text.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
# shellcheck source=SCRIPTDIR/../protocol/lib.sh
. "$TESTS_DIR/protocol/lib.sh"
t_need openssl python3 od
t_make_token IMSS
trap cmp_cleanup EXIT
tool() { "$IMSS_RENEW" --module "${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}" "$@"; }
# A test CA, the CMP server's certificate, the current credential (.cer + .key).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" \
	-out "$T/ca.pem" -subj '/CN=CA de prueba CMP' -days 30 \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	2>/dev/null || die "test CA"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/srv.key" \
	-subj '/CN=servidor CMP' -out "$T/srv.csr" 2>/dev/null || die "server request"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -days 30 -set_serial 7 \
	-out "$T/srv.pem" 2>/dev/null || die "server certificate"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/cur.pem" 2>/dev/null
printf 'clave-del-key' >"$T/key.pass"
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$T/cur.pem" -outform DER -out "$T/actual.key" \
	-passout "file:$T/key.pass" || die "encrypted .key"
openssl req -new -key "$T/cur.pem" -subj '/O=EMPRESA SA/OU=Y7777777108/CN=EMPRESA SA' \
	-out "$T/cur.csr" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' >"$T/ext"
openssl x509 -req -in "$T/cur.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -days 60 -set_serial 9 \
	-extfile "$T/ext" -outform DER -out "$T/actual.cer" 2>/dev/null || die "current certificate"
openssl x509 -inform DER -in "$T/actual.cer" -out "$T/actual.pem"

# The server rejects every request, with a text holding escape sequences.
evil=$'rechazada\033]0;pwned\a\033[2J\033[31m'
mock_start "$T/actual.pem" -pkistatus 2 -failure 2 -statusstring "$evil"
mkdir -m 700 "$T/state"
mkdir "$T/out"
rc=0
tool renew --protocol cmp --server "$CMP_URL" --credential "$T/actual.cer" \
	--key-file "$T/actual.key" --password-source "file:$T/key.pass" --token "$IMSS_TOKEN_URI" \
	--type ec:prime256v1 --ca "$T/ca.pem" --pin-source "file:$T/pin" --state-dir "$T/state" \
	--out-dir "$T/out" --yes >/dev/null 2>"$T/err" || rc=$?
[[ $rc != 0 ]] || die "a rejected key update succeeded"
grep -q 'rechazada' "$T/err" || die "the server's text is not in the message: $(<"$T/err") $(<"$T/mock.log")"
found=$(od -An -tx1 -v "$T/err" | tr -s ' \n' '  ' | grep -Eo ' (1b|07) ' | head -1 || :)
[[ -z $found ]] || die "the server's control bytes ($found) reach the terminal raw: $(od -c "$T/err" | grep -m3 '033')"
echo "PASS"
