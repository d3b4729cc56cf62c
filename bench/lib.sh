# shellcheck shell=bash
# What the benches share: their options, the built programs, a throwaway
# SoftHSM token and reference service, employers whose expired credentials
# are on the token, and one renewal counted through OpenSC's pkcs11-spy and
# timed through the fault module.  Source it from bench/*.sh:
#   root=...; . "$root/bench/lib.sh"; bench_args "$0" FLAGS OPTIONS "$@"
#   bench_setup NAME
build=$root/build

# bench_args SCRIPT 'FLAG...' 'OPTION...' ARGS...: --FLAG sets $FLAG to 1,
# --OPTION VALUE sets $OPTION (a dash in the name is an underscore), --build
# DIR sets $build; -h prints the script's header comment.
bench_args() {
	local script=$1 flags=" $2 " options=" $3 build " name
	shift 3
	while (($#)); do
		name=${1#--}
		if [[ $1 == -h || $1 == --help ]]; then
			sed -n '2,/^set -e/{/^#/s/^# \{0,1\}//p}' "$script"
			exit 0
		elif [[ $1 == --* && $flags == *" $name "* ]]; then
			printf -v "${name//-/_}" 1
			shift
		elif [[ $1 == --* && $options == *" $name "* && $# -ge 2 ]]; then
			printf -v "${name//-/_}" '%s' "$2"
			shift 2
		else
			echo "${script##*/}: unknown argument $1" >&2
			exit 2
		fi
	done
}

# bench_setup NAME: the programs (NAME for messages), a temporary directory
# $T removed on exit (with the service, if started), the PIN and passwords.
bench_setup() {
	B_NAME=$1
	tool=$build/src/tool/imss-renew
	service=$build/src/service/imss-renew-service
	fault=$build/tests/fault-module/fault-pkcs11.so
	init=$build/softhsm-config/softhsm-token-init
	softhsm=/usr/lib/softhsm/libsofthsm2.so
	spy=$(ls /usr/lib/*/pkcs11/pkcs11-spy.so /usr/lib/*/pkcs11-spy.so 2>/dev/null | head -n1 || true)
	local f
	for f in "$tool" "$service" "$fault" "$init" "$softhsm"; do
		[[ -e $f ]] || bench_die "$f is missing (build first: scripts/test.sh)"
	done
	[[ -n $spy ]] || bench_die "OpenSC's pkcs11-spy.so not found (apt-get install opensc)"
	T=$(mktemp -d /tmp/imss-bench.XXXXXX)
	svc_pid=
	B_WRAP=()
	trap bench_cleanup EXIT
	printf 1234 >"$T/pin"
	printf Secreto123 >"$T/idse.pass"
	printf pfxpass1 >"$T/pfx.pass"
	chmod 600 "$T"/pin "$T"/*.pass
	mkdir -m 700 "$T/state"
	mkdir -p "$T/out"
}

bench_die() { echo "$B_NAME: $*" >&2; exit 1; }

bench_cleanup() {
	[[ -z $svc_pid ]] || { kill "$svc_pid" 2>/dev/null || :; wait "$svc_pid" 2>/dev/null || :; }
	rm -rf "$T"
}

# bench_token DIR: a new token labelled IMSS in DIR (SOFTHSM2_CONF and
# IMSS_TOKEN_URI exported for it).
bench_token() {
	eval "$(IMSS_SO_PIN=12345678 IMSS_USER_PIN=1234 "$root/softhsm-config/make-token.sh" \
		--dir "$1" --label IMSS --init-tool "$init" --module "$softhsm")"
	export SOFTHSM2_CONF IMSS_TOKEN_URI
}

# bench_service: the reference service's directory $T/svc.
bench_service() {
	"$service" init --dir "$T/svc" --kdf-iterations 10000 >/dev/null
}

# bench_rp N / bench_user N: employer N's registro patronal and IDSE user.
bench_rp() { printf 'B%010d' "$1"; }
bench_user() { printf 'EMPRESA%06d' "$1"; }
# bench_label N: the label of employer N's current key and certificate.
bench_label() { printf 'IMSS anterior %s' "$(bench_rp "$1")"; }

# bench_employers FIRST LAST: employers FIRST..LAST added to the service
# (one CSV) with the same IDSE password.
bench_employers() {
	local i csv=$T/employers-$1.csv
	{
		echo registro_patronal,razon_social,rfc,email,user,password
		for ((i = $1; i <= $2; i++)); do
			printf '%s,EMPRESA %s SA DE CV,EPR010101AB1,rh@%s.example.mx,%s,Secreto123\n' \
				"$(bench_rp "$i")" "$i" "$(bench_rp "$i")" "$(bench_user "$i")"
		done
	} >"$csv"
	chmod 600 "$csv"
	"$service" employer add --dir "$T/svc" --csv "$csv" >/dev/null
}

# bench_issue_token N TYPE: employer N's expired certificate with a key of
# TYPE made on the token, labelled bench_label N (3 objects).
bench_issue_token() {
	"$service" issue --dir "$T/svc" --registro-patronal "$(bench_rp "$1")" --expired \
		--key-type "$2" --token "$IMSS_TOKEN_URI" --module "$softhsm" \
		--pin-source "file:$T/pin" --label "$(bench_label "$1")" >/dev/null
}

# bench_current N: the --current URI of employer N's credential on the token.
bench_current() {
	local label
	label=$(bench_label "$1")
	printf 'pkcs11:token=IMSS;object=%s;type=private' "${label// /%20}"
}

# bench_serve: the service on a free port of 127.0.0.1 ($url).
bench_serve() {
	"$service" serve --dir "$T/svc" --listen 127.0.0.1:0 >"$T/serve.out" 2>"$T/serve.log" &
	svc_pid=$!
	for _ in $(seq 100); do grep -q listening "$T/serve.out" 2>/dev/null && break; sleep 0.05; done
	url=$(sed -n 's/^listening on //p' "$T/serve.out")
	[[ -n $url ]] || bench_die "the service did not start: $(cat "$T/serve.log")"
}

# bench_renew TAG USER TYPE CURRENT...: one `renew` of USER with a TYPE key
# through pkcs11-spy ($T/TAG.spy; B_SPY=0: without it) and the fault module
# ($T/TAG.calls, with the caller's FAULT_LATENCY if any); output in
# $T/TAG.out and .err, wall time in ms in B_WALL_MS.  B_WRAP: a command
# (and its arguments) the tool runs under, such as /usr/bin/time.
bench_renew() {
	local tag=$1 user=$2 type=$3 start module=$spy
	shift 3
	((${B_SPY:-1})) || module=$fault
	start=$(date +%s%N)
	# OpenSC's pkcs11-spy leaks what it allocates; under a sanitizer build
	# (the tests run the bench there too) its leaks are not the tool's.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	PKCS11SPY=$fault PKCS11SPY_OUTPUT=$T/$tag.spy FAULT_PKCS11_REAL=$softhsm \
	FAULT_LOG=$T/$tag.calls \
		"${B_WRAP[@]}" "$tool" --module "$module" --verbose renew --server "$url" --user "$user" "$@" \
		--token "$IMSS_TOKEN_URI" --type "$type" --ca "$T/svc/ca.pem" \
		--pin-source "file:$T/pin" --idse-password-source "file:$T/idse.pass" \
		--state-dir "$T/state" --out-dir "$T/out" --yes >"$T/$tag.out" 2>"$T/$tag.err" ||
		{ cat "$T/$tag.out" "$T/$tag.err" >&2; bench_die "renew $tag failed"; }
	B_WALL_MS=$((($(date +%s%N) - start) / 1000000))
}

# bench_calls SPYLOG [FUNCTION]: how many PKCS#11 calls (of FUNCTION) the
# spy logged.
bench_calls() {
	grep -cE "^[0-9]+: ${2:-C_[A-Za-z]+}\$" "$1" || true
}

# bench_token_ms CALLSLOG: the milliseconds the fault module logged.
bench_token_ms() { awk '{ s += $3 } END { printf "%.1f", s / 1000 }' "$1"; }

# bench_service_ms ERR: the milliseconds `--verbose` logged for HTTPS.
bench_service_ms() {
	sed -n 's/.*http: .* in \([0-9.]*\) ms$/\1/p' "$1" | awk '{ s += $1 } END { printf "%.1f", s }'
}
