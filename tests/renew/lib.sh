# shellcheck shell=bash
# Helpers for the tests of `imss-renew renew`: a reference service, and for
# each case a fresh employer with its own SoftHSM token (its own store, so
# that every case sees the same slots and makes the same PKCS#11 calls) and
# an expired current credential on the token or in a .pfx.  Source it after
# common.sh:
#   . "$TESTS_DIR/lib/common.sh"; . "$TESTS_DIR/renew/lib.sh"
#   svc_init; svc_start
#   case_new c1 token            # employer + token + credential, sets C, RP, ...
#   renew_run >"$C/out.txt"      # the renewal through the fault module
#   check_renewed                # one new key, its certificate, the old intact
#
# ctest sets IMSS_RENEW, IMSS_SERVICE, FAULT_MODULE, MAKE_TOKEN,
# SOFTHSM_TOKEN_INIT and SOFTHSM2_MODULE (tests/renew/CMakeLists.txt).
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"
: "${IMSS_SERVICE:?IMSS_SERVICE is not set (run the test through ctest)}"
: "${FAULT_MODULE:?FAULT_MODULE is not set (run the test through ctest)}"
t_need openssl jq pkcs11-tool p11tool

SOFTHSM=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
export FAULT_PKCS11_REAL=$SOFTHSM
t_tmpdir
D=$T/svc                      # the service's directory
SVC_PID=''
SVC_URL=''                    # https://127.0.0.1:PORT
BG_PIDS=()                    # other processes a test started
printf 'Secreto123' >"$T/idse.pass"
printf 'pfxpass01' >"$T/pfx.pass"
printf '%s' "$USER_PIN" >"$T/pin"
chmod 600 "$T/idse.pass" "$T/pfx.pass" "$T/pin"
N_CASES=0

renew_cleanup() {
	local pid
	for pid in "${BG_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || :
		wait "$pid" 2>/dev/null || :
	done
	[[ -z $SVC_PID ]] || { kill -TERM "$SVC_PID" 2>/dev/null || :; wait "$SVC_PID" 2>/dev/null || :; }
	SVC_PID=''
	t_cleanup
}
trap renew_cleanup EXIT

# A sanitizer build of the tool reports to stderr; any report is a failure.
no_sanitizer_report() {
	! grep -Eq 'Sanitizer|runtime error:' "$@" ||
		die "sanitizer report in $*: $(grep -hE -A20 'Sanitizer|runtime error:' "$@" | head -40)"
}

svc_init() {
	"$IMSS_SERVICE" init --dir "$D" --kdf-iterations 10000 >/dev/null || die "service init"
}

# svc_start [SERVE ARGS]: serve $D on a port of its choosing; SVC_URL.
svc_start() {
	svc_serve 127.0.0.1:0 "$@"
	[[ $SVC_LINE == 'listening on https://127.0.0.1:'* ]] ||
		{ cat "$T/serve.log" >&2; die "serve printed '$SVC_LINE'"; }
	SVC_URL=${SVC_LINE#listening on }
}

# svc_start_on PORT [SERVE ARGS]: serve $D again on the same port (a
# journal names its server, so a restarted service must keep its address).
svc_start_on() {
	local port=$1
	shift
	for _ in $(seq 100); do
		svc_serve "127.0.0.1:$port" "$@"
		[[ -z $SVC_LINE ]] || break
		wait "$SVC_PID" 2>/dev/null || :     # the port was still taken
		SVC_PID=''
		sleep 0.1
	done
	[[ $SVC_LINE == "listening on https://127.0.0.1:$port" ]] ||
		die "serve on $port printed '$SVC_LINE'"
	SVC_URL=${SVC_LINE#listening on }
}

svc_stop() {
	[[ -n $SVC_PID ]] || return 0
	kill -TERM "$SVC_PID"
	wait "$SVC_PID" || die "serve did not exit 0 on SIGTERM"
	SVC_PID=''
}

svc_port() { printf '%s' "${SVC_URL##*:}"; }

# proxy_start [PROXY OPTIONS...]: the hostile proxy ($HOSTILE_PROXY) in front
# of the service, in mode "pass" (the mode file is $T/mode); SERVER is its URL.
proxy_start() {
	local line
	printf 'pass\n' >"$T/mode"
	"$HOSTILE_PROXY" --dir "$D" --upstream "$SVC_URL" --mode-file "$T/mode" "$@" \
		>"$T/proxy.out" 2>"$T/proxy.log" &
	BG_PIDS+=($!)
	for _ in $(seq 200); do [[ -s $T/proxy.out ]] && break; sleep 0.05; done
	line=$(head -n1 "$T/proxy.out")
	[[ $line == 'listening on https://127.0.0.1:'* ]] || die "proxy printed '$line': $(<"$T/proxy.log")"
	SERVER=${line#listening on }
}

# case_new NAME token|pfx: a new employer (RP, USER) whose expired
# certificate is on a new token (object 'IMSS anterior') or in $C/old.pfx;
# C is the case's directory, with state/ and out/.  Exports SOFTHSM2_CONF
# for this case's token; the token's URI is TOKEN_URI.
case_new() {
	local name=$1 kind=$2 out
	N_CASES=$((N_CASES + 1))
	C=$T/$name
	mkdir -p "$C/out"
	mkdir -m 700 "$C/state"           # refused when others can read it
	chmod go-w "$C/out"               # refused when others can write to it
	out=$(IMSS_USER_PIN=$USER_PIN IMSS_SO_PIN=$SO_PIN "$MAKE_TOKEN" --dir "$C/softhsm" \
		--label IMSS --init-tool "$SOFTHSM_TOKEN_INIT" --module "$SOFTHSM") ||
		die "$name: could not make a token"
	eval "$out"
	TOKEN_URI=$IMSS_TOKEN_URI
	RP=$(printf 'R%010d' "$N_CASES")
	USER=$(printf 'USER%06d' "$N_CASES")
	EMAIL=rh@$RP.example.mx
	"$IMSS_SERVICE" employer add --dir "$D" --registro-patronal "$RP" \
		--razon-social "EMPRESA $RP SA DE CV" --rfc EPR010101AB1 --email "$EMAIL" \
		--user "$USER" --address 'Av. Reforma 1, CDMX' \
		--password-source "file:$T/idse.pass" >/dev/null || die "$name: employer add"
	KIND=$kind
	if [[ $kind == pfx ]]; then
		"$IMSS_SERVICE" issue --dir "$D" --registro-patronal "$RP" --expired \
			--key-type ec:prime256v1 --pfx "$C/old.pfx" \
			--pfx-password-source "file:$T/pfx.pass" >"$C/issue.out" || die "$name: issue --pfx"
		CURRENT=(--credential "$C/old.pfx" --password-source "file:$T/pfx.pass")
		sha256sum <"$C/old.pfx" >"$C/old.pfx.sha256"
	else
		"$IMSS_SERVICE" issue --dir "$D" --registro-patronal "$RP" --expired \
			--key-type ec:prime256v1 --token "$TOKEN_URI" --module "$SOFTHSM" \
			--pin-source "file:$T/pin" --label 'IMSS anterior' >"$C/issue.out" ||
			die "$name: issue --token"
		CURRENT=(--current 'pkcs11:token=IMSS;object=IMSS%20anterior;type=private')
		objects_json "$C/old-objects.json"
		jq -c '[.objects[] | {class: .class, id: .id, label: .label}] | sort_by(.class)' "$C/old-objects.json" \
			>"$C/old-objects.summary"
		OLD_ID=$(jq -r '.objects[] | select(.class == "certificate") | .id' "$C/old-objects.json")
		p11 --read-object --type cert --id "$OLD_ID" -o "$C/old-cert.der" >/dev/null 2>&1 ||
			die "$name: cannot read the old certificate"
	fi
	OLD_SERIAL=$(sed -n 's/^serial //p' "$C/issue.out")
}

# The token seen without the project's code (OpenSC's pkcs11-tool; GnuTLS's
# p11tool for public keys, which pkcs11-tool cannot read on P-384).
p11() { pkcs11-tool --module "$SOFTHSM" --token-label IMSS "$@"; }
# pubkey_der ID OUT: the public key object with that ID (hex), as DER.
pubkey_der() {
	p11tool --provider "$SOFTHSM" --export "pkcs11:token=IMSS;id=$(sed 's/../%&/g' <<<"$1");type=public" \
		2>/dev/null | openssl pkey -pubin -outform DER -out "$2" 2>/dev/null
}

# objects_json FILE: every object on the case's token (after login).
objects_json() {
	"$IMSS_RENEW" --json --module "$SOFTHSM" objects --login --token "$TOKEN_URI" \
		--pin-source "file:$T/pin" >"$1" 2>"$C/objects.err" ||
		die "objects --login failed: $(<"$C/objects.err")"
}

# The arguments of a renewal of the current case (more may follow).
renew_args() {
	RENEW_ARGS=(--server "${SERVER:-$SVC_URL}" --user "$USER" "${CURRENT[@]}"
		--token "$TOKEN_URI" --ca "$D/ca.pem" --pin-source "file:$T/pin"
		--idse-password-source "file:$T/idse.pass" --state-dir "$C/state"
		--out-dir "$C/out" --yes)
}

# renew_run [ARGS]: `imss-renew renew` through the fault module (faults and
# kills from the environment: FAULT_FAIL, FAULT_KILL), its PKCS#11 calls in
# $C/calls.log, its stderr in $C/err.  Returns the tool's exit status.
renew_run() {
	local rc=0 json=()
	[[ ${JSON:-0} == 0 ]] || json=(--json)
	renew_args
	: >"$C/calls.log"
	# (The group's stderr is the shell's "Killed" notice of a FAULT_KILL.)
	{ FAULT_LOG=$C/calls.log "$IMSS_RENEW" --module "$FAULT_MODULE" "${json[@]}" renew \
		"${RENEW_ARGS[@]}" "$@" 2>"$C/err"; } 2>/dev/null || rc=$?
	no_sanitizer_report "$C/err"
	return "$rc"
}

# recover_run SERIAL WHAT: `imss-renew recover --serial SERIAL` with the
# case's renewal arguments (without --yes) through the fault module, its
# output in $C/recover.out; dies naming WHAT when it fails.
recover_run() {
	renew_args
	FAULT_LOG=$C/calls.log "$IMSS_RENEW" --module "$FAULT_MODULE" recover --serial "$1" \
		"${RENEW_ARGS[@]:0:${#RENEW_ARGS[@]}-1}" >"$C/recover.out" 2>"$C/err" ||
		die "$2: $(<"$C/err")"
	no_sanitizer_report "$C/err"
}

# The journal of the current case (there is one per employer and token).
journal() { printf '%s' "$C/state/renew-$RP-$IMSS_TOKEN_SERIAL.json"; }
journal_state() {
	if [[ -e $(journal) ]]; then jq -r .state "$(journal)"; else printf 'none'; fi
}

# SHA-256 (hex) of the public key of a DER certificate / DER public key.
spki_of_cert() { openssl x509 -inform DER -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1; }
spki_of_pub() { openssl pkey -pubin -inform DER -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }

# new_objects FILE: the objects that are not the old credential's.
new_objects() { jq -c '[.objects[] | select(.label != "IMSS anterior")]' "$1"; }
# brief JSON: "class=id ..." of a list of objects, for messages.
brief() { jq -r '[.[] | .class + "=" + .id] | join(" ")' <<<"$1"; }

# check_old_intact WHAT: the old credential is as it was ($C/objects.json
# is the listing of the token now).
check_old_intact() {
	local what=$1
	if [[ $KIND == pfx ]]; then
		sha256sum <"$C/old.pfx" | cmp -s - "$C/old.pfx.sha256" || die "$what: the old .pfx changed"
		return
	fi
	jq -c '[.objects[] | select(.label == "IMSS anterior") | {class: .class, id: .id, label: .label}] | sort_by(.class)' \
		"$C/objects.json" | cmp -s - "$C/old-objects.summary" ||
		die "$what: the old key or certificate changed: $(jq -c '[.objects[] | select(.label == "IMSS anterior")]' "$C/objects.json")"
	p11 --read-object --type cert --id "$OLD_ID" -o "$C/old-now.der" >/dev/null 2>&1 &&
		cmp -s "$C/old-now.der" "$C/old-cert.der" || die "$what: the old certificate changed"
}

# check_candidate_only WHAT: no certificate was stored; the new objects are
# at most the candidate key pair the journal records (none before keygen).
check_candidate_only() {
	local what=$1 ncert nkey id jid
	objects_json "$C/objects.json"
	check_old_intact "$what"
	read -r ncert nkey id < <(jq -r '[.objects[] | select(.label != "IMSS anterior")] |
		[([.[] | select(.class == "certificate")] | length),
		 ([.[] | select(.class == "private-key")] | length),
		 ([.[] | select(.class == "private-key")][0].id // "-")] | map(tostring) | join(" ")' \
		"$C/objects.json")
	[[ $ncert == 0 ]] || die "$what: a certificate was stored: $(brief "$(new_objects "$C/objects.json")")"
	[[ $nkey -le 1 ]] || die "$what: more than one new key: $(brief "$(new_objects "$C/objects.json")")"
	[[ $id != - ]] || return 0
	[[ -e $(journal) ]] || die "$what: a new key ($id) and no journal"
	jid=$(jq -r '.key_id // "none"' "$(journal)")
	[[ $jid == none || $jid == "$id" ]] || die "$what: the new key $id is not the journal's $jid"
}

# key_signs_for ID CERT: the private key with that ID (hex) signs what the
# certificate's public key verifies: the certificate is that key's.
key_signs_for() {
	local mech=SHA256-RSA-PKCS format=() in=$C/signs-for.data
	openssl x509 -inform DER -in "$2" -noout -pubkey >"$C/signs-for.pub" 2>/dev/null || return 1
	head -c 64 /dev/urandom >"$C/signs-for.data"
	if openssl pkey -pubin -in "$C/signs-for.pub" -noout -text 2>/dev/null | grep -q ASN1; then
		# (SoftHSM's ECDSA signs a hash made outside.)
		mech=ECDSA format=(--signature-format openssl) in=$C/signs-for.hash
		openssl dgst -sha256 -binary -out "$in" "$C/signs-for.data"
	fi
	p11 --login --pin "$(<"$T/pin")" --sign --id "$1" -m "$mech" "${format[@]}" \
		-i "$in" -o "$C/signs-for.sig" >/dev/null 2>&1 &&
		openssl dgst -sha256 -verify "$C/signs-for.pub" -signature "$C/signs-for.sig" \
			"$C/signs-for.data" >/dev/null 2>&1
}

# check_renewed WHAT: the renewal is done: exactly one new private key and
# certificate, with the same ID (the journal's), and no public key object
# (the new key's public key was a session object: the certificate carries
# it); the certificate on the token is the copy on disk, certifies the new
# key (the key signs what its public key verifies) and chains to the
# service's CA; the old credential is intact.
check_renewed() {
	local what=$1 j found spki
	[[ -e $(journal) ]] || die "$what: no journal"
	mapfile -t j < <(jq -r '.state, (.key_id // "-"), (.cert_path // "-"), (.key_spki_sha256 // "-")' "$(journal)")
	[[ ${j[0]} == done ]] || die "$what: journal state '${j[0]}', expected 'done'"
	objects_json "$C/objects.json"
	check_old_intact "$what"
	found=$(jq -r '[.objects[] | select(.label != "IMSS anterior")] |
		(map(.class) | sort | join(",")) + " " + (map(.id) | unique | join(","))' "$C/objects.json")
	# (EXPECT_PUBLIC_KEY=1: the token refused a session public key, so the
	# pair keeps a token one.)
	[[ $found == "certificate,private-key${EXPECT_PUBLIC_KEY:+,public-key} ${j[1]}" ]] ||
		die "$what: not one new private key and certificate (public key object expected: ${EXPECT_PUBLIC_KEY:-none}) on the journal's ID ${j[1]}: $(brief "$(new_objects "$C/objects.json")")"
	p11 --read-object --type cert --id "${j[1]}" -o "$C/new-cert.der" >/dev/null 2>&1 ||
		die "$what: cannot read the new certificate"
	cmp -s "$C/new-cert.der" "${j[2]}" || die "$what: the certificate on the token is not the copy ${j[2]}"
	spki=$(spki_of_cert "$C/new-cert.der")
	key_signs_for "${j[1]}" "$C/new-cert.der" || die "$what: the certificate is not for the new key"
	[[ $spki == "${j[3]}" ]] || die "$what: the certificate's key is not the one the journal recorded"
	# (VERIFY_ATTIME: seconds since the epoch to verify at, for a
	# certificate valid from a few seconds ahead.)
	openssl verify ${VERIFY_ATTIME:+-attime "$VERIFY_ATTIME"} -CAfile "$D/ca.pem" "$C/new-cert.der" >/dev/null 2>&1 ||
		die "$what: openssl verify refuses the new certificate"
}
