# shellcheck shell=bash
# Helpers for the CLI test scripts, sourced after tests/lib/common.sh:
#   . "$TESTS_DIR/lib/common.sh"
#   . "$TESTS_DIR/cli/cli-lib.sh"
#   t_need openssl pkcs11-tool jq
# A throwaway PKI made with openssl (pki_*), the tool (imss), OpenSC's view
# of the token (p11), and snapshots to prove that a refusal changed nothing.
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"

imss() { "$IMSS_RENEW" --module "$SOFTHSM2_MODULE" "$@"; }
# The tool through the fault module, raw-only (no hash-and-sign mechanisms).
imss_raw() {
	FAULT_PKCS11_REAL="$SOFTHSM2_MODULE" FAULT_RAW_ONLY=1 \
		"$IMSS_RENEW" --module "$FAULT_MODULE" "$@"
}
# capture FILE CMD...: CMD with its stdout in FILE.
capture() { local file=$1; shift; "$@" >"$file"; }
# The test's own throwaway PIN: acceptable on pkcs11-tool's command line.
p11() { pkcs11-tool --module "$SOFTHSM2_MODULE" --login --pin "$USER_PIN" "$@" 2>/dev/null; }

# keygen LABEL TYPE: generate a key; its URI in $KEY_URI, its ID in $KEY_ID.
keygen() {
	capture "$T/keygen.json" imss --json keygen --token "$IMSS_TOKEN_URI" \
		--label "$1" --type "$2" --pin-source "file:$T/pin" ||
		die "keygen $1 $2 failed: $(<"$T/stderr")"
	KEY_URI=$(jq -r .uri "$T/keygen.json")
	# shellcheck disable=SC2034 # read by the test scripts
	KEY_ID=$(jq -r .id "$T/keygen.json")
	[[ $KEY_URI == pkcs11:* ]] || die "keygen $1: no URI"
}

# csr_for URI OUT SUBJECT: a PEM request for the token key URI.
csr_for() {
	imss csr --key "$1" --subject "$3" --out "$2" --pin-source "file:$T/pin" ||
		die "csr for $1 failed"
}

# key_and_cert LABEL TYPE SUBJECT: keygen, then a certificate from the CA
# "ca" (pki_ca ca) for the new key, imported next to it: $T/cert.pem and
# $T/cert.der, the certificate's URI in $CERT_URI.
key_and_cert() {
	keygen "$1" "$2"
	csr_for "$KEY_URI" "$T/req.pem" "$3"
	pki_issue ca "$T/req.pem" "$T/cert.pem"
	openssl x509 -in "$T/cert.pem" -outform DER -out "$T/cert.der"
	assert_exit 0 capture "$T/import.txt" imss import --token "$IMSS_TOKEN_URI" \
		--cert "$T/cert.der" --pin-source "file:$T/pin"
	# shellcheck disable=SC2034 # read by the test scripts
	CERT_URI=$(head -n 1 "$T/import.txt")
}

# pki_init: the openssl configuration of the throwaway PKI ($T/pki.cnf).
pki_init() {
	mkdir -p "$T/pki/new"
	: >"$T/pki/index.txt"
	printf '1000\n' >"$T/pki/serial"
	cat >"$T/pki.cnf" <<-EOF
	[req]
	distinguished_name = dn
	prompt = no
	[dn]
	CN = unused
	[v3_ca]
	basicConstraints = critical,CA:TRUE
	keyUsage = critical,keyCertSign,cRLSign
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid
	[v3_leaf]
	basicConstraints = CA:FALSE
	keyUsage = critical,digitalSignature,nonRepudiation
	extendedKeyUsage = emailProtection,clientAuth
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid
	[ca]
	default_ca = ca_dated
	[ca_dated]
	database = $T/pki/index.txt
	new_certs_dir = $T/pki/new
	serial = $T/pki/serial
	default_md = sha256
	policy = policy_any
	unique_subject = no
	x509_extensions = v3_leaf
	[policy_any]
	commonName = optional
	EOF
}

# pki_ca NAME [ISSUER]: a CA in $T/NAME.pem and $T/NAME.key, self-signed
# or (an intermediate) signed by ISSUER.
pki_ca() {
	local name=$1 issuer=${2:-}
	if [[ -z $issuer ]]; then
		openssl req -x509 -newkey rsa:2048 -nodes -config "$T/pki.cnf" \
			-extensions v3_ca -subj "/O=Test PKI/CN=$name" -days 365 \
			-keyout "$T/$name.key" -out "$T/$name.pem" 2>/dev/null ||
			die "openssl cannot make the CA $name"
		return
	fi
	openssl req -new -newkey rsa:2048 -nodes -config "$T/pki.cnf" \
		-subj "/O=Test PKI/CN=$name" -keyout "$T/$name.key" \
		-out "$T/$name.csr" 2>/dev/null || die "openssl cannot make $name's request"
	openssl x509 -req -in "$T/$name.csr" -CA "$T/$issuer.pem" -CAkey "$T/$issuer.key" \
		-set_serial "0x$(openssl rand -hex 8)" -days 365 -extfile "$T/pki.cnf" \
		-extensions v3_ca -out "$T/$name.pem" 2>/dev/null ||
		die "openssl cannot issue the intermediate CA $name"
}

# pki_issue CA REQ OUT [DAYS]: CA issues a certificate (PEM) for REQ.
pki_issue() {
	openssl x509 -req -in "$2" -CA "$T/$1.pem" -CAkey "$T/$1.key" \
		-set_serial "0x$(openssl rand -hex 8)" -days "${4:-90}" \
		-extfile "$T/pki.cnf" -extensions v3_leaf -out "$3" 2>/dev/null ||
		die "openssl cannot issue a certificate for $2"
}

# pki_issue_dated CA REQ OUT START END: the same with a validity period
# given as YYYYMMDDHHMMSSZ, e.g. one that ended already.
pki_issue_dated() {
	openssl ca -batch -config "$T/pki.cnf" -cert "$T/$1.pem" -keyfile "$T/$1.key" \
		-in "$2" -out "$3" -startdate "$4" -enddate "$5" -notext -preserveDN \
		-extensions v3_leaf >/dev/null 2>&1 ||
		die "openssl ca cannot issue a certificate from $4 to $5"
}

# pki_user NAME SUBJECT: an RSA key and certificate made outside the token,
# as IMSS hands them out: $T/NAME.pem, NAME.cer (DER), NAME.key (PKCS#8
# encrypted DER, password in $T/NAME.pw) and NAME.pfx (same password).
pki_user() {
	local name=$1
	printf '%s' "pw-$name-$RANDOM" >"$T/$name.pw"
	openssl req -new -newkey rsa:2048 -nodes -config "$T/pki.cnf" -subj "$2" \
		-keyout "$T/$name.plain.key" -out "$T/$name.csr" 2>/dev/null ||
		die "openssl cannot make $name's key"
	pki_issue ca "$T/$name.csr" "$T/$name.pem"
	openssl x509 -in "$T/$name.pem" -outform DER -out "$T/$name.cer"
	openssl pkcs8 -topk8 -v2 aes256 -in "$T/$name.plain.key" -outform DER \
		-passout "file:$T/$name.pw" -out "$T/$name.key" ||
		die "openssl cannot encrypt $name's key"
	openssl pkcs12 -export -inkey "$T/$name.plain.key" -in "$T/$name.pem" \
		-passout "file:$T/$name.pw" -out "$T/$name.pfx" ||
		die "openssl cannot make $name's .pfx"
	rm -f "$T/$name.plain.key"
}

# is_pem FILE: does FILE start as PEM does?
is_pem() { [[ $(head -c 11 "$1" | tr -d '\0') == "-----BEGIN " ]]; }

# spki_der KIND IN OUT: the DER SubjectPublicKeyInfo of a request (KIND
# req) or certificate (KIND x509), PEM or DER.
spki_der() {
	local form=PEM
	is_pem "$2" || form=DER
	openssl "$1" -inform "$form" -in "$2" -noout -pubkey |
		openssl pkey -pubin -outform DER -out "$3" ||
		die "openssl cannot read the public key of $2"
}

# fingerprint FILE: SHA-256 fingerprint of a certificate (PEM or DER).
fingerprint() {
	local form=PEM
	is_pem "$1" || form=DER
	openssl x509 -inform "$form" -in "$1" -noout -fingerprint -sha256 |
		sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}

# token_state [FILE...]: every object on the token (after login), the
# checksums of the FILEs and what $T/outdir holds (where refused commands
# were told to write), as one text to compare before and after.
token_state() {
	imss --json objects --token "$IMSS_TOKEN_URI" --pin-source "file:$T/pin" |
		jq -S '.objects | sort_by(.uri)' || die "objects --json failed"
	(($# == 0)) || sha256sum -- "$@"
	mkdir -p "$T/outdir"
	ls -A "$T/outdir"
}

# assert_unchanged BEFORE MSG [FILE...]: token_state is still BEFORE.
assert_unchanged() {
	local before=$1 msg=$2
	shift 2
	assert_eq "$before" "$(token_state "$@")" "$msg: token and files unchanged"
}

# count_certs: certificates on the token.
count_certs() {
	imss --json objects --token "$IMSS_TOKEN_URI" |
		jq '[.objects[] | select(.class == "certificate")] | length'
}
