# shellcheck shell=bash
# Helpers for the token tests that go through the fault module.  Source it
# after tests/lib/common.sh and t_make_token:
#   . "$TESTS_DIR/token/lib.sh"
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
: "${FAULT_MODULE:?FAULT_MODULE is not set (run the test through ctest)}"

export FAULT_PKCS11_REAL=$SOFTHSM2_MODULE
export FAULT_LOG=$T/fault.log

# fault ARGS: the tool through the fault module, with an empty call log.
fault() { : >"$FAULT_LOG"; "$IMSS_RENEW" --module "$FAULT_MODULE" "$@"; }
capture() { local file=$1; shift; "$@" >"$file"; }
# fault_keygen LABEL [ARGS]: keygen through the fault module, stdout in $T/out.
fault_keygen() {
	local label=$1; shift
	capture "$T/out" fault keygen --token "$IMSS_TOKEN_URI" --label "$label" \
		--pin-source "file:$T/pin" "$@"
}

# objects_json: every object on the token, after login, straight from
# SoftHSM, into $T/objects.json.
objects_json() {
	"$IMSS_RENEW" --json --module "$SOFTHSM2_MODULE" objects --token "$IMSS_TOKEN_URI" \
		--pin-source "file:$T/pin" 2>"$T/objects.err" >"$T/objects.json" ||
		die "objects --login failed: $(<"$T/objects.err")"
}

# with_label LABEL: "class=id" of the objects labelled LABEL, sorted, one a line.
with_label() {
	objects_json
	jq -r --arg l "$1" '.objects[] | select(.label == $l) | .class + "=" + .id' \
		"$T/objects.json" | sort
}
