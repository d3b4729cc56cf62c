# shellcheck shell=bash
# Helpers of the check tests, sourced after tests/lib/common.sh:
# certificates for Empresa Ejemplo that are valid 90 days, valid 10 days
# and expired, made by the throwaway PKI of cli-lib.sh (sourced here).
# shellcheck source=SCRIPTDIR/../cli/cli-lib.sh
. "$TESTS_DIR/cli/cli-lib.sh"

# shellcheck disable=SC2034 # used by the test scripts
SUBJECT='/O=Empresa Ejemplo SA de CV/OU=Y1234567890/x500UniqueIdentifier=EEJ920101AB1/CN=Juan Perez'
# shellcheck disable=SC2034
RAZON_SOCIAL='Empresa Ejemplo SA de CV'
# shellcheck disable=SC2034
REGISTRO_PATRONAL=Y1234567890

# check_certs_for REQ_PREFIX: $T/<prefix>90.pem, <prefix>10.pem and
# <prefix>expired.pem issued by the CA "ca" for the requests
# $T/<prefix>90.csr, <prefix>10.csr and <prefix>expired.csr, with DER
# copies (.cer).  The expired one ended in 2020 (openssl ca -enddate).
check_certs_for() {
	local p=$1 f
	# Half a day past the whole days, so that "days left" does not tick
	# down between two runs of a test (--days N at the edge).
	local start end90 end10
	start=$(date -u -d '-1 hour' +%Y%m%d%H%M%SZ)
	end90=$(date -u -d '+90 days 12 hours' +%Y%m%d%H%M%SZ)
	end10=$(date -u -d '+10 days 12 hours' +%Y%m%d%H%M%SZ)
	pki_issue_dated ca "$T/${p}90.csr" "$T/${p}90.pem" "$start" "$end90"
	pki_issue_dated ca "$T/${p}10.csr" "$T/${p}10.pem" "$start" "$end10"
	pki_issue_dated ca "$T/${p}expired.csr" "$T/${p}expired.pem" \
		20200101000000Z 20200201000000Z
	for f in 90 10 expired; do
		openssl x509 -in "$T/$p$f.pem" -outform DER -out "$T/$p$f.cer"
	done
}

# serial_of PEM: the serial as openssl prints it (upper-case hex).
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }

# check_json FILE: the JSON of a check run, after a sanity check of its
# shape: certificates an array, status one of the three words, days a
# number.
check_json() {
	jq -e '(.certificates | type == "array") and
		(.status | IN("ok", "expiring", "expired")) and (.days | type == "number")' \
		"$1" >/dev/null || die "check --json: unexpected shape: $(<"$1")"
}

# check_file_certs: the throwaway PKI of cli-lib.sh with the CA "ca", and
# $T/f90, f10 and fexpired (.pem, .cer, .key) for Empresa Ejemplo.
check_file_certs() {
	local f
	pki_init
	pki_ca ca
	for f in 90 10 expired; do
		openssl req -new -newkey rsa:2048 -nodes -config "$T/pki.cnf" -subj "$SUBJECT" \
			-keyout "$T/f$f.key" -out "$T/f$f.csr" 2>/dev/null || die "openssl req"
	done
	check_certs_for f
}

# check, jcheck ARGS: `imss-renew check` (with --json) on files; no token
# is touched: a module that does not exist makes sure of it.
check() { "$IMSS_RENEW" --module "$T/no-such-module.so" check "$@"; }
jcheck() { "$IMSS_RENEW" --module "$T/no-such-module.so" --json check "$@"; }
