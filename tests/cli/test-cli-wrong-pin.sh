#!/usr/bin/env bash
# imss-renew keygen with a wrong PIN: exit 1, a message that says the PIN is
# incorrect, and no key made on the token.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
t_need pkcs11-tool jq

t_make_token "IMSS CLI wrong PIN"
(umask 077 && printf '%s' 9876 >"$T/wrong-pin")

imss() { "$IMSS_RENEW" --module "$SOFTHSM2_MODULE" "$@"; }
capture() { local file=$1; shift; "$@" >"$file"; }

assert_exit 1 capture "$T/out" imss keygen --token "$IMSS_TOKEN_URI" \
	--label never --pin-source "file:$T/wrong-pin"
assert_contains "$(<"$T/stderr")" "imss-renew: The PIN is incorrect" "wrong PIN named"
assert_eq "" "$(<"$T/out")" "nothing on stdout"
[[ $(<"$T/stderr") != *9876* ]] || die "the wrong PIN appears in the message"

assert_exit 1 capture "$T/out.json" imss --json keygen --token "$IMSS_TOKEN_URI" \
	--label never --pin-source "file:$T/wrong-pin"
assert_eq PIN_INCORRECT "$(jq -r .error.code "$T/out.json")" "--json error code IMSS_ERR_PIN_INCORRECT"
assert_contains "$(jq -r .error.message "$T/out.json")" "PIN is incorrect" "--json error message"

# No key was made: with the right PIN the token shows no key objects.
listing=$(pkcs11-tool --module "$SOFTHSM2_MODULE" --login --pin "$USER_PIN" -O 2>&1) ||
	die "pkcs11-tool cannot list the token: $listing"
[[ $listing != *"Private Key Object"* ]] || die "a private key was made: $listing"
[[ $listing != *"Public Key Object"* ]] || die "a public key was made: $listing"
assert_exit 0 capture "$T/objects.json" imss --json objects --token "$IMSS_TOKEN_URI" \
	--pin-source "file:$T/pin"
assert_eq 0 "$(jq '.objects | length' "$T/objects.json")" "objects --json: no objects"

echo "PASS: $T_NAME"
