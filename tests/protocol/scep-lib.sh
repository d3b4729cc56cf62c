# shellcheck shell=bash
# micromdm's SCEP server for the tests of tests/protocol/: a CA in a
# temporary depot, the server on a free port (killed on exit), and a
# first certificate made by its own client with a file key.  Source after
# tests/lib/common.sh:
#   scep_start          # SCEP_URL, SCEP_DEPOT, SCEP_CHALLENGE
#   scep_first_cert DIR # DIR/first.key (PEM, unencrypted), DIR/first.pem
t_need scepserver scepclient openssl curl python3
t_tmpdir
SCEP_PID=''
SCEP_CHALLENGE=secreto-scep
SCEP_DEPOT=$T/depot

scep_cleanup() {
	if [[ -n $SCEP_PID ]]; then
		kill -TERM "$SCEP_PID" 2>/dev/null || :
		wait "$SCEP_PID" 2>/dev/null || :
	fi
	SCEP_PID=''
	t_cleanup
}
trap scep_cleanup EXIT

# scep_start: a new CA and the server on a free port.
scep_start() {
	local port
	scepserver ca -init -depot "$SCEP_DEPOT" >/dev/null 2>&1 || die "scepserver ca -init"
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	scepserver -depot "$SCEP_DEPOT" -port "$port" -challenge "$SCEP_CHALLENGE" \
		-allowrenew 0 -debug >>"$T/scepserver.log" 2>&1 &
	SCEP_PID=$!
	SCEP_URL=http://127.0.0.1:$port/scep
	local tries=100
	until curl -fs "$SCEP_URL?operation=GetCACaps" >/dev/null 2>&1; do
		kill -0 "$SCEP_PID" 2>/dev/null || die "scepserver exited: $(<"$T/scepserver.log")"
		((--tries > 0)) || die "scepserver does not answer on $SCEP_URL"
		sleep 0.1
	done
}

# scep_first_cert DIR [CN]: the first certificate, by scepclient (file key).
scep_first_cert() {
	local dir=$1 cn=${2:-Empresa SCEP}
	mkdir -p "$dir"
	scepclient -server-url "$SCEP_URL" -challenge "$SCEP_CHALLENGE" \
		-private-key "$dir/first.key" -certificate "$dir/first.pem" \
		-cn "$cn" -organization 'EMPRESA SA DE CV' -ou 'Y0000000000' -country MX \
		>>"$T/scepclient.log" 2>&1 || { cat "$T/scepclient.log" >&2; die "scepclient"; }
}

# PKIOperation requests the server has answered so far.
scep_operations() { grep -c 'op=PKIOperation' "$T/scepserver.log" || :; }

# scep_token: SoftHSM's token IMSS (through the fault module when MODULE
# says so), the challenge in $T/challenge, and tool(), p11(), objects()
# (the token's objects, sorted, for comparing before and after).
scep_token() {
	t_need jq pkcs11-tool
	SOFTHSM=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
	export FAULT_PKCS11_REAL=$SOFTHSM
	t_make_token IMSS
	printf '%s' "$SCEP_CHALLENGE" >"$T/challenge"
	chmod 600 "$T/challenge"
}
tool() { "$IMSS_RENEW" --module "${MODULE:-$SOFTHSM}" "$@"; }
p11() { pkcs11-tool --module "$SOFTHSM" --token-label IMSS -l --pin "$USER_PIN" "$@"; }
# rsa_key_signs_for ID PEM: the RSA private key with that ID signs what the
# certificate's public key verifies (a renewal's key keeps no public key
# object: its public key was a session object).
rsa_key_signs_for() {
	head -c 64 /dev/urandom >"$T/signs-for.data"
	openssl x509 -in "$2" -noout -pubkey >"$T/signs-for.pub" &&
		p11 --sign --id "$1" -m SHA256-RSA-PKCS -i "$T/signs-for.data" -o "$T/signs-for.sig" \
			>/dev/null 2>&1 &&
		openssl dgst -sha256 -verify "$T/signs-for.pub" -signature "$T/signs-for.sig" \
			"$T/signs-for.data" >/dev/null 2>&1
}
objects() {
	tool --json objects --login --token "$IMSS_TOKEN_URI" --pin-source "file:$T/pin" |
		jq -c '[.objects[] | {class: .class, id: .id, label: .label}] | sort_by([.class, .id, .label])'
}
