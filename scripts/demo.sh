#!/usr/bin/env bash
# Demostración / demo: one whole renewal of an expired IMSS employer
# certificate, end to end, on this machine.
#
#   scripts/demo.sh
#
# Installs the missing Debian packages (as root; the list of
# scripts/test.sh, in scripts/lib.sh), builds into build/ (BUILD_DIR), then
# in a throwaway directory: a reference renewal service with its own CA
# and one employer, started on 127.0.0.1; a SoftHSM token holding the
# employer's certificate, already expired, and its key; `imss-renew doctor`
# and `status`; `imss-renew renew` run without questions (PIN and
# passwords from files, never on a command line), each of its seven steps
# shown as it happens; the new certificate on the token (`status --login`)
# and checked with `openssl verify`.
#
# Every process it starts is stopped on exit, interrupt or error.  The
# throwaway directory is removed unless KEEP=1.  Exit status 0 when every
# step succeeded, non-zero otherwise.  Runs from any directory.
set -euo pipefail

prog=demo.sh
root=$(cd "$(dirname "$0")/.." && pwd -P)
# The package list and imss_install_packages.
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$root/scripts/lib.sh"

case ${1:-} in
'') ;;
-h | --help) sed -n '2,/^set -e/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
*) printf '%s: unknown argument: %s (try --help)\n' "$prog" "$1" >&2; exit 2 ;;
esac

# The demo's employer (the reference service's, not a real one).
RP=Y1234567108
RAZON_SOCIAL='COMERCIALIZADORA DEMO SA DE CV'
RFC=CDE010101AB1
EMAIL_OLD=rh@comercializadora-demo.mx
EMAIL_NEW=nominas@comercializadora-demo.mx
IDSE_USER=DEMO0001
TOKEN_LABEL='IMSS DEMO'
OLD_LABEL="IMSS $RP"

section=''      # what is being done, named when it fails
svc_pid=''      # the reference service, while it runs
T=''            # the throwaway directory

if [[ -t 1 ]]; then bold=$'\e[1m' off=$'\e[0m'; else bold='' off=''; fi

# header ES EN: a section, in Spanish and English.
header() {
	section="$1 / $2"
	printf '\n%s=== %s\n    %s ===%s\n' "$bold" "$1" "$2" "$off"
}
note() { printf '%s: %s\n' "$prog" "$*"; }
fail() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
now_ms() { local t=${EPOCHREALTIME/[.,]/}; printf '%s' "$((t / 1000))"; }
seconds() { printf '%d.%01d' "$(($1 / 1000))" "$((($1 % 1000) / 100))"; }

stop_service() {
	local i
	[[ -n $svc_pid ]] || return 0
	kill -TERM "$svc_pid" 2>/dev/null || :
	for ((i = 0; i < 50; i++)); do
		kill -0 "$svc_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$svc_pid" 2>/dev/null || :
	wait "$svc_pid" 2>/dev/null || :
	svc_pid=''
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_service
	if [[ -n $T && -d $T ]]; then
		if [[ ${KEEP:-0} == 1 ]]; then
			note "KEEP=1: se conserva / kept: $T"
		else
			rm -rf -- "$T"
		fi
	fi
	if ((rc != 0)); then
		printf '\n%s: FALLÓ / FAILED (%s) en / in: %s\n' "$prog" "$rc" "${section:-?}" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
t_start=$(now_ms)
header 'Paquetes de Debian y compilación' 'Debian packages and build'
imss_install_packages "$prog" || exit
build=${BUILD_DIR:-$root/build}
T=$(mktemp -d "${TMPDIR:-/tmp}/imss-demo.XXXXXX")
note "compilando en / building in $build (registro / log: $T/build.log)"
if ! { cmake -S "$root" -B "$build" -DIMSS_SANITIZE=OFF &&
	cmake --build "$build" --parallel "$(nproc)"; } >"$T/build.log" 2>&1; then
	tail -n 40 "$T/build.log" >&2
	fail "la compilación falló / the build failed"
fi
tool=$build/src/tool/imss-renew
service=$build/src/service/imss-renew-service
init_tool=$build/softhsm-config/softhsm-token-init
module=/usr/lib/softhsm/libsofthsm2.so
for f in "$tool" "$service" "$init_tool" "$module"; do
	[[ -e $f ]] || fail "no existe / missing: $f"
done
"$tool" --version
t_built=$(now_ms)

cd "$T"
umask 077
mkdir -p out state

# Random secrets, written straight to files (mode 0600), never on a
# command line.  The tools read them with file:PATH sources.
openssl rand -hex 4 >user.pin
openssl rand -hex 4 >so.pin
{ printf Demo; openssl rand -hex 6; } >idse.pass
renew_tool() { "$tool" --module "$module" "$@"; }

# ---------------------------------------------------------------------------
header 'Servicio de renovación de referencia (local, con su propia CA)' \
	'Reference renewal service (local, with its own CA)'
"$service" init --dir "$T/svc" --kdf-iterations 10000
"$service" employer add --dir "$T/svc" --registro-patronal "$RP" \
	--razon-social "$RAZON_SOCIAL" --rfc "$RFC" --email "$EMAIL_OLD" \
	--user "$IDSE_USER" --address 'Av. Paseo de la Reforma 222, CDMX' \
	--password-source "file:$T/idse.pass"
"$service" serve --dir "$T/svc" --listen 127.0.0.1:0 >serve.out 2>serve.log &
svc_pid=$!
url=''
for ((i = 0; i < 100; i++)); do
	url=$(sed -n 's/^listening on //p' serve.out)
	[[ -z $url ]] || break
	kill -0 "$svc_pid" 2>/dev/null || { cat serve.log >&2; fail "el servicio terminó / the service exited"; }
	sleep 0.1
done
[[ -n $url ]] || fail "el servicio no respondió / the service did not start"
note "servicio / service: $url (pid $svc_pid), CA: $T/svc/ca.pem"
openssl x509 -in svc/ca.pem -noout -subject -fingerprint -sha256

# ---------------------------------------------------------------------------
header 'Token PKCS#11 (SoftHSM) e imss-renew doctor' 'PKCS#11 token (SoftHSM) and imss-renew doctor'
# make-token.sh takes the PINs from its environment and prints the
# variables to export (SOFTHSM2_CONF, IMSS_TOKEN_URI, ...).
token_env=$(IMSS_SO_PIN=$(<so.pin) IMSS_USER_PIN=$(<user.pin) \
	"$root/softhsm-config/make-token.sh" --dir "$T/softhsm" --label "$TOKEN_LABEL" \
	--init-tool "$init_tool" --module "$module")
eval "$token_env"
token=$IMSS_TOKEN_URI
note "token: $token (SoftHSM, $SOFTHSM2_CONF)"
renew_tool doctor --token "$token"

# ---------------------------------------------------------------------------
header 'El patrón ya tiene un certificado, vencido, con su llave en el token' \
	'The employer already has a certificate, expired, with its key on the token'
"$service" issue --dir "$T/svc" --registro-patronal "$RP" --expired \
	--token "$token" --module "$module" --pin-source "file:$T/user.pin"
echo
renew_tool status --token "$token"
renew_tool --json status --token "$token" >status-before.json 2>status-before.err ||
	{ cat status-before.err >&2; fail "imss-renew --json status"; }
jq -e '[.certificates[] | select(.expired)] | length == 1' status-before.json >/dev/null ||
	fail "se esperaba un certificado vencido / expected one expired certificate"

# ---------------------------------------------------------------------------
header 'Renovación: imss-renew renew (sin preguntas: --yes, PIN y contraseña desde archivos)' \
	'Renewal: imss-renew renew (no questions: --yes, PIN and password from files)'
current="$token;object=${OLD_LABEL// /%20};type=private"
cat <<EOF
imss-renew --module $module renew \\
    --server $url --user $IDSE_USER \\
    --current '$current' --token '$token' \\
    --email $EMAIL_NEW --ca $T/svc/ca.pem --yes \\
    --pin-source file:$T/user.pin --idse-password-source file:$T/idse.pass \\
    --state-dir $T/state --out-dir $T/out
EOF
steps=(
	''
	'Paso 1/7: entrar al IDSE con el certificado actual (aunque esté vencido)|Step 1/7: log in with the current certificate (even expired)'
	'Paso 2/7: datos de la empresa; sólo se cambia el correo electrónico|Step 2/7: company data; only the e-mail is changed'
	'Paso 3/7: llave nueva generada dentro del token (su generador aleatorio sustituye al ratón)|Step 3/7: new key generated inside the token (its RNG replaces the mouse)'
	'Paso 4/7: solicitud de certificado firmada por el token y verificada|Step 4/7: certificate request signed by the token and verified'
	'Paso 5/7: carta de términos y condiciones: descargarla y firmarla|Step 5/7: terms letter: download and sign it'
	'Paso 6/7: enviar la solicitud, recibir y revisar el certificado, guardarlo en el token|Step 6/7: submit, receive and check the certificate, store it on the token'
	'Paso 7/7: resultado|Step 7/7: result'
)
shown=0
renew_status=0
# The steps as they are printed (the tool flushes each one), with a header
# before each new step; lastpipe keeps the loop in this shell.
shopt -s lastpipe
renew_tool renew --server "$url" --user "$IDSE_USER" --current "$current" \
	--token "$token" --email "$EMAIL_NEW" --ca "$T/svc/ca.pem" --yes \
	--pin-source "file:$T/user.pin" --idse-password-source "file:$T/idse.pass" \
	--state-dir "$T/state" --out-dir "$T/out" |
	while IFS= read -r line || [[ -n $line ]]; do
		if [[ $line =~ ^\[([1-7])/7\] ]] && ((BASH_REMATCH[1] > shown)); then
			shown=${BASH_REMATCH[1]}
			section=${steps[shown]/|/ \/ }
			printf '\n%s--- %s\n    %s ---%s\n' "$bold" "${steps[shown]%%|*}" \
				"${steps[shown]#*|}" "$off"
		fi
		printf '%s\n' "$line"
	done || renew_status=$?
((renew_status == 0)) || fail "imss-renew renew terminó con / exited with $renew_status"
((shown == 7)) || fail "no se vieron los siete pasos / the seven steps were not all shown"

# ---------------------------------------------------------------------------
header 'El certificado nuevo en el token (imss-renew status --login)' \
	'The new certificate on the token (imss-renew status --login)'
renew_tool status --token "$token" --login --pin-source "file:$T/user.pin"
copy=$(find out -name "certificado-$RP-*.cer" -print -quit)
[[ -n $copy ]] || fail "no hay copia del certificado / no certificate copy in $T/out"
serial=$(openssl x509 -inform DER -in "$copy" -noout -serial)
serial=${serial#serial=}
renew_tool --json status --token "$token" --login --pin-source "file:$T/user.pin" \
	>status.json 2>status.err || { cat status.err >&2; fail "imss-renew --json status --login"; }
jq -e --arg s "$serial" --arg e "$EMAIL_NEW" '
	([.certificates[] | select(.serial == $s and (.expired | not) and .key_present
	                            and .email == $e)] | length == 1) and
	([.certificates[] | select(.expired and .key_present)] | length == 1)' status.json >/dev/null ||
	fail "el token no tiene el certificado nuevo y el anterior / the token lacks the new and the old certificate"
note "en el token: el certificado nuevo $serial (vigente, con su llave) y el anterior, intacto"
note "on the token: the new certificate $serial (valid, with its key) and the old one, untouched"

# ---------------------------------------------------------------------------
header 'Verificación con OpenSSL: la copia y el certificado del token' \
	'Verification with OpenSSL: the copy and the certificate on the token'
cert_uri=$(jq -r --arg s "$serial" '.certificates[] | select(.serial == $s) | .location' status.json)
renew_tool export --cert "$cert_uri" --out "$T/from-token.cer"
cmp "$copy" from-token.cer
note "la copia es idéntica al certificado del token / the copy is identical to the one on the token"
openssl verify -CAfile svc/ca.pem "$copy"
openssl x509 -inform DER -in "$copy" -noout -subject -serial -dates
ls -l out

# ---------------------------------------------------------------------------
header 'Registro del servicio (una línea por petición)' 'Service log (one line per request)'
cat serve.log
stop_service

t_end=$(now_ms)
header 'Listo' 'Done'
note "tiempo / time: paquetes y compilación / packages and build $(seconds $((t_built - t_start))) s," \
	"demostración / demo $(seconds $((t_end - t_built))) s"
section=''
