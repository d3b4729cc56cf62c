#!/usr/bin/env bash
# check tells the truth after a renewal (issue 12): an employer renewed
# against the reference service on SoftHSM is no longer a reminder (exit 0;
# its old certificate, superseded by the new one whose key is beside it,
# shown with --all and marked, with and without login); once the new key
# is gone the old certificate counts again; a certificate retired by
# --retire-old is not counted and shows as retired; with no token (a module
# with no slot) check exits 1 and says why, pcscd's state included.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
svc_init
svc_start

capture() { local file=$1; shift; "$@" >"$file"; }
chk() { "$IMSS_RENEW" --module "$SOFTHSM" check "$@" </dev/null; }
# new_serial: the serial of the certificate the last JSON renewal issued.
new_serial() { jq -r 'select(.event == "done") | .serial' "$C/renew.jsonl"; }

# Renewed: the old certificate is superseded.
case_new renewed token
assert_exit 11 capture "$C/before.txt" chk --token "$TOKEN_URI"
assert_contains "$(<"$C/before.txt")" "EXPIRED: EMPRESA $RP SA DE CV" "before: the expired one is a reminder"
JSON=1 renew_run >"$C/renew.jsonl" || die "renew failed: $(<"$C/err")"
new=$(new_serial)
[[ -n $new && $new != "$OLD_SERIAL" ]] || die "no new serial in the renewal's output"
assert_exit 0 capture "$C/after.txt" chk --token "$TOKEN_URI"
assert_eq "OK" "$(grep -E '^[A-Z]+:' "$C/after.txt" | cut -d: -f1 | xargs)" "after: only the new certificate"
assert_contains "$(<"$C/after.txt")" "serial $new:" "after: the new serial"
assert_contains "$(<"$C/after.txt")" "1 superseded or retired certificate is not counted (shown with --all)." \
	"after: the old one counted apart"
assert_exit 0 capture "$C/all.txt" chk --token "$TOKEN_URI" --all
assert_eq "SUPERSEDED OK" "$(grep -E '^[A-Z]+:' "$C/all.txt" | cut -d: -f1 | xargs)" \
	"--all: the old one first (expired), marked"
assert_contains "$(grep '^SUPERSEDED:' "$C/all.txt")" "serial $OLD_SERIAL: expired" "--all: the old serial"
assert_contains "$(grep '^SUPERSEDED:' "$C/all.txt")" "superseded by serial $new" "--all: superseded by the new serial"
assert_exit 0 capture "$C/all.json" "$IMSS_RENEW" --module "$SOFTHSM" --json check --all --token "$TOKEN_URI"
assert_eq "ok|$OLD_SERIAL:expired:$new:false $new:ok:null:false" \
	"$(jq -r '.status + "|" + ([.certificates[] | "\(.serial):\(.status):\(.superseded_by):\(.retired)"] | join(" "))' "$C/all.json")" \
	"--all --json: status ok, the old one superseded by the new"
# Logged in, the new key is seen beside its certificate: the same answer.
assert_exit 0 capture "$C/login.txt" chk --token "$TOKEN_URI" --pin-source "file:$T/pin" --all
assert_contains "$(<"$C/login.txt")" "superseded by serial $new" "--login: superseded, the key checked"
# Every token present (no source): the same.
assert_exit 0 capture "$C/every.txt" chk
# status marks it too.
assert_exit 0 capture "$C/status.txt" "$IMSS_RENEW" --module "$SOFTHSM" status --token "$TOKEN_URI"
assert_contains "$(<"$C/status.txt")" "no: superseded by serial $new" "status: the old one marked"

# The new key gone (logged in, so it is checked): the old one counts again.
objects_json "$C/objects.json"
new_id=$(jq -r '.objects[] | select(.class == "private-key" and (.label | startswith("IMSS R"))) | .id' "$C/objects.json")
[[ -n $new_id ]] || die "the new key is not on the token"
p11 --login --pin "$USER_PIN" --delete-object --type privkey --id "$new_id" >/dev/null 2>&1 ||
	die "cannot delete the new key"
assert_exit 11 capture "$C/nokey.txt" chk --token "$TOKEN_URI" --pin-source "file:$T/pin"
assert_contains "$(<"$C/nokey.txt")" "EXPIRED: EMPRESA $RP SA DE CV, registro patronal $RP, serial $OLD_SERIAL" \
	"the new certificate without its key supersedes nothing"

# Retired by --retire-old: not counted, shown as retired.
case_new retired token
renew_run --retire-old >"$C/out.txt" || die "retire: renew failed: $(<"$C/err")"
assert_exit 0 capture "$C/all.txt" chk --token "$TOKEN_URI" --all
assert_contains "$(grep '^RETIRED:' "$C/all.txt")" "serial $OLD_SERIAL: expired" "retired: marked RETIRED"
assert_contains "$(grep '^RETIRED:' "$C/all.txt")" "retired by --retire-old" "retired: says by what"
assert_exit 0 capture "$C/all.json" "$IMSS_RENEW" --module "$SOFTHSM" --json check --all --token "$TOKEN_URI"
assert_eq "true" "$(jq --arg s "$OLD_SERIAL" '.certificates[] | select(.serial == $s) | .retired' "$C/all.json")" \
	"retired: \"retired\": true"

# No token: a module with no slot.  pcscd's socket named by
# PCSCLITE_CSOCK_NAME: absent, then (not as root) one this user may not use.
nothing() { FAULT_NO_SLOTS=1 PCSCLITE_CSOCK_NAME=$1 "$IMSS_RENEW" --module "$FAULT_MODULE" check </dev/null; }
assert_exit 1 capture "$T/out" nothing "$T/no-pcscd.comm"
assert_eq "" "$(<"$T/out")" "no token: nothing on stdout"
assert_contains "$(<"$T/stderr")" "No token was found, and pcscd" "no token: exit 1, the reason"
assert_contains "$(<"$T/stderr")" "is not running" "no token: pcscd is not running"
assert_exit 1 capture "$T/out.json" env FAULT_NO_SLOTS=1 PCSCLITE_CSOCK_NAME="$T/no-pcscd.comm" \
	"$IMSS_RENEW" --module "$FAULT_MODULE" --json check
assert_eq "NO_TOKEN 1" "$(jq -r '"\(.error.code) \(.error.exit)"' "$T/out.json")" "no token --json: NO_TOKEN, 1"
if ((EUID != 0)) && command -v python3 >/dev/null; then
	python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/pcscd.comm"
	chmod 000 "$T/pcscd.comm"
	assert_exit 1 capture "$T/out" nothing "$T/pcscd.comm"
	assert_contains "$(<"$T/stderr")" "has no access to pcscd" "no token: no access to pcscd"
fi

echo "PASS: $T_NAME"
