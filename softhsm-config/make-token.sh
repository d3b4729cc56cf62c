#!/usr/bin/env bash
# make-token.sh: make a SoftHSM token in a private directory.
#
#   IMSS_SO_PIN=... IMSS_USER_PIN=... make-token.sh --dir DIR --label LABEL \
#       [--init-tool PATH] [--module PATH] [--add]
#
# Writes DIR/softhsm2.conf (from softhsm2.conf.in) and DIR/tokens/, then runs
# softhsm-token-init with SOFTHSM2_CONF pointing there, so the user's own
# SoftHSM store (/etc/softhsm2.conf, /var/lib/softhsm) is never used.
# PINs come only from the environment.  A DIR that already holds tokens is
# refused unless --add is given (to add another token beside them).
#
# On success prints lines for `eval`:
#   export SOFTHSM2_CONF=... IMSS_TOKEN_LABEL=... IMSS_TOKEN_SERIAL=...
#   export IMSS_TOKEN_URI='pkcs11:token=...' SOFTHSM2_MODULE=...
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "$0")" && pwd -P)

die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
usage() {
	printf 'usage: %s --dir DIR --label LABEL [--init-tool PATH] [--module PATH] [--add]\n' "$prog" >&2
	printf '  PINs are read from the environment: IMSS_SO_PIN, IMSS_USER_PIN\n' >&2
	exit 2
}

# Quote $1 for the shell: 'it'\''s'.
shquote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# Percent-encode $1 as an RFC 7512 path attribute value: everything but
# unreserved characters and pk11-p-res-avail is encoded, byte by byte.
pct_encode() {
	local LC_ALL=C s=$1 out='' c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9._~:@!\$\'\(\)\*+,=\&\[\]-]) out+=$c ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}

byte_len() { local LC_ALL=C; printf '%s' "${#1}"; }

dir='' label='' add=0
init_tool=${SOFTHSM_TOKEN_INIT:-}
module=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
while (($#)); do
	case $1 in
	--dir | --label | --init-tool | --module) (($# >= 2)) || usage ;;&
	--dir) dir=$2; shift 2 ;;
	--label) label=$2; shift 2 ;;
	--init-tool) init_tool=$2; shift 2 ;;
	--module) module=$2; shift 2 ;;
	--add) add=1; shift ;;
	-h | --help) usage ;;
	*) printf '%s: unknown argument: %s\n' "$prog" "$1" >&2; usage ;;
	esac
done
[[ -n $dir && -n $label ]] || usage

[[ -n ${IMSS_SO_PIN:-} ]] || die "IMSS_SO_PIN is not set in the environment"
[[ -n ${IMSS_USER_PIN:-} ]] || die "IMSS_USER_PIN is not set in the environment"
export IMSS_SO_PIN IMSS_USER_PIN
(($(byte_len "$label") <= 32)) || die "label longer than 32 bytes: $label"
[[ $label != *$'\n'* ]] || die "label contains a newline"
[[ $dir != *$'\n'* ]] || die "directory name contains a newline"
[[ -f $module ]] || die "PKCS#11 module not found: $module"
if [[ -z $init_tool ]]; then
	init_tool=$(command -v softhsm-token-init) ||
		die "softhsm-token-init not found: pass --init-tool or set SOFTHSM_TOKEN_INIT"
fi
[[ -x $init_tool ]] || die "not an executable: $init_tool"
template=$here/softhsm2.conf.in
[[ -r $template ]] || die "template not found: $template"

umask 077
mkdir -p -- "$dir"
dir=$(cd -- "$dir" && pwd -P)
conf=$dir/softhsm2.conf
tokens=$dir/tokens
if [[ -d $tokens ]] && [[ -n $(ls -A -- "$tokens") ]] && ((!add)); then
	die "$tokens already holds tokens (use --add to add another)"
fi
mkdir -p -- "$tokens"
tmpl=$(<"$template")
printf '%s\n' "${tmpl//@TOKENDIR@/"$tokens"}" >"$conf"

serial=$(SOFTHSM2_CONF=$conf "$init_tool" --module "$module" --label "$label") ||
	die "softhsm-token-init failed for label '$label' in $dir"
[[ -n $serial ]] || die "softhsm-token-init printed no serial number"

printf 'export SOFTHSM2_CONF=%s\n' "$(shquote "$conf")"
printf 'export IMSS_TOKEN_LABEL=%s\n' "$(shquote "$label")"
printf 'export IMSS_TOKEN_SERIAL=%s\n' "$(shquote "$serial")"
printf 'export IMSS_TOKEN_URI=%s\n' "$(shquote "pkcs11:token=$(pct_encode "$label")")"
printf 'export SOFTHSM2_MODULE=%s\n' "$(shquote "$module")"
