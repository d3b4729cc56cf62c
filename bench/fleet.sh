#!/usr/bin/env bash
# Every figure of issue 12 ("Performance"), measured side by side in one
# run against a throwaway reference service and SoftHSM tokens:
#
#  1. PKCS#11 calls of one `renew` (pkcs11-spy; target 24), of --type and
#     of RSA 2048 (IMSS's key type), on a token with one employer and on
#     one with 201 (400+ objects: private key and
#     certificate each): the same count (flat);
#     amortized per renewal in a `fleet renew` of 200 (target 20); C_Login
#     per run (target 1).
#  2. A modelled USB token (the fault module's FAULT_LATENCY): the wall time
#     of a fleet of 20 against the modelled token time (target 1.15x), and
#     against a do-it-yourself pipeline through the same model (pkcs11-tool
#     --keypairgen, `openssl req -engine pkcs11`, the CA signs, pkcs11-tool
#     --write-object; goal: the fleet 3x faster).
#  3. 50 renewals as one fleet run against 50 `renew` processes (SoftHSM,
#     no latency; goal 2x).
#  4. Peak memory (max RSS, /usr/bin/time -v) of the fleet of 200 (target
#     24 MiB) and of one `renew`.
#
#   bench/fleet.sh [--type ec:prime256v1|rsa:2048] [--many N] [--modelled N]
#                  [--compare N] [--latency SPEC] [--sections LIST] [--build DIR]
#
# --many (200), --modelled (20) and --compare (50) set the sizes; --latency
# the model (default:15ms,C_GenerateKeyPair:2000ms,C_Sign:250ms);
# --sections the sections to run (default 1234; e.g. 3 for the ratio alone,
# section 4's fleet row needs section 1).  What
# cannot run (no `fleet renew` in this build, no libengine-pkcs11-openssl)
# is printed as "not measured: ..." with the reason, never guessed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
type=ec:prime256v1
many=200
modelled=20
compare=50
latency=default:15ms,C_GenerateKeyPair:2000ms,C_Sign:250ms
sections=1234
# shellcheck source=lib.sh
. "$root/bench/lib.sh"
bench_args "$0" '' 'type many modelled compare latency sections' "$@"
bench_setup fleet.sh
engine=$(ls /usr/lib/*/engines-3/pkcs11.so 2>/dev/null | head -n1 || true)
has_fleet=0
"$tool" fleet renew --help >/dev/null 2>&1 && has_fleet=1

say() { printf '%s\n' "$*"; }
row() { printf '  %-52s %s\n' "$1" "$2"; }
nm() { row "$1" "not measured: $2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.2f" : "-"), a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
# max_rss FILE: the max RSS in KiB /usr/bin/time -v wrote to FILE.
max_rss() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }
# lines FILE: the calls a FAULT_LOG holds (C_GetFunctionList included, as
# pkcs11-spy counts it).
lines() { wc -l <"$1" | tr -d ' '; }
# calls_of FILE NAME: how many calls of NAME a FAULT_LOG holds.
calls_of() { grep -c "^$2 " "$1" || true; }
# cpu_s FILE: the CPU seconds (user + system) of the runs /usr/bin/time -v
# wrote to FILE (appended one after the other).
cpu_s() { awk -F': ' '/(User|System) time \(seconds\)/ { s += $2 } END { printf "%.2f", s }' "$1"; }
# svc_cpu_s: the CPU seconds the reference service has used so far.
svc_cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$svc_pid/stat"; }
# sub A B: A - B, two decimals.
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

# populate FIRST LAST: employers FIRST..LAST on the current token (3 objects
# each) and in the service.
populate() {
	local i
	bench_employers "$1" "$2"
	for ((i = $1; i <= $2; i++)); do bench_issue_token "$i" "$type"; done
}

# fleet_run TAG FIRST LAST: `fleet renew` of employers FIRST..LAST (their
# current URI in the file) through the fault module ($T/TAG.calls, with
# FAULT_LATENCY if set) under /usr/bin/time -v ($T/TAG.time); wall time in
# ms in B_WALL_MS.
fleet_run() {
	local tag=$1 i start
	{
		echo registro_patronal,user,current
		for ((i = $2; i <= $3; i++)); do
			printf '%s,%s,%s\n' "$(bench_rp "$i")" "$(bench_user "$i")" "$(bench_current "$i")"
		done
	} >"$T/$tag.csv"
	start=$(date +%s%N)
	FAULT_PKCS11_REAL=$softhsm FAULT_LOG=$T/$tag.calls /usr/bin/time -v -o "$T/$tag.time" \
		"$tool" --module "$fault" fleet renew --file "$T/$tag.csv" --token "$IMSS_TOKEN_URI" \
		--pin-source "file:$T/pin" --server "$url" --ca "$T/svc/ca.pem" --type "$type" \
		--idse-password-source "file:$T/idse.pass" --state-dir "$T/state" --out-dir "$T/out" \
		--report "$T/$tag.json" >"$T/$tag.out" 2>"$T/$tag.err" ||
		{ cat "$T/$tag.out" "$T/$tag.err" >&2; bench_die "fleet renew $tag failed"; }
	B_WALL_MS=$((($(date +%s%N) - start) / 1000000))
	[[ $(jq .renewed "$T/$tag.json") == $(($3 - $2 + 1)) ]] ||
		bench_die "fleet renew $tag did not renew every employer: $(cat "$T/$tag.out")"
}

# renews TAG FIRST LAST: one `renew` process per employer FIRST..LAST, one
# after the other, through the fault module only, each under /usr/bin/time
# -v ($T/TAG.time, appended); wall time in B_WALL_MS.
renews() {
	local tag=$1 i start
	start=$(date +%s%N)
	B_WRAP=(/usr/bin/time -v -a -o "$T/$tag.time")
	for ((i = $2; i <= $3; i++)); do
		B_SPY=0 bench_renew "$tag-$i" "$(bench_user "$i")" "$type" --current "$(bench_current "$i")"
	done
	B_WRAP=()
	B_WALL_MS=$((($(date +%s%N) - start) / 1000000))
}

# diy N: the do-it-yourself pipeline for N keys through the fault module
# (FAULT_LATENCY as set): per key, pkcs11-tool makes the pair, OpenSSL's
# pkcs11 engine signs the request, the service's CA signs the certificate
# (openssl x509), pkcs11-tool writes it next to the key.  Wall time in
# B_WALL_MS.
diy() {
	local i id label start
	cat >"$T/openssl.cnf" <<-EOF
		openssl_conf = conf_init
		[conf_init]
		engines = engines
		[engines]
		pkcs11 = pkcs11_section
		[pkcs11_section]
		engine_id = pkcs11
		MODULE_PATH = $fault
		init = 0
		[req]
		distinguished_name = dn
		[dn]
	EOF
	start=$(date +%s%N)
	for ((i = 1; i <= $1; i++)); do
		id=$(printf 'd1%038x' "$i")
		label="DIY $i"
		pkcs11-tool --module "$fault" --login --pin 1234 --keypairgen \
			--key-type "$(diy_key_type)" --label "$label" --id "$id" >/dev/null 2>&1
		OPENSSL_CONF=$T/openssl.cnf openssl req -new -engine pkcs11 -keyform engine \
			-key "pkcs11:token=IMSS;id=$(sed 's/../%&/g' <<<"$id");type=private;pin-value=1234" \
			-subj "/CN=$label" -out "$T/diy.req" >/dev/null 2>&1
		openssl x509 -req -in "$T/diy.req" -CA "$T/svc/ca.pem" -CAkey "$T/svc/ca.key" \
			-days 182 -outform DER -out "$T/diy.der" >/dev/null 2>&1
		pkcs11-tool --module "$fault" --login --pin 1234 --write-object "$T/diy.der" \
			--type cert --id "$id" --label "$label" >/dev/null 2>&1
	done
	B_WALL_MS=$((($(date +%s%N) - start) / 1000000))
}
diy_key_type() { case $type in ec:prime256v1) echo EC:prime256v1 ;; ec:*) echo "EC:${type#ec:}" ;; *) echo "RSA:${type#rsa:}" ;; esac; }

bench_service
say "imss-renew fleet bench: $type keys, SoftHSM $(dpkg-query -W -f '${Version}' softhsm2 2>/dev/null || echo '?'), $(nproc) CPUs"
say
# section N: whether --sections asked for section N.
section() { [[ $sections == *$1* ]]; }
first=1
section 1 || bench_serve

# --- 1. calls: one renew, flat, the fleet ------------------------------------
if section 1; then
bench_token "$T/token-a"
populate 1 1
small_objects=$(SOFTHSM2_CONF=$SOFTHSM2_CONF "$tool" --json --module "$softhsm" objects \
	--token "$IMSS_TOKEN_URI" --pin-source "file:$T/pin" | jq '.objects | length')
bench_serve
bench_renew one-small "$(bench_user 1)" "$type" --current "$(bench_current 1)"
small=$(bench_calls "$T/one-small.spy")
small_logins=$(bench_calls "$T/one-small.spy" C_Login)
one_wall=$B_WALL_MS
# The same with RSA 2048, IMSS's own key type (the current key RSA too).
rsa_one=$((many + 4 + modelled + 2 * compare))
bench_employers "$rsa_one" "$rsa_one"
bench_issue_token "$rsa_one" rsa:2048
bench_renew one-rsa "$(bench_user "$rsa_one")" rsa:2048 --current "$(bench_current "$rsa_one")"
rsa_calls=$(bench_calls "$T/one-rsa.spy")
populate 2 $((many + 2))
objects=$(SOFTHSM2_CONF=$SOFTHSM2_CONF "$tool" --json --module "$softhsm" objects \
	--token "$IMSS_TOKEN_URI" --pin-source "file:$T/pin" | jq '.objects | length')
B_SPY=1 bench_renew one-big "$(bench_user 2)" "$type" --current "$(bench_current 2)"
big=$(bench_calls "$T/one-big.spy")
say "1. PKCS#11 calls"
row "one renew, token with 1 employer ($small_objects objects)" "$small calls (target 24), C_Login $small_logins"
row "one renew of an RSA 2048 key (current RSA 2048)" "$rsa_calls calls (target 24)"
row "one renew, token with $((many + 2)) employers ($objects objects)" \
	"$big calls, C_Login $(bench_calls "$T/one-big.spy" C_Login) ($([[ $small == "$big" ]] && echo flat || echo 'NOT flat'))"
if ((has_fleet)); then
	fleet_run many 3 $((many + 2))
	many_wall=$B_WALL_MS
	row "fleet renew of $many on that token, per renewal" \
		"$(awk -v c="$(lines "$T/many.calls")" -v n="$many" 'BEGIN { printf "%.1f", c / n }') calls amortized (target 20), $(lines "$T/many.calls") in all"
	row "C_Login in that fleet run" "$(calls_of "$T/many.calls" C_Login) (target 1)"
else
	nm "fleet renew, calls per renewal" "this build has no 'imss-renew fleet renew'"
fi
say
fi

# --- 2. the modelled USB token ---------------------------------------------------
if section 2; then
say "2. Modelled USB token (FAULT_LATENCY=$latency)"
bench_token "$T/token-b"
first=$((many + 3))
populate "$first" $((first + modelled - 1))
if ((has_fleet)); then
	FAULT_LATENCY=$latency fleet_run modelled "$first" $((first + modelled - 1))
	fleet_wall=$B_WALL_MS
	token_ms=$(bench_token_ms "$T/modelled.calls")
	row "fleet renew of $modelled: wall time" "$(awk -v w="$fleet_wall" 'BEGIN { printf "%.1f s", w / 1000 }')"
	row "modelled token time (sum of its calls)" "$(awk -v t="$token_ms" 'BEGIN { printf "%.1f s", t / 1000 }')"
	row "wall / token time" "$(ratio "$fleet_wall" "$token_ms")x (target 1.15x)"
else
	nm "fleet renew of $modelled on the modelled token" "this build has no 'imss-renew fleet renew'"
fi
if [[ -n $engine ]] && command -v pkcs11-tool >/dev/null; then
	FAULT_PKCS11_REAL=$softhsm FAULT_LOG=$T/diy.calls FAULT_LATENCY=$latency diy "$modelled"
	diy_wall=$B_WALL_MS
	row "do-it-yourself pipeline, $modelled keys: wall time" \
		"$(awk -v w="$diy_wall" 'BEGIN { printf "%.1f s", w / 1000 }') ($(lines "$T/diy.calls") PKCS#11 calls, $(calls_of "$T/diy.calls" C_Login) C_Login)"
	if ((has_fleet)); then
		row "do-it-yourself / fleet" "$(ratio "$diy_wall" "$fleet_wall")x (goal 3x)"
	else
		nm "do-it-yourself / fleet" "no fleet time"
	fi
else
	nm "do-it-yourself pipeline" "OpenSSL's pkcs11 engine (libengine-pkcs11-openssl) or pkcs11-tool is missing"
fi
say
fi

# --- 3. fleet against renew processes ----------------------------------------------
if section 3; then
say "3. $compare renewals (SoftHSM, no latency)"
bench_token "$T/token-c"
first=$((many + 3 + modelled))
populate "$first" $((first + 2 * compare - 1))
svc0=$(svc_cpu_s)
renews procs "$first" $((first + compare - 1))
procs_wall=$B_WALL_MS
svc1=$(svc_cpu_s)
row "$compare renew processes: wall time" "$(awk -v w="$procs_wall" 'BEGIN { printf "%.1f s", w / 1000 }')"
if ((has_fleet)); then
	fleet_run compare $((first + compare)) $((first + 2 * compare - 1))
	svc2=$(svc_cpu_s)
	row "one fleet renew of $compare: wall time" "$(awk -v w="$B_WALL_MS" 'BEGIN { printf "%.1f s", w / 1000 }')"
	row "renew processes / fleet" "$(ratio "$procs_wall" "$B_WALL_MS")x (goal 2x)"
	# The client's CPU apart from the service's (both on this machine).
	row "CPU, client (user+sys): processes / fleet" \
		"$(cpu_s "$T/procs.time") s / $(cpu_s "$T/compare.time") s = $(ratio "$(cpu_s "$T/procs.time")" "$(cpu_s "$T/compare.time")")x"
	row "CPU, service: during the processes / the fleet" "$(sub "$svc1" "$svc0") s / $(sub "$svc2" "$svc1") s"
else
	nm "one fleet renew of $compare" "this build has no 'imss-renew fleet renew'"
fi
say
fi

# --- 4. memory ---------------------------------------------------------------------
if section 4; then
say "4. Peak memory (max RSS)"
bench_token "$T/token-d"
one=$((many + 3 + modelled + 2 * compare))
populate "$one" "$one"
B_WRAP=(/usr/bin/time -v -o "$T/one.time")
B_SPY=0 bench_renew mem \
	"$(bench_user "$one")" "$type" --current "$(bench_current "$one")"
B_WRAP=()
row "one renew" "$(mib "$(max_rss "$T/one.time")")"
if ! section 1; then
	nm "fleet renew of $many" "section 1 did not run"
elif ((has_fleet)); then
	row "fleet renew of $many" "$(mib "$(max_rss "$T/many.time")") (target 24 MiB); wall $(awk -v w="$many_wall" 'BEGIN { printf "%.1f s", w / 1000 }')"
else
	nm "fleet renew of $many" "this build has no 'imss-renew fleet renew'"
fi
say
fi
if section 1; then
	say "One renew (token with 1 employer): $(awk -v w="$one_wall" 'BEGIN { printf "%.2f s", w / 1000 }') wall through pkcs11-spy."
fi
