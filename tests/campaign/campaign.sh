#!/usr/bin/env bash
# The seeded adversarial campaign (issue 9): random sequences of renewals
# (with random and colliding labels, with and without --ca), kill -9 at a
# random PKCS#11 call, random CKR failures, hostile answers from the test
# proxy, --abandon, recover, and tampering with any file in the state and
# output directories; after every step the invariants are asserted (see
# README.md in this directory).
#
#   campaign.sh [--seed N] [--steps N] [--replay FILE] [--save FILE] [--allow CHECK]
#
# The seed is printed at the start and on failure; the same seed gives the
# same step list (every step draws the same number of random numbers,
# whatever happened before; names such as "the current key's label" are
# resolved when the step runs).  --save FILE writes the step list as it
# goes; --replay FILE runs the steps of such a list instead of drawing
# them (one step a line; delete lines to find the minimal sequence).
# --allow pinned-ca lets a run without --ca fail on trust (issue 9,
# finding 2), --allow journal-names-key lets an unfinished journal name a
# key the user had (finding 1; its harm, a deleted key, is still caught),
# so that a campaign on code with those bugs can look further.
# On a violation: the seed, the step number, the steps so far and the
# token's objects on stderr; exit 1.
# shellcheck source=../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
# shellcheck source=../renew/lib.sh
. "$TESTS_DIR/renew/lib.sh"
: "${HOSTILE_PROXY:?HOSTILE_PROXY is not set (run the test through ctest)}"
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing: skipped" >&2; exit 77; }

SEED=''
STEPS=200
REPLAY=''
SAVE=''
ALLOW=''
while (($#)); do
	case $1 in
	--seed) SEED=$2; shift 2 ;;
	--steps) STEPS=$2; shift 2 ;;
	--replay) REPLAY=$2; shift 2 ;;
	--save) SAVE=$2; shift 2 ;;
	--allow) ALLOW+=" $2 "; shift 2 ;;
	*) die "usage: campaign.sh [--seed N] [--steps N] [--replay FILE] [--save FILE] [--allow pinned-ca|journal-names-key]" ;;
	esac
done
# (A replay draws too, for its checks: from seed 1 unless one is given.)
[[ -n $SEED || -z $REPLAY ]] || SEED=1
[[ -n $SEED ]] || SEED=$(( $(date +%s) % 1000000007 ))
[[ $SEED =~ ^[0-9]+$ && $STEPS =~ ^[0-9]+$ ]] || die "--seed and --steps take a number"
RANDOM=$SEED
if [[ -n $REPLAY ]]; then
	[[ -r $REPLAY ]] || die "cannot read $REPLAY"
	# (A violation's step list pastes as is: numbers and notes are dropped.)
	mapfile -t REPLAY_STEPS < <(grep -v '^[[:space:]]*\(#\|$\)' "$REPLAY" | sed -e 's/^ *[0-9]* //' -e 's/  *#.*//')
	STEPS=${#REPLAY_STEPS[@]}
	echo "campaign: replaying $STEPS steps of $REPLAY"
else
	echo "campaign: seed $SEED, $STEPS steps (reproduce: campaign.sh --seed $SEED --steps $STEPS)"
fi
[[ -z $SAVE ]] || : >"$SAVE"

# Short timeouts, so that a stalled answer costs seconds, not minutes.
export IMSS_RENEW_HTTP_TIMEOUT=2
STALL=3
FULL_EVERY=25               # every N steps: no cache, every credential signs

# --- the world: one service, the hostile proxy in front, two lineages ------------
svc_init
svc_start
proxy_start --stall "$STALL"
# The proxy's modes, from its own description (a mode added there is used here),
# but not-before-ahead: the proxy re-makes the certificate under the CA's key,
# so the service has no record of it and a lineage that made it its current
# credential would be refused at login (CERT_UNKNOWN) for the test's own doing
# (renew-hostile and the finding second-certificate-same-key run that mode).
mapfile -t MODES < <(sed -n '/tampered with as FILE says/,/The request always/p' "$TESTS_DIR/renew/hostile-proxy.c" |
	sed -n 's/^ \*   \([a-z][a-z0-9-]*\)  .*/\1/p' | grep -vx -e pass -e not-before-ahead)
((${#MODES[@]} > 0)) || die "no modes found in hostile-proxy.c"

# Another CA with the service CA's name, for forged certificates.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30000 \
	-subj '/O=imss-renew reference service (not IMSS)/CN=imss-renew reference CA (not IMSS)' \
	-keyout "$T/evil-ca.key" -out "$T/evil-ca.pem" 2>/dev/null || die "cannot make the forging CA"

# A lineage: an employer, its token (own SoftHSM store) and its current
# credential.  Per lineage (index i): L_DIR, L_RP, L_USER, L_CONF, L_SERIAL,
# L_KIND, L_CUR (the current credential: "pfx" or a token key ID),
# L_PROT (IDs of every key that completed a renewal, and the first), L_BASE
# (private keys before the campaign), L_EXCUSED (labels/IDs of candidate
# keys whose journal the campaign destroyed), L_TAMPERED (a state file was
# tampered with, and not cleaned up by hand since).
declare -a L_SIGNED L_OWN L_JTAMPERED L_SIG L_DIR L_RP L_USER L_CONF L_SERIAL L_KIND L_CUR L_PROT L_BASE L_EXCUSED L_TAMPERED
declare -A CERT_OK=()        # "lineage|uri|sha" of certificates already checked
DECOY_LABEL='IMSS datos'
NL=0
lineage_new() {
	local kind=$1 i=$NL
	case_new "l$i" "$kind"
	L_DIR[i]=$C L_RP[i]=$RP L_USER[i]=$USER L_CONF[i]=$SOFTHSM2_CONF L_SERIAL[i]=$IMSS_TOKEN_SERIAL
	L_KIND[i]=$kind L_EXCUSED[i]='' L_TAMPERED[i]=0 L_JTAMPERED[i]=0 L_OWN[i]=''
	mkdir -p "$C/certs"
	if [[ $kind == token ]]; then
		L_CUR[i]=$OLD_ID L_PROT[i]=$OLD_ID
		cp "$C/old-cert.der" "$C/certs/$OLD_ID.der"
		L_BASE[i]=1
	else
		L_CUR[i]=pfx L_PROT[i]=''
		L_BASE[i]=0
	fi
	# Another object on the token, whose label a renewal may collide with.
	printf 'not a key' >"$C/decoy.bin"
	p11 --login --pin "$USER_PIN" --write-object "$C/decoy.bin" --type data --label "$DECOY_LABEL" \
		>/dev/null 2>&1 || die "cannot write the decoy object"
	NL=$((NL + 1))
}
use() {
	local i=$1
	LI=$i C=${L_DIR[i]} RP=${L_RP[i]} USER=${L_USER[i]} IMSS_TOKEN_SERIAL=${L_SERIAL[i]}
	KIND=${L_KIND[i]} TOKEN_URI=pkcs11:token=IMSS
	export SOFTHSM2_CONF=${L_CONF[i]}
	if [[ ${L_CUR[i]} == pfx ]]; then
		CURRENT=(--credential "$C/old.pfx" --password-source "file:$T/pfx.pass")
	else
		CURRENT=(--current "pkcs11:token=IMSS;id=$(pct "${L_CUR[i]}");type=private")
	fi
}
pct() { sed 's/../%&/g' <<<"$1"; }
lineage_new token
lineage_new pfx
mkdir -p "$T/pool"

# --- reporting -------------------------------------------------------------------
STEP=0
declare -a DONE_STEPS=()
violation() {
	local i
	{
		printf '\n%s: VIOLATION at step %d (line %d of the list below): %s\n' "$T_NAME" "$STEP" "${#DONE_STEPS[@]}" "$*"
		[[ -n $REPLAY ]] && printf 'replay of %s\n' "$REPLAY" || printf 'seed %s (campaign.sh --seed %s --steps %s)\n' "$SEED" "$SEED" "$STEPS"
		printf 'steps so far:\n'
		for i in "${!DONE_STEPS[@]}"; do printf '  %3d %s\n' $((i + 1)) "${DONE_STEPS[i]}"; done
		printf 'last command (exit %s), stderr:\n' "${LAST_RC:-?}"
		sed 's/^/  | /' "$C/err" 2>/dev/null | head -20
		printf 'journal: %s\n' "$(cat "$(journal)" 2>/dev/null | tr -d '\n' | head -c 1200)"
		printf 'token objects of lineage %s (%s):\n' "$LI" "$RP"
		jq -r '.objects[] | "  \(.class) id=\(.id) label=\(.label)"' "$C/objects.json" 2>/dev/null
		printf 'protected key IDs: %s\n' "${L_PROT[LI]}"
	} >&2
	exit 1
}

# --- running the tool ------------------------------------------------------------
# tool_run KILL FAIL ARGS...: the tool through the fault module; LAST_RC.
# A kill -9 that was asked for is fine; another signal, an exit other than
# 0 or 1, or a sanitizer report is a violation.
tool_run() {
	local kill=$1 fail=$2 envs=()
	shift 2
	[[ $kill == - ]] || envs+=("FAULT_KILL=$kill")
	[[ $fail == - ]] || envs+=("FAULT_FAIL=$fail")
	LAST_RC=0
	{ env "${envs[@]}" "$IMSS_RENEW" --module "$FAULT_MODULE" "$@" >"$C/out.txt" 2>"$C/err"; } 2>/dev/null ||
		LAST_RC=$?
	if grep -Eq 'Sanitizer|runtime error:' "$C/err"; then
		violation "sanitizer report: $(grep -E -A12 'Sanitizer|runtime error:' "$C/err" | head -20)"
	fi
	[[ $LAST_RC == 0 || $LAST_RC == 1 || ($LAST_RC == 137 && $kill != -) ]] ||
		violation "'$*' ended with exit $LAST_RC (a crash or an unexpected status)"
	# Nothing from the service reaches the terminal raw.
	! LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$C/out.txt" "$C/err" ||
		violation "control characters in the output: $(LC_ALL=C grep -h $'[\x01-\x08\x0b-\x1f\x7f]' "$C/out.txt" "$C/err" | head -3 | cat -v)"
	# A symlink put in the state or output directory is not followed to create a file.
	local made
	made=$(find "$T" -maxdepth 1 -name 'nowhere-*' | head -n1)
	[[ -z $made ]] || violation "a symlink planted in the state or output directory was followed: $made was created"
}
common_args() {
	ARGS=(--server "$SERVER" --user "$USER" "${CURRENT[@]}" --token "$TOKEN_URI"
		--pin-source "file:$T/pin" --idse-password-source "file:$T/idse.pass"
		--state-dir "$C/state" --out-dir "$C/out")
}

# --- the token as it is ----------------------------------------------------------
# load_objects: $C/objects.json, and OBJ lines "class id label uri".
load_objects() {
	"$IMSS_RENEW" --json --module "$SOFTHSM" objects --login --token "$TOKEN_URI" \
		--pin-source "file:$T/pin" >"$C/objects.json" 2>"$C/objects.err" ||
		violation "the token cannot be listed: $(<"$C/objects.err")"
	read_objects
}
read_objects() {
	mapfile -t OBJ < <(jq -r '.objects[] | [.class, (.id // "-"), (.label // ""), .uri] | join("\u001f")' "$C/objects.json")
}
# token_sig: the token's objects as files (SoftHSM rewrites its token.object,
# generation and locks even to read: those are left out).
token_sig() {
	find "$C/softhsm" -type f -name '*.object' ! -name token.object -printf '%P %s %T@\n' | sort | sha256sum
}
# Journal fields (empty when there is no journal or it does not read).
journal_fields() {
	J_STATE='' J_ID='' J_LABEL=''
	[[ -f $(journal) ]] || return 0
	local f
	f=$(jq -r '[(.state // ""), (.key_id // ""), (.key_label // "")] | join("\u001f")' "$(journal)" 2>/dev/null) || return 0
	IFS=$'\x1f' read -r J_STATE J_ID J_LABEL <<<"$f" || :
}

# cert_check ID DER NOW_MATTERS: the full check of a certificate on the token.
cert_check() {
	local id=$1 der=$2 baseline=$3 subj rs text pub
	rs="EMPRESA $RP SA DE CV"
	openssl verify -no_check_time -x509_strict -CAfile "$D/ca.pem" "$der" >"$C/verify.out" 2>&1 ||
		openssl verify -no_check_time -x509_strict -CAfile "$D/ca.pem" <(openssl x509 -inform DER -in "$der") \
			>"$C/verify.out" 2>&1 ||
		violation "certificate $id on the token does not chain to the service's CA: $(tr '\n' ' ' <"$C/verify.out")"
	text=$(openssl x509 -inform DER -in "$der" -noout -text -nameopt sep_multiline,sname,utf8,-esc_msb) ||
		violation "certificate $id on the token does not parse"
	subj=$(openssl x509 -inform DER -in "$der" -noout -subject -nameopt sep_multiline,sname,utf8,-esc_msb)
	grep -qx "    O=$rs" <<<"$subj" && grep -qx "    CN=$rs" <<<"$subj" && grep -qx "    OU=$RP" <<<"$subj" ||
		violation "certificate $id is not this employer's (O and CN '$rs', OU '$RP'): $(tr '\n' ' ' <<<"$subj")"
	grep -q 'CA:FALSE' <<<"$text" || violation "certificate $id is not CA:FALSE"
	grep -q 'Digital Signature' <<<"$text" || violation "certificate $id has no digitalSignature key usage"
	local eku
	eku=$(grep -A1 'Extended Key Usage' <<<"$text" | tail -n1)
	[[ -z $eku || $eku == *'Client Authentication'* || $eku == *'E-mail Protection'* ]] ||
		violation "certificate $id is not for signing (extended key usage: $eku)"
	! grep -qi 'Signature Algorithm:.*sha1' <<<"$text" || violation "certificate $id is signed with SHA-1"
	if [[ $baseline == 0 ]]; then
		openssl x509 -inform DER -in "$der" -noout -checkend 0 >/dev/null ||
			violation "certificate $id on the token has expired"
		local nb na
		nb=$(date -d "$(openssl x509 -inform DER -in "$der" -noout -startdate | cut -d= -f2)" +%s)
		na=$(date -d "$(openssl x509 -inform DER -in "$der" -noout -enddate | cut -d= -f2)" +%s)
		((na - nb <= 3 * 366 * 86400)) || violation "certificate $id is valid for more than 3 years"
		((nb <= $(date +%s) + 600)) || violation "certificate $id is not valid yet"
	fi
	# A public key object with its ID must be the certificate's; a
	# renewal's key keeps none (its public key was a session object): the
	# private key with its ID signs for the certificate instead.
	if p11tool --provider "$SOFTHSM" --export "pkcs11:token=IMSS;id=$(pct "$id");type=public" 2>/dev/null |
		openssl pkey -pubin -outform DER -out "$C/pub.der" 2>/dev/null; then
		pub=$(spki_of_pub "$C/pub.der")
		[[ $pub == "$(spki_of_cert "$der")" ]] ||
			violation "certificate $id is not for the key with its ID"
	elif [[ -n ${key_ids[$id]:-} ]]; then
		sign_check "$id" "$der"
	fi
}

# sign_check ID [DER]: the token key with this ID signs a random blob, and
# the signature verifies with the certificate recorded for it (or DER).
sign_check() {
	local id=$1 cert=${2:-$C/certs/$1.der} type mech in=$C/blob fmt=()
	type=$(jq -r --arg id "$id" '[.objects[] | select(.class == "private-key" and .id == $id)][0].key_type' "$C/objects.json")
	head -c 64 /dev/urandom >"$C/blob"
	# SoftHSM signs ECDSA over a digest the host made.
	if [[ $type == ec ]]; then
		mech=ECDSA fmt=(--signature-format openssl) in=$C/blob.sha256
		openssl dgst -sha256 -binary -out "$in" "$C/blob"
	else
		mech=SHA256-RSA-PKCS
	fi
	p11 --login --pin "$USER_PIN" --sign --id "$id" -m "$mech" "${fmt[@]}" -i "$in" -o "$C/blob.sig" \
		>/dev/null 2>"$C/sign.err" || violation "the key $id cannot sign: $(<"$C/sign.err")"
	openssl x509 -inform DER -in "$cert" -noout -pubkey >"$C/cert-pub.pem"
	openssl dgst -sha256 -verify "$C/cert-pub.pem" -signature "$C/blob.sig" "$C/blob" >/dev/null 2>&1 ||
		violation "the signature of key $id does not verify with its certificate"
}

# check_invariants FULL PICK: the invariants of the current lineage.
check_invariants() {
	local full=$1 pick=$2 line class id label uri der sha nkeys=0 ncert=0 owned=0 excused=0 p
	local -A cert_ids=() key_ids=()
	local sig same=0
	# The token as the last check saw it (its object files unchanged): the
	# listing is reused and nothing on it is read or signed again.
	sig=$(token_sig)
	[[ $full == 0 && $sig == "${L_SIG[LI]:-}" && -s $C/objects.json ]] && same=1
	if ((same)); then read_objects; else load_objects; fi
	OBJ_CERTS=$((!same))
	journal_fields
	for line in "${OBJ[@]}"; do
		IFS=$'\x1f' read -r class id label uri <<<"$line"
		case $class in
		certificate) cert_ids[$id]=$((${cert_ids[$id]:-0} + 1)) ;;
		private-key) key_ids[$id]=1 ;;
		esac
	done
	# 1. Every credential the user had still exists and signs.
	if [[ $KIND == pfx ]]; then
		sha256sum <"$C/old.pfx" | cmp -s - "$C/old.pfx.sha256" || violation "the .pfx changed"
	fi
	for p in ${L_PROT[LI]}; do
		[[ -n ${key_ids[$p]:-} ]] || violation "the key $p of a completed renewal (or the first credential) is gone"
		[[ -n ${cert_ids[$p]:-} ]] || violation "the certificate $p of a completed renewal (or the first credential) is gone"
	done
	local prot=(${L_PROT[LI]})
	if ((${#prot[@]})) && [[ $same == 0 || ${L_CUR[LI]} != "${L_SIGNED[LI]:-}" ]]; then
		L_SIGNED[LI]=${L_CUR[LI]}
		if [[ $full == 1 ]]; then
			for p in "${prot[@]}"; do sign_check "$p"; done
		else
			[[ ${L_CUR[LI]} == pfx ]] || sign_check "${L_CUR[LI]}"
			sign_check "${prot[pick % ${#prot[@]}]}"
		fi
	fi
	# 2. No certificate on the token fails the full check (read again only
	# when the token's files changed).
	L_SIG[LI]=$sig
	for line in "${OBJ[@]}"; do
		((OBJ_CERTS)) || break
		IFS=$'\x1f' read -r class id label uri <<<"$line"
		[[ $class == certificate ]] || continue
		ncert=$((ncert + 1))
		der=$C/certs/cur.der
		p11tool --provider "$SOFTHSM" --export "$uri" 2>/dev/null | openssl x509 -outform DER -out "$der" 2>/dev/null ||
			violation "certificate $id ($label) cannot be read back"
		sha=$(sha256sum <"$der" | cut -c1-64)
		[[ $full == 0 && -n ${CERT_OK[$LI|$uri|$sha]:-} ]] && continue
		local baseline=0
		[[ $KIND == token && $id == "${L_PROT[LI]%% *}" ]] && baseline=1
		cert_check "$id" "$der" "$baseline"
		CERT_OK[$LI|$uri|$sha]=1
		# A certificate that passed, beside its key: a completed renewal,
		# whose key must survive from now on.
		if [[ ! -e $C/certs/$id.der ]]; then
			cp "$der" "$C/certs/$id.der"
			L_PROT[LI]+=" $id"
			# (The unfinished journal's own candidate, its certificate stored
			# by recover or by a run killed while storing.)
			[[ -z $J_STATE || $J_STATE == "done" || ($id != "$J_ID" && $label != "$J_LABEL") ]] ||
				L_OWN[LI]+=" $id "
		fi
	done
	# 3. No private key without a certificate beside it or a journal that owns it.
	for line in "${OBJ[@]}"; do
		IFS=$'\x1f' read -r class id label uri <<<"$line"
		[[ $class == private-key ]] || continue
		nkeys=$((nkeys + 1))
		[[ -z ${cert_ids[$id]:-} ]] || continue
		if [[ -n $J_STATE && $J_STATE != "done" && ($id == "$J_ID" || $label == "$J_LABEL") ]]; then
			owned=$((owned + 1))
		elif [[ " ${L_EXCUSED[LI]} " == *" $id "* || $'\n'"${L_EXCUSED[LI]}"$'\n' == *$'\n'"L:$label"$'\n'* ]]; then
			excused=$((excused + 1))
		else
			violation "the private key $id ('$label') has no certificate and no journal owns it (journal: '${J_STATE:-none}' key $J_ID '$J_LABEL')"
		fi
	done
	# 3b. An unfinished journal never names a key the user had (by ID or
	# label), unless the campaign wrote that into it.
	if [[ -n $J_STATE && ${L_JTAMPERED[LI]} == 0 && $ALLOW != *' journal-names-key '* ]]; then
		case $J_STATE in
		store-started | stored | done) ;;
		*)
			for p in ${L_PROT[LI]}; do
				[[ " ${L_OWN[LI]} " != *" $p "* ]] || continue
				[[ $J_ID != "$p" ]] || violation "the unfinished journal ('$J_STATE') names the key $p, which the user had"
				[[ -z $J_LABEL || $J_LABEL != "$(jq -r --arg id "$p" '[.objects[] | select(.id == $id)][0].label' "$C/objects.json")" ]] ||
					violation "the unfinished journal ('$J_STATE') names the label '$J_LABEL' of the key $p, which the user had"
			done ;;
		esac
	fi
	# 3c. What the service sent is checked before it is journalled: a
	# request id is one the client would poll (hex, under 64 characters).
	if [[ -f $(journal) && ${L_JTAMPERED[LI]} == 0 ]]; then
		local rid
		rid=$(jq -r 'if has("request_id") then .request_id else "-" end' "$(journal)" 2>/dev/null) || rid=-
		[[ $rid == - || $rid =~ ^[0-9a-fA-F]{1,63}$ ]] ||
			violation "the journal keeps a request id the client cannot use: '${rid:0:80}' (${#rid} characters)"
	fi
	# 4. Private keys = before + completed renewals (+1 in flight).
	((owned <= 1)) || violation "$owned candidate keys for one unfinished renewal"
	local completed=$((${#cert_ids[@]} - L_BASE[LI]))
	local dup=0
	for id in "${!cert_ids[@]}"; do ((cert_ids[$id] == 1)) || dup=1; done
	((dup == 0)) || violation "two certificates with the same ID"
	((nkeys == L_BASE[LI] + completed + owned + excused)) ||
		violation "$nkeys private keys, expected ${L_BASE[LI]} before + $completed completed + $owned in flight + $excused left by tampering"
}

# --- step generation (same draws per step, whatever the state) ------------------
# (The calls that change the token come up more often.)
KILL_CALLS=(C_Initialize C_GetSlotList C_GetTokenInfo C_OpenSession C_Login C_FindObjectsInit
	C_FindObjects C_FindObjectsFinal C_GetAttributeValue C_SignInit C_Sign C_GenerateKeyPair
	C_SetAttributeValue C_CreateObject C_DestroyObject C_CloseSession
	C_GenerateKeyPair C_SetAttributeValue C_CreateObject C_CreateObject C_DestroyObject C_Sign)
CKRS=(CKR_DEVICE_ERROR CKR_DEVICE_REMOVED CKR_TOKEN_NOT_PRESENT CKR_GENERAL_ERROR CKR_FUNCTION_FAILED
	CKR_DEVICE_MEMORY CKR_SESSION_HANDLE_INVALID CKR_OBJECT_HANDLE_INVALID CKR_ATTRIBUTE_VALUE_INVALID
	CKR_TEMPLATE_INCONSISTENT)
TYPES=(ec:prime256v1 ec:prime256v1 ec:prime256v1 ec:prime256v1 ec:prime256v1 ec:prime256v1 ec:secp384r1 rsa:2048)
LABELS=(default default fresh current earlier decoy journal)
FILES=(journal journal journal cert cert request ca lock letter any)
TAMPERS=(flip flip trunc replace-same replace-other journal journal symlink forge forge)
JFIELDS=(key_id key_label key_spki_sha256 all state)
CMDS=(renew renew renew renew abandon recover)
draw() { R=(); for _ in 1 2 3 4 5 6 7 8 9; do R+=($RANDOM); done; }
gen_step() {
	local kind cmd opts
	draw
	local li=$((R[1] % 2)) k=$((R[0] % 100))
	cmd=${CMDS[R[2] % ${#CMDS[@]}]}
	opts="type=${TYPES[R[3] % ${#TYPES[@]}]}|label=${LABELS[R[4] % ${#LABELS[@]}]}|ca=$((R[5] % 4 != 0))|serial=$((R[6] % 4)):${R[7]}"
	if ((k < 26)); then GEN="renew|L$li|$opts"
	elif ((k < 44)); then
		local when=before; ((R[8] % 2)) && when=after
		GEN="$cmd|L$li|$opts|kill=${KILL_CALLS[R[6] % ${#KILL_CALLS[@]}]}:$((R[7] % 2 ? 1 : 1 + R[7] / 2 % 4)):$when"
	elif ((k < 52)); then
		local n=$((1 + R[7] % 4)) plus=''; ((R[8] % 4 == 0)) && plus=+
		GEN="$cmd|L$li|$opts|fail=${KILL_CALLS[R[6] % ${#KILL_CALLS[@]}]}:$n$plus:${CKRS[R[8] % ${#CKRS[@]}]}"
	elif ((k < 62)); then GEN="renew|L$li|$opts|mode=${MODES[R[6] % ${#MODES[@]}]}"
	elif ((k < 68)); then GEN="abandon|L$li"
	elif ((k < 72)); then GEN="recover|L$li|$opts"
	elif ((k < 92)); then
		GEN="tamper|L$li|file=${FILES[R[2] % ${#FILES[@]}]}:${R[3]}|op=${TAMPERS[R[4] % ${#TAMPERS[@]}]}:${R[5]}:${R[6]}"
	elif ((k < 96)); then GEN="switch|L$li|to=${R[2]}"
	else GEN="heal|L$li"
	fi
}

# --- step execution ---------------------------------------------------------------
opt() { local f; for f in "${FIELDS[@]:2}"; do [[ $f != "$1="* ]] || { printf '%s' "${f#*=}"; return; }; done; printf '%s' "${2:--}"; }
# label_for CHOICE: the --label argument (empty: none).
label_for() {
	local ids=(${L_PROT[LI]})
	case $1 in
	default | -) LABEL='' ;;
	fresh) LABEL="IMSS c$STEP" ;;
	current)
		if [[ ${L_CUR[LI]} == pfx ]]; then LABEL="IMSS c$STEP"
		else LABEL=$(jq -r --arg id "${L_CUR[LI]}" '[.objects[] | select(.id == $id)][0].label' "$C/objects.json"); fi ;;
	earlier)
		if ((${#ids[@]})); then
			LABEL=$(jq -r --arg id "${ids[STEP % ${#ids[@]}]}" '[.objects[] | select(.id == $id)][0].label' "$C/objects.json")
		else LABEL=$DECOY_LABEL; fi ;;
	decoy) LABEL=$DECOY_LABEL ;;
	journal) journal_fields; LABEL=$J_LABEL ;;
	esac
	[[ $LABEL != null ]] || LABEL=''
}
# serial_for N:M: 0,1 one of this employer's serials, 2 another's, 3 bogus.
serial_for() {
	local which=${1%%:*} n=${1#*:} list
	case $which in
	0 | 1) list=$(sqlite3 "$D/service.db" "SELECT c.serial FROM certificates c JOIN employers e ON e.id = c.employer_id WHERE e.registro_patronal = '$RP' ORDER BY c.issued_at, c.rowid") ;;
	2) list=$(sqlite3 "$D/service.db" "SELECT c.serial FROM certificates c JOIN employers e ON e.id = c.employer_id WHERE e.registro_patronal != '$RP' ORDER BY c.issued_at, c.rowid") ;;
	*) list=DEADBEEF0001 ;;
	esac
	mapfile -t list <<<"$list"
	SERIAL=${list[n % ${#list[@]}]}
	[[ $which != 1 ]] || SERIAL=${list[-1]}
}

exec_tool_step() {
	local cmd=${FIELDS[0]} kill fail mode ca type
	kill=$(opt kill) fail=$(opt fail) mode=$(opt mode pass) ca=$(opt ca 1) type=$(opt type ec:prime256v1)
	label_for "$(opt label)"
	common_args
	local extra=()
	[[ $ca == 0 ]] || extra+=(--ca "$D/ca.pem")
	[[ -z $LABEL ]] || extra+=(--label "$LABEL")
	printf '%s\n' "$mode" >"$T/mode"
	case $cmd in
	renew) tool_run "$kill" "$fail" renew "${ARGS[@]}" "${extra[@]}" --type "$type" --yes ;;
	abandon) tool_run "$kill" "$fail" renew --abandon --token "$TOKEN_URI" --registro-patronal "$RP" \
		--state-dir "$C/state" --pin-source "file:$T/pin" ;;
	recover)
		serial_for "$(opt serial 0:0)"
		tool_run "$kill" "$fail" recover "${ARGS[@]}" "${extra[@]}" --serial "$SERIAL" ;;
	esac
	printf 'pass\n' >"$T/mode"
	# The CA pinned on first use is trusted by a later run without --ca (the
	# README's promise): a trust failure with the pin intact is a violation.
	if [[ $cmd != abandon && $ca == 0 && $mode == pass && $kill == - && $fail == - && $LAST_RC == 1 ]] &&
		cmp -s "$C/state/$(pin_name "127.0.0.1:${SERVER##*:}")" "$D/ca.pem" && grep -q 'not the one trusted' "$C/err" &&
		[[ $ALLOW != *' pinned-ca '* ]]; then
		violation "a run without --ca does not trust the pinned CA, which is the service's own: $(tr '\n' ' ' <"$C/err")"
	fi
	if [[ $LAST_RC == 0 && $cmd == renew ]]; then L_JTAMPERED[LI]=0; fi
}

# pick_file WHAT:N: a file of the lineage's state or output directory.
pick_file() {
	local what=${1%%:*} n=${1#*:} files=()
	case $what in
	journal) files=("$C"/state/renew-*.json) ;;
	request) files=("$C"/state/request-*) ;;
	ca) files=("$C"/state/ca-*.pem) ;;
	lock) files=("$C"/state/*.lock) ;;
	letter) files=("$C"/out/*.pdf) ;;
	cert) files=("$C"/out/*.cer "$C"/out/*.crt "$C"/out/*.der "$C"/out/*.pem "$C"/state/*.cer "$C"/state/*.crt
		"$C"/state/cert*) ;;
	esac
	local f keep=()
	for f in "${files[@]}"; do [[ -e $f || -L $f ]] && keep+=("$f"); done
	if ((${#keep[@]} == 0)); then
		for f in "$C"/state/* "$C"/out/*; do [[ -e $f || -L $f ]] && keep+=("$f"); done
	fi
	((${#keep[@]})) || { FILE=''; return; }
	FILE=${keep[n % ${#keep[@]}]}
}
# The journal's candidate is orphaned by the campaign itself when it damages
# the journal: excuse that key from the ownership check.
excuse_candidate() {
	journal_fields
	[[ -n $J_STATE && $J_STATE != "done" ]] || return 0
	[[ -z $J_ID ]] || L_EXCUSED[LI]+=" $J_ID "
	[[ -z $J_LABEL ]] || L_EXCUSED[LI]+=$'\n'"L:$J_LABEL"$'\n'
}
exec_tamper() {
	local fsel op a b size
	fsel=$(opt file any:0)
	IFS=: read -r op a b <<<"$(opt op flip:0:0)"
	pick_file "$fsel"
	[[ -n $FILE ]] || { STEP_NOTE='no file'; return; }
	STEP_NOTE="${FILE#"$C"/} $op"
	L_TAMPERED[LI]=1
	[[ $FILE != "$(journal)" ]] || { excuse_candidate; L_JTAMPERED[LI]=1; }
	local real=$FILE
	[[ ! -L $FILE ]] || { rm -f "$FILE"; : >"$FILE"; }
	size=$(stat -c %s "$real")
	case $op in
	flip)
		((size > 0)) || { printf 'x' >"$FILE"; return; }
		local off=$((a % size)) byte
		byte=$(od -An -tu1 -j "$off" -N1 "$FILE" | tr -d ' ')
		printf '%b' "\\0$(printf '%03o' $(((byte ^ (1 + b % 255)) & 255)))" |
			dd of="$FILE" bs=1 seek="$off" conv=notrunc status=none ;;
	trunc) truncate -s $((size ? a % size : 0)) "$FILE" ;;
	replace-same | replace-other)
		local pool=()
		if [[ $op == replace-same ]]; then
			mapfile -t pool < <(find "$T/pool" -name "L$LI.*.$(basename "$FILE")" | sort)
		else
			mapfile -t pool < <(find "$T/pool" -type f | sort)
		fi
		((${#pool[@]})) || { STEP_NOTE+=' (no earlier file)'; return; }
		cp "${pool[a % ${#pool[@]}]}" "$FILE"
		STEP_NOTE+=" <- ${pool[a % ${#pool[@]}]##*/}" ;;
	journal)
		# The journal edited to name a credential the user has.
		pick_file journal:0
		[[ $FILE == *.json ]] || { STEP_NOTE='no journal'; return; }
		excuse_candidate
		L_JTAMPERED[LI]=1
		local ids=(${L_PROT[LI]}) id lab spki field
		((${#ids[@]})) || { STEP_NOTE='no token credential to name'; return; }
		id=${ids[a % ${#ids[@]}]}
		lab=$(jq -r --arg id "$id" '[.objects[] | select(.id == $id)][0].label' "$C/objects.json")
		spki=$(spki_of_cert "$C/certs/$id.der")
		field=${JFIELDS[b % ${#JFIELDS[@]}]}
		STEP_NOTE="${FILE#"$C"/} $field -> key $id"
		jq --arg id "$id" --arg lab "$lab" --arg spki "$spki" --arg f "$field" '
			if $f == "all" then .key_id = $id | .key_label = $lab | .key_spki_sha256 = $spki
			elif $f == "state" then .state = "keygen-started" | .key_label = $lab | del(.key_id, .key_spki_sha256)
			elif $f == "key_id" then .key_id = $id
			elif $f == "key_label" then .key_label = $lab
			else .key_spki_sha256 = $spki end' "$FILE" >"$FILE.new" 2>/dev/null &&
			mv "$FILE.new" "$FILE" || { rm -f "$FILE.new"; STEP_NOTE+=' (journal unreadable)'; } ;;
	symlink)
		local targets=("$C/certs/${L_PROT[LI]%% *}.der" "$T/nowhere-$STEP" "$C/out" "$D/ca.pem")
		[[ $KIND != pfx ]] || targets+=("$C/old.pfx")
		rm -f "$FILE"
		ln -s "${targets[a % ${#targets[@]}]}" "$FILE"
		STEP_NOTE+=" -> ${targets[a % ${#targets[@]}]#"$T"/}" ;;
	forge)
		# A certificate for the same public key, valid for 50 years: from
		# another CA with the service CA's name (same subject, or O=EVIL), or
		# from the service's own CA key for O=EVIL (a hostile service).
		local form=DER subj ca=("$T/evil-ca.pem" "$T/evil-ca.key")
		openssl x509 -inform DER -in "$FILE" -noout 2>/dev/null || form=PEM
		subj=$(openssl x509 -inform "$form" -in "$FILE" -noout -subject -nameopt compat 2>/dev/null) &&
			openssl x509 -inform "$form" -in "$FILE" -noout -pubkey >"$T/forge-pub.pem" 2>/dev/null ||
			{ STEP_NOTE+=' (not a certificate)'; return; }
		subj=${subj#subject=}
		((b % 3 == 0)) || subj=${subj/\/O=EMPRESA /\/O=EVIL }
		((b % 3 != 2)) || ca=("$D/ca.pem" "$D/ca.key")
		STEP_NOTE+=" ${ca[0]##*/} $subj"
		printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n' >"$T/forge.ext"
		openssl x509 -new -subj "$subj" -force_pubkey "$T/forge-pub.pem" -CA "${ca[0]}" -CAkey "${ca[1]}" \
			-set_serial "$((a * 32768 + b + 1))" -days 20000 -extfile "$T/forge.ext" -outform "$form" \
			-out "$FILE.new" 2>/dev/null && mv "$FILE.new" "$FILE" ||
			{ rm -f "$FILE.new"; STEP_NOTE+=' (forging failed)'; } ;;
	esac
}

exec_switch() {
	local ids=(${L_PROT[LI]}) to
	((${#ids[@]})) || { STEP_NOTE='no token credential'; return; }
	to=${ids[$(opt to 0) % ${#ids[@]}]}
	L_CUR[LI]=$to
	use "$LI"
	STEP_NOTE="current -> $to"
}

# heal: what a user does after any of it, following the messages: run again,
# else abandon and run again; a journal the campaign damaged is removed by
# hand.  The renewal must then complete: anything else is a wedge.
exec_heal() {
	local ids=(${L_PROT[LI]})
	# (The honest proxy: a slow answer on a loaded machine is no wedge.)
	local -x IMSS_RENEW_HTTP_TIMEOUT=60
	printf 'pass\n' >"$T/mode"
	# The user waits out a login back-off the refused logins earned (the
	# service's own defence): here the operator clears it.
	sqlite3 -cmd '.timeout 5000' "$D/service.db" \
		"UPDATE users SET failed_logins = 0, login_not_before = 0 WHERE name = '$USER'" ||
		die "cannot clear the login back-off of $USER"
	((${#ids[@]} == 0)) || { L_CUR[LI]=${ids[-1]}; use "$LI"; }
	common_args
	local run=(renew "${ARGS[@]}" --ca "$D/ca.pem" --type ec:prime256v1 --yes)
	tool_run - - "${run[@]}"
	[[ $LAST_RC != 0 ]] || { STEP_NOTE='renew done'; L_JTAMPERED[LI]=0; return; }
	local first
	first=$(head -n2 "$C/err" | tr '\n' ' ')
	tool_run - - renew --abandon --token "$TOKEN_URI" --registro-patronal "$RP" --state-dir "$C/state" \
		--pin-source "file:$T/pin"
	tool_run - - "${run[@]}"
	[[ $LAST_RC != 0 ]] || { STEP_NOTE="renew failed ($first), abandon, renew done"; L_JTAMPERED[LI]=0; return; }
	[[ ${L_TAMPERED[LI]} == 1 ]] ||
		violation "wedged: renew, --abandon, renew fail with nothing tampered with: $(tr '\n' ' ' <"$C/err")"
	excuse_candidate
	rm -f "$C"/state/renew-*.json "$C"/state/request-* "$C"/state/*.lock
	find "$C/state" "$C/out" -mindepth 1 ! -type f -exec rm -rf {} +
	tool_run - - "${run[@]}"
	[[ $LAST_RC == 0 ]] ||
		violation "wedged: renew fails even after abandon and the damaged state removed: $(tr '\n' ' ' <"$C/err")"
	STEP_NOTE='state removed by hand, renew done'
	L_TAMPERED[LI]=0 L_JTAMPERED[LI]=0
}

snapshot() {
	local f
	for f in "$C"/state/* "$C"/out/*; do
		[[ -f $f && ! -L $f ]] || continue
		cp "$f" "$T/pool/L$LI.$(printf '%04d' "$STEP").$(basename "$f")"
	done
}

# --- the campaign ----------------------------------------------------------------
for li in $(seq 0 $((NL - 1))); do use "$li"; check_invariants 1 0; done
START=$SECONDS
for ((STEP = 1; STEP <= STEPS; STEP++)); do
	if [[ -n $REPLAY ]]; then GEN=${REPLAY_STEPS[STEP - 1]}; draw; else gen_step; fi
	IFS='|' read -r -a FIELDS <<<"$GEN"
	use "${FIELDS[1]#L}"
	[[ -e $C/objects.json ]] || load_objects
	STEP_NOTE=''
	LAST_RC=-
	DONE_STEPS+=("$GEN")
	[[ -z $SAVE ]] || printf '%s\n' "$GEN" >>"$SAVE"
	case ${FIELDS[0]} in
	renew | abandon | recover) exec_tool_step ;;
	tamper) exec_tamper ;;
	switch) exec_switch ;;
	heal) exec_heal ;;
	*) die "unknown step '$GEN'" ;;
	esac
	DONE_STEPS[-1]+="  # ${STEP_NOTE:-exit $LAST_RC}"
	full=0
	((STEP % FULL_EVERY != 0 && STEP != STEPS)) || full=1
	prot_before=${L_PROT[LI]}
	check_invariants "$full" "${R[8]}"
	# A renewal completed: one time in two its certificate becomes the
	# current credential (a new lineage; the old one must survive too),
	# listed as a step of its own so that a replay does the same.
	if [[ -z $REPLAY && ${L_PROT[LI]} != "$prot_before" ]] && ((R[8] % 2 == 0)); then
		L_CUR[LI]=${L_PROT[LI]##* }
		DONE_STEPS+=("switch|L$LI|to=-1  # current -> ${L_CUR[LI]}")
		[[ -z $SAVE ]] || printf 'switch|L%s|to=-1\n' "$LI" >>"$SAVE"
		STEP_NOTE+=" (then switch|L$LI|to=-1: current -> ${L_CUR[LI]})"
	fi
	((R[7] % 4 != 0)) || snapshot
	printf '%4d %-90s %s\n' "$STEP" "$GEN" "${STEP_NOTE:-exit $LAST_RC}"
done
# Last, every lineage in full.
for li in $(seq 0 $((NL - 1))); do use "$li"; check_invariants 1 0; done
elapsed=$((SECONDS - START))
echo "campaign: seed $SEED: $STEPS steps, no violation, ${elapsed}s ($((elapsed ? STEPS * 60 / elapsed : STEPS * 60)) steps/min)"
