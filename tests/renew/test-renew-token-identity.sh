#!/usr/bin/env bash
# Per-token state is named by the token's identity, not by its serial alone
# (issue 11): the fault module makes two SoftHSM tokens of one employer
# report the same serial, 0000000000000000, as every tpm2-pkcs11 token does.
#  - `tokens --json` gives them different identities ("id-" and a digest);
#  - a renewal killed on token A after keygen leaves its journal under A's
#    identity; a renewal of the same employer on token B, while A's lock is
#    held, neither waits for that lock nor takes A's journal: it completes
#    under B's own journal, and A's journal is left as it was;
#  - a journal an older version left under the serial's name is found and
#    taken over (moved to the identity's name): renew continues it to the
#    end (resume after an upgrade), and `renew --abandon` without an
#    employer finds one there too;
#  - such a journal whose key is on token A is not taken by token B (same
#    serial): B renews on its own journal and says why it left it, and
#    `--abandon` on B finds nothing to undo; on A, `--abandon` takes it.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=lib.sh
. "$TESTS_DIR/renew/lib.sh"
command -v flock >/dev/null || { echo "SKIP: flock is missing" >&2; exit 77; }
export FAULT_TOKEN_SERIAL=0000000000000000
ZERO=$FAULT_TOKEN_SERIAL

svc_init
svc_start

# identity LABEL: the identity imss-renew gives that token (through the
# fault module, so with the zero serial).
identity() {
	"$IMSS_RENEW" --json --module "$FAULT_MODULE" tokens |
		jq -r --arg l "$1" '.tokens[] | select(.label == $l) | .identity'
}
# add_token LABEL: another token beside the case's, in its store.
add_token() {
	IMSS_USER_PIN=$USER_PIN IMSS_SO_PIN=$SO_PIN "$MAKE_TOKEN" --dir "$C/softhsm" --add \
		--label "$1" --init-tool "$SOFTHSM_TOKEN_INIT" --module "$SOFTHSM" >/dev/null ||
		die "could not add token '$1'"
}

# --- a journal under the serial's name, from before the identity -------------------
case_new legacy pfx
id_a=$(identity IMSS)
[[ $id_a =~ ^id-[0-9a-f]{16}$ ]] || die "legacy: the zero-serial token's identity is '$id_a'"
echo "ok: legacy: a zero-serial token's identity is $id_a"
rc=0
FAULT_KILL=C_GenerateKeyPair:1:after renew_run >"$C/out.txt" || rc=$?
[[ $rc != 0 ]] || die "legacy: the killed run exited 0"
[[ -e $C/state/renew-$RP-$id_a.json ]] || die "legacy: no journal under the identity: $(ls "$C/state")"
echo "ok: legacy: the killed run left its journal under the identity"
[[ ! -e $C/state/renew-$RP-$ZERO.json ]] || die "legacy: a journal under the zero serial"
mv "$C/state/renew-$RP-$id_a.json" "$C/state/renew-$RP-$ZERO.json"
renew_run >"$C/out.txt" || die "legacy: renew did not continue the old journal: $(<"$C/err")"
assert_contains "$(<"$C/out.txt")" "Continuing the interrupted renewal" "legacy: the old journal was continued"
[[ ! -e $C/state/renew-$RP-$ZERO.json ]] || die "legacy: the old journal is still there"
assert_eq done "$(jq -r .state "$C/state/renew-$RP-$id_a.json")" \
	"legacy: the journal, under the identity now, is done"
objects_json "$C/objects.json"
# (Its public key was a session object: private key and certificate.)
assert_eq "certificate,private-key" \
	"$(jq -r '[.objects[].class] | sort | join(",")' "$C/objects.json")" \
	"legacy: one key (the continued one) and its certificate on the token"

# --- two tokens with the same serial ---------------------------------------------
case_new twins pfx
add_token "IMSS B"
id_a=$(identity IMSS)
id_b=$(identity "IMSS B")
[[ $id_a =~ ^id-[0-9a-f]{16}$ && $id_b =~ ^id-[0-9a-f]{16}$ && $id_a != "$id_b" ]] ||
	die "twins: identities '$id_a' and '$id_b'"
echo "ok: twins: two zero-serial tokens, two identities"
rc=0
FAULT_KILL=C_GenerateKeyPair:1:after renew_run >"$C/out.txt" || rc=$?
[[ $rc != 0 ]] || die "twins: the killed run on A exited 0"
journal_a=$C/state/renew-$RP-$id_a.json
[[ -e $journal_a ]] || die "twins: no journal of A: $(ls "$C/state")"
sum_a=$(sha256sum <"$journal_a")
# A renewal holds A's lock, as a running one would.
exec {lock_fd}>"$C/state/token-$id_a.lock"
flock -x "$lock_fd"
TOKEN_URI='pkcs11:token=IMSS%20B'
renew_run {lock_fd}>&- >"$C/out.txt" || die "twins: the renewal on B failed: $(<"$C/err")"
exec {lock_fd}>&-
echo "ok: twins: B renewed while A's lock was held"
[[ $(<"$C/out.txt") != *"Continuing the interrupted renewal"* ]] ||
	die "twins: B continued A's renewal"
echo "ok: twins: B did not continue A's renewal"
assert_eq done "$(jq -r .state "$C/state/renew-$RP-$id_b.json")" "twins: B's own journal is done"
assert_eq "$sum_a" "$(sha256sum <"$journal_a")" "twins: A's journal is as the killed run left it"
[[ -e $C/state/token-$id_b.lock && ! -e $C/state/token-$ZERO.lock ]] ||
	die "twins: the locks are not one per identity: $(ls "$C/state")"
echo "ok: twins: one lock per identity"

# --- --abandon finds a journal under the serial's name ----------------------------
mv "$journal_a" "$C/state/renew-$RP-$ZERO.json"
FAULT_LOG=/dev/null "$IMSS_RENEW" --module "$FAULT_MODULE" renew --abandon --token "$IMSS_TOKEN_URI" \
	--state-dir "$C/state" --pin-source "file:$T/pin" >"$C/abandon.out" 2>"$C/err" ||
	die "abandon: failed: $(<"$C/err")"
[[ ! -e $C/state/renew-$RP-$ZERO.json && ! -e $journal_a ]] ||
	die "abandon: the journal is still there: $(ls "$C/state")"
echo "ok: abandon: the journal under the serial's name was found and removed"
assert_eq done "$(jq -r .state "$C/state/renew-$RP-$id_b.json")" "abandon: B's journal is left alone"

# --- a serial-named journal is taken only by the token that holds its key --------
# (safety finding 2: with the same serial, the first token to run took the
# other's journal)
case_new legacy-twins pfx
add_token "IMSS B"
id_a=$(identity IMSS)
id_b=$(identity "IMSS B")
rc=0
FAULT_KILL=C_GenerateKeyPair:1:after renew_run >"$C/out.txt" || rc=$?
[[ $rc != 0 ]] || die "legacy twins: the killed run on A exited 0"
legacy=$C/state/renew-$RP-$ZERO.json
mv "$C/state/renew-$RP-$id_a.json" "$legacy"
sum_legacy=$(sha256sum <"$legacy")
TOKEN_URI='pkcs11:token=IMSS%20B'
renew_run >"$C/out.txt" || die "legacy twins: the renewal on B failed: $(<"$C/err")"
[[ $(<"$C/out.txt") != *"Continuing the interrupted renewal"* ]] ||
	die "legacy twins: B continued A's renewal"
echo "ok: legacy twins: B did not continue A's serial-named journal"
assert_eq "$sum_legacy" "$(sha256sum <"$legacy" 2>/dev/null)" \
	"legacy twins: A's serial-named journal is left where it was, unchanged"
assert_contains "$(<"$C/err")" "that is not on this token: it may be another token's with the same serial" \
	"legacy twins: B says why it left the journal"
assert_eq done "$(jq -r .state "$C/state/renew-$RP-$id_b.json")" "legacy twins: B's own journal is done"
# abandon_on URI: renew --abandon without an employer on that token.
abandon_on() {
	FAULT_LOG=/dev/null "$IMSS_RENEW" --module "$FAULT_MODULE" renew --abandon --token "$1" \
		--state-dir "$C/state" --pin-source "file:$T/pin" >"$C/abandon.out" 2>"$C/err"
}
rc=0
abandon_on 'pkcs11:token=IMSS%20B' || rc=$?
[[ $rc != 0 ]] || die "legacy twins: --abandon on B found something to undo"
assert_contains "$(<"$C/err")" "No unfinished renewal on this token" \
	"legacy twins: --abandon on B does not take A's serial-named journal"
assert_eq "$sum_legacy" "$(sha256sum <"$legacy" 2>/dev/null)" \
	"legacy twins: after --abandon on B, A's journal is still unchanged"
abandon_on "$IMSS_TOKEN_URI" || die "legacy twins: --abandon on A failed: $(<"$C/err")"
[[ ! -e $legacy && ! -e $C/state/renew-$RP-$id_a.json ]] ||
	die "legacy twins: A's journal is still there: $(ls "$C/state")"
echo "ok: legacy twins: --abandon on A, which holds the journal's key, takes it over and undoes it"
echo "PASS: $T_NAME"
