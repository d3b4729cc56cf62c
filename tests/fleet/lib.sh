# shellcheck shell=bash
# Helpers for the tests of `imss-renew fleet`: the reference service (from
# tests/renew/lib.sh), ONE SoftHSM token holding the expired credentials
# of N employers (`imss-renew-service issue --expired --token`), a fleet
# file naming them, and a run of `fleet renew` through the fault module.
#   . "$TESTS_DIR/lib/common.sh"; . "$TESTS_DIR/renew/lib.sh"; . "$TESTS_DIR/fleet/lib.sh"
#   svc_init; svc_start; fleet_new 5
#   fleet_run renew >"$T/out" ...   # the tool's status in $? (|| rc=$?)

# fleet_new N: the token ($IMSS_TOKEN_URI), N employers FLEET_RPS (see
# fleet_add) and $T/fleet.csv naming them.
fleet_new() {
	local out
	out=$(IMSS_USER_PIN=$USER_PIN IMSS_SO_PIN=$SO_PIN "$MAKE_TOKEN" --dir "$T/softhsm" \
		--label IMSS --init-tool "$SOFTHSM_TOKEN_INIT" --module "$SOFTHSM") ||
		die "could not make the token"
	eval "$out"
	mkdir -m 700 "$T/state" "$T/secrets"
	mkdir "$T/out"
	chmod go-w "$T/out"
	printf 'registro_patronal,user\n' >"$T/fleet.csv"
	FLEET_RPS=()
	# shellcheck disable=SC2046  # one argument a number
	fleet_add $(seq "$1")
}

# fleet_add I...: employer I (registro patronal F000000000I, user
# FLEET000I), its IDSE password in $T/secrets/RP.pass and its expired
# credential on the token (label "IMSS RP"), added to $T/fleet.csv and
# FLEET_RPS.
fleet_add() {
	local i rp user
	for i in "$@"; do
		rp=$(printf 'F%010d' "$i")
		user=$(printf 'FLEET%04d' "$i")
		printf 'Clave%05d' "$i" >"$T/secrets/$rp.pass"
		"$IMSS_SERVICE" employer add --dir "$D" --registro-patronal "$rp" \
			--razon-social "EMPRESA $i SA DE CV" --rfc EPR010101AB1 \
			--email "rh@$rp.example.mx" --user "$user" --address 'Av. Reforma 1, CDMX' \
			--password-source "file:$T/secrets/$rp.pass" >/dev/null || die "employer add $rp"
		"$IMSS_SERVICE" issue --dir "$D" --registro-patronal "$rp" --expired \
			--key-type ec:prime256v1 --token "$IMSS_TOKEN_URI" --module "$SOFTHSM" \
			--pin-source "file:$T/pin" --label "IMSS $rp" >/dev/null || die "issue $rp"
		printf '%s,%s\n' "$rp" "$user" >>"$T/fleet.csv"
		FLEET_RPS+=("$rp")
	done
}

# fleet_args check|renew: the arguments of a run on this fleet (FLEET_ARGS).
fleet_args() {
	FLEET_ARGS=(fleet "$1" --file "$T/fleet.csv" --token "$IMSS_TOKEN_URI"
		--pin-source "file:$T/pin")
	[[ $1 == check ]] || FLEET_ARGS+=(--server "$SVC_URL" --ca "$D/ca.pem" --type ec:prime256v1
		--idse-password-source "file:$T/secrets/{registro_patronal}.pass"
		--state-dir "$T/state" --out-dir "$T/out" --yes)
	# FLEET_JOBS: the workers of fleet renew (ctest runs the tests with 1 too)
	[[ $1 == check || -z ${FLEET_JOBS:-} ]] || FLEET_ARGS+=(--jobs "$FLEET_JOBS")
}

# fleet_run check|renew [ARGS]: the tool through the fault module, its
# PKCS#11 calls in $T/calls.log, its stderr in $T/err.
fleet_run() {
	local rc=0
	fleet_args "$1"
	shift
	: >"$T/calls.log"
	{ FAULT_LOG=$T/calls.log "$IMSS_RENEW" --module "$FAULT_MODULE" "${FLEET_ARGS[@]}" \
		"$@" 2>"$T/err"; } 2>/dev/null || rc=$?
	no_sanitizer_report "$T/err"
	return "$rc"
}

# calls NAME: how many times the last run called NAME.
calls() { grep -c "^$1 " "$T/calls.log" || :; }
