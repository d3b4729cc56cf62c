#!/usr/bin/env bash
# A token key as one EVP_PKEY: OpenSSL's own tools verify the request, the
# self-signed certificate and the CMS signature it made, and openssl
# s_server -Verify accepts it for TLS 1.2 and 1.3 client authentication.
# RSA and EC, on SoftHSM and on a raw-only token (fault module); one login
# and one module initialisation per run.
. "$TESTS_DIR/lib/common.sh"
t_tmpdir
t_make_token bridge

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-subj /CN=localhost -days 1 -keyout "$T/srv.key" -out "$T/srv.pem" 2>/dev/null

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
}

# s_server for one handshake: $1 port, $2 CA file, $3 log, $4 version flag
start_server() {
	openssl s_server -accept "127.0.0.1:$1" -cert "$T/srv.pem" -key "$T/srv.key" \
		-Verify 1 -CAfile "$2" -naccept 1 -www "$4" >"$3" 2>&1 </dev/null &
	SERVERS+=("$!")
	for _ in $(seq 50); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	die "s_server did not start on port $1"
}
SERVERS=()
stop_servers() { for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null || :; wait "$p" 2>/dev/null || :; done; SERVERS=(); }
trap 'stop_servers; t_cleanup' EXIT

run_case() { # $1 name, $2 module, $3 keytype
	local d="$T/$1"
	mkdir -p "$d/again"
	"$TEST_BRIDGE" "$2" "$IMSS_TOKEN_URI" "$T/pin" "$3" "$d" >"$d/gen.out" 2>&1 ||
		{ cat "$d/gen.out"; die "$1: request, certificate or CMS failed"; }
	openssl req -in "$d/req.pem" -noout -verify 2>&1 | tee "$d/req.verify"
	assert_contains "$(cat "$d/req.verify")" "verify OK" "$1: openssl req -verify"
	assert_eq "$(openssl req -in "$d/req.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)" \
		"$(openssl x509 -in "$d/cert.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)" \
		"$1: request and certificate carry the same token public key"
	assert_eq "$(openssl verify -CAfile "$d/cert.pem" "$d/cert.pem")" "$d/cert.pem: OK" \
		"$1: openssl verify of the token-signed certificate"
	openssl cms -verify -binary -inform DER -in "$d/letter.p7s" -content "$d/letter.txt" \
		-CAfile "$d/cert.pem" -out /dev/null 2>"$d/cms.verify" || { cat "$d/cms.verify"; die "$1: openssl cms -verify"; }
	assert_contains "$(cat "$d/cms.verify")" "Verification successful" "$1: openssl cms -verify"

	local p12 p13 key_uri
	p12=$(free_port); start_server "$p12" "$d/cert.pem" "$d/s12.log" -tls1_2
	p13=$(free_port); start_server "$p13" "$d/cert.pem" "$d/s13.log" -tls1_3
	key_uri=$(sed -n 's/^key \(pkcs11:[^ ]*\) .*/\1/p' "$d/gen.out")
	: >"$T/fault.log"
	FAULT_LOG="$T/fault.log" "$TEST_BRIDGE" "$2" "$IMSS_TOKEN_URI" "$T/pin" "$key_uri" \
		"$d/again" "$p12" "$p13" >"$d/tls.out" 2>&1 || { cat "$d/tls.out" "$d"/s1*.log; die "$1: TLS failed"; }
	stop_servers
	cat "$d/tls.out"
	assert_contains "$(cat "$d/tls.out")" "ok TLS TLSv1.2 handshake" "$1: TLS 1.2 client authentication"
	assert_contains "$(cat "$d/tls.out")" "ok TLS TLSv1.3 handshake" "$1: TLS 1.3 client authentication"
	for v in 12 13; do
		assert_contains "$(cat "$d/s$v.log")" "verify return:1" "$1: s_server verified the client (TLS $v)"
	done
	if [[ "$2" == "$FAULT_MODULE" ]]; then
		assert_eq "$(grep -c '^C_Login ' "$T/fault.log")" 1 "$1: one C_Login for request, certificate, CMS and two handshakes"
		assert_eq "$(grep -c '^C_Initialize ' "$T/fault.log")" 1 "$1: the module is initialised once"
	fi
}

export FAULT_PKCS11_REAL="$SOFTHSM2_MODULE"
run_case rsa "$FAULT_MODULE" rsa:2048
run_case ec "$FAULT_MODULE" ec:prime256v1
run_case ec384 "$FAULT_MODULE" ec:secp384r1
FAULT_RAW_ONLY=1 run_case rsa-raw "$FAULT_MODULE" rsa:3072
FAULT_RAW_ONLY=1 run_case ec-raw "$FAULT_MODULE" ec:prime256v1
