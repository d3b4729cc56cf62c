#!/usr/bin/env bash
# Whole renewals against the reference service with the new key made in a
# TPM 2.0 (swtpm) through tpm2-pkcs11 (issue 11):
#  - RSA 2048, the current credential in a .pfx;
#  - EC P-256, the current credential (RSA) on the TPM token itself (issued
#    there by the service's `issue --token`, which makes its key through the
#    same library);
#  - a renewal killed (SIGKILL, through the fault module wrapping
#    tpm2-pkcs11) just after the TPM made the key: the same command run
#    again continues with that key, and no second key is made.
# Each: exit 0; the journal, named by the token's identity (its serial is
# tpm2-pkcs11's 0000000000000000), is done; the token holds the new key,
# sensitive and never extractable, and its certificate, which openssl
# verifies against the service's CA and which certifies that key; the
# keygen event says what the TPM refused; the old credential is intact.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
# shellcheck source=lib.sh
. "$TESTS_DIR/tpm/lib.sh"

tpm_start
tpm_add_token "IMSS TPM"
TOKEN='pkcs11:token=IMSS%20TPM'
IDENTITY=$(tpm_tool --json tokens | jq -r '.tokens[] | select(.label == "IMSS TPM") | .identity')
[[ $IDENTITY == id-* ]] || die "the TPM token's identity is '$IDENTITY'"
svc_init
svc_start

# tpm_case NAME: a new employer (RP, USER), its directory C.
tpm_case() {
	N_CASES=$((N_CASES + 1))
	C=$T/$1
	mkdir -p "$C/out"
	mkdir -m 700 "$C/state"
	chmod go-w "$C/out"
	RP=$(printf 'R%010d' "$N_CASES")
	USER=$(printf 'USER%06d' "$N_CASES")
	"$IMSS_SERVICE" employer add --dir "$D" --registro-patronal "$RP" \
		--razon-social "EMPRESA $RP SA DE CV" --rfc EPR010101AB1 --email "rh@$RP.example.mx" \
		--user "$USER" --address 'Av. Reforma 1, CDMX' \
		--password-source "file:$T/idse.pass" >/dev/null || die "$1: employer add"
}

# tpm_renew TYPE CURRENT...: the renewal of the case on the TPM token
# (through RENEW_MODULE when set).
tpm_renew() {
	local type=$1
	shift
	"$IMSS_RENEW" --module "${RENEW_MODULE:-$TPM_MODULE}" --json renew --server "$SVC_URL" --user "$USER" "$@" --token "$TOKEN" \
		--type "$type" --ca "$D/ca.pem" --pin-source "file:$T/pin" \
		--idse-password-source "file:$T/idse.pass" --state-dir "$C/state" \
		--out-dir "$C/out" --yes >"$C/out.json" 2>"$C/err" ||
		die "$C: renew --type $type failed: $(tail -n 3 "$C/err") $(tail -n 1 "$C/out.json")"
}

# check_tpm_renewed WHAT KEYTYPE: see the header.
check_tpm_renewed() {
	local what=$1 keytype=$2 journal id
	journal=$C/state/renew-$RP-$IDENTITY.json
	[[ -e $journal ]] || die "$what: no journal under the identity: $(ls "$C/state")"
	assert_eq done "$(jq -r .state "$journal")" "$what: the journal is done"
	id=$(jq -r .key_id "$journal")
	assert_eq done "$(tail -n 1 "$C/out.json" | jq -r .event)" "$what: the last event is done"
	# (a run that continues with a key made earlier makes none)
	[[ $what == *resumed* ]] ||
		assert_contains "$(jq -r 'select(.event == "keygen" and .relaxed_reason) | .relaxed_reason' "$C/out.json")" \
			CKR_GENERAL_ERROR "$what: the keygen event gives the TPM's answer to the sign-only template"
	tpm_tool --json objects --login --token "$TOKEN" --pin-source "file:$T/pin" >"$C/objects.json" ||
		die "$what: objects --login failed"
	assert_eq "certificate private-key public-key" \
		"$(jq -r --arg id "$id" '[.objects[] | select(.id == $id) | .class] | sort | join(" ")' "$C/objects.json")" \
		"$what: the new key pair and its certificate on the token, with the journal's ID"
	assert_eq "$keytype true false true" \
		"$(jq -r --arg id "$id" '.objects[] | select(.id == $id and .class == "private-key") |
			[.key_type, .sensitive, .extractable, .never_extractable] | map(tostring) | join(" ")' "$C/objects.json")" \
		"$what: the new key is $keytype, sensitive, never extractable"
	tpm_tool export --cert "$(jq -r --arg id "$id" '.objects[] | select(.id == $id and .class == "certificate") | .uri' "$C/objects.json")" \
		--out "$C/new.cer" 2>"$C/export.err" || die "$what: export failed: $(<"$C/export.err")"
	openssl verify -CAfile "$D/ca.pem" <(openssl x509 -inform DER -in "$C/new.cer") >/dev/null 2>&1 ||
		die "$what: openssl verify refuses the new certificate"
	echo "ok: $what: openssl verify accepts the new certificate"
	cmp -s "$C/new.cer" "$(jq -r .cert_path "$journal")" || die "$what: the token's certificate is not the copy kept"
	assert_eq "$(jq -r .key_spki_sha256 "$journal")" \
		"$(openssl x509 -inform DER -in "$C/new.cer" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)" \
		"$what: the certificate is for the key the journal recorded"
}

# --- RSA in the TPM, the current credential in a .pfx ---------------------------
tpm_case pfx-rsa
"$IMSS_SERVICE" issue --dir "$D" --registro-patronal "$RP" --expired --key-type ec:prime256v1 \
	--pfx "$C/old.pfx" --pfx-password-source "file:$T/pfx.pass" >/dev/null || die "issue --pfx"
sha256sum <"$C/old.pfx" >"$C/old.sha256"
tpm_renew rsa:2048 --credential "$C/old.pfx" --password-source "file:$T/pfx.pass"
check_tpm_renewed "RSA in the TPM, .pfx" rsa
sha256sum <"$C/old.pfx" | cmp -s - "$C/old.sha256" || die "RSA, .pfx: the .pfx changed"

# --- EC in the TPM, the current credential on the TPM ----------------------------
tpm_case tpm-ec
"$IMSS_SERVICE" issue --dir "$D" --registro-patronal "$RP" --expired --key-type rsa:2048 \
	--token "$TOKEN" --module "$TPM_MODULE" --pin-source "file:$T/pin" --label "IMSS anterior $RP" \
	>/dev/null 2>"$C/issue.err" || die "issue --token on the TPM: $(<"$C/issue.err")"
tpm_tool --json objects --login --token "$TOKEN" --pin-source "file:$T/pin" |
	jq -c --arg l "IMSS anterior $RP" '[.objects[] | select(.label == $l) | {class, id}] | sort_by(.class)' \
	>"$C/old.objects"
assert_eq 3 "$(jq length "$C/old.objects")" "EC, on the TPM: the current key pair and certificate are on the TPM"
tpm_renew ec:prime256v1 --current "pkcs11:token=IMSS%20TPM;object=IMSS%20anterior%20$RP;type=private"
check_tpm_renewed "EC in the TPM, current on the TPM" ec
assert_eq "$(<"$C/old.objects")" \
	"$(jq -c --arg l "IMSS anterior $RP" '[.objects[] | select(.label == $l) | {class, id}] | sort_by(.class)' "$C/objects.json")" \
	"EC, on the TPM: the current key and certificate are untouched"

# --- killed just after the TPM made the key, then run again -------------------------
# private_keys: how many private keys the TPM token holds.
private_keys() {
	tpm_tool --json objects --login --token "$TOKEN" --pin-source "file:$T/pin" |
		jq '[.objects[] | select(.class == "private-key")] | length'
}
tpm_case resume
"$IMSS_SERVICE" issue --dir "$D" --registro-patronal "$RP" --expired --key-type ec:prime256v1 \
	--pfx "$C/old.pfx" --pfx-password-source "file:$T/pfx.pass" >/dev/null || die "issue --pfx"
keys_before=$(private_keys)
# tpm2-pkcs11 refuses the first two templates, and a session public key: each
# level is tried with a session public key, then a token one; the sixth
# call (the third level, token public key) makes the key.
rc=0
( export FAULT_PKCS11_REAL=$TPM_MODULE FAULT_KILL=C_GenerateKeyPair:6:after
	RENEW_MODULE=$FAULT_MODULE tpm_renew ec:prime256v1 --credential "$C/old.pfx" \
		--password-source "file:$T/pfx.pass" ) 2>/dev/null || rc=$?
[[ $rc != 0 ]] || die "resume: the killed run exited 0"
assert_eq $((keys_before + 1)) "$(private_keys)" "resume: the killed run left the one key the TPM made"
tpm_renew ec:prime256v1 --credential "$C/old.pfx" --password-source "file:$T/pfx.pass"
assert_contains "$(jq -r 'select(.event == "resume") | .message' "$C/out.json")" \
	"Continuing the interrupted renewal" "resume: the second run continued the first"
check_tpm_renewed "EC in the TPM, resumed after a kill" ec
assert_eq $((keys_before + 1)) "$(private_keys)" "resume: no second key was made"
echo "PASS: $T_NAME"
