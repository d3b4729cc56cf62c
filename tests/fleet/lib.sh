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

# fleet_employer I: employer I in the service (registro patronal
# F000000000I, user FLEET000I: FLEET_RP, FLEET_USER), its IDSE password in
# $T/secrets/RP.pass.
fleet_employer() {
	FLEET_RP=$(printf 'F%010d' "$1")
	FLEET_USER=$(printf 'FLEET%04d' "$1")
	printf 'Clave%05d' "$1" >"$T/secrets/$FLEET_RP.pass"
	"$IMSS_SERVICE" employer add --dir "$D" --registro-patronal "$FLEET_RP" \
		--razon-social "EMPRESA $1 SA DE CV" --rfc EPR010101AB1 \
		--email "rh@$FLEET_RP.example.mx" --user "$FLEET_USER" --address 'Av. Reforma 1, CDMX' \
		--password-source "file:$T/secrets/$FLEET_RP.pass" >/dev/null || die "employer add $FLEET_RP"
}

# fleet_add I...: employer I (fleet_employer) with its expired credential
# on the token $FLEET_TOKEN_URI (default $IMSS_TOKEN_URI, label "IMSS RP"),
# added to $T/fleet.csv (FLEET_PAD: the empty columns fleet_wide added)
# and FLEET_RPS.
fleet_add() {
	local i
	for i in "$@"; do
		fleet_employer "$i"
		"$IMSS_SERVICE" issue --dir "$D" --registro-patronal "$FLEET_RP" --expired \
			--key-type ec:prime256v1 --token "${FLEET_TOKEN_URI:-$IMSS_TOKEN_URI}" --module "$SOFTHSM" \
			--pin-source "file:$T/pin" --label "IMSS $FLEET_RP" >/dev/null || die "issue $FLEET_RP"
		printf '%s,%s%s\n' "$FLEET_RP" "$FLEET_USER" "${FLEET_PAD:-}" >>"$T/fleet.csv"
		FLEET_RPS+=("$FLEET_RP")
	done
}

# fleet_wide: $T/fleet.csv gets the columns current, password_source and
# token, empty in the rows it has (and in those fleet_add adds).
fleet_wide() {
	sed -i '1s/$/,current,password_source,token/; 2,$s/$/,,,/' "$T/fleet.csv"
	FLEET_PAD=,,,
}

# fleet_add_file I pfx|cer [TOKEN]: employer I whose expired credential is
# a file, $T/files/RP.pfx, or RP.cer with RP.key beside it (an encrypted
# PKCS#8 in DER, as IMSS hands it out), its password in $T/files/RP.pass;
# its row names it in the current and password_source columns (fleet_wide
# first), and TOKEN, if given, in the token column.
fleet_add_file() {
	local i=$1 kind=$2 token=${3:-} f
	fleet_employer "$i"
	mkdir -p "$T/files"
	f=$T/files/$FLEET_RP
	printf 'pfx%05d' "$i" >"$f.pass"
	"$IMSS_SERVICE" issue --dir "$D" --registro-patronal "$FLEET_RP" --expired \
		--key-type ec:prime256v1 --pfx "$f.pfx" --pfx-password-source "file:$f.pass" \
		>/dev/null || die "issue --pfx $FLEET_RP"
	if [[ $kind == cer ]]; then
		openssl pkcs12 -in "$f.pfx" -passin "file:$f.pass" -clcerts -nokeys 2>/dev/null |
			openssl x509 -outform DER -out "$f.cer" || die "$FLEET_RP: no .cer from the .pfx"
		openssl pkcs12 -in "$f.pfx" -passin "file:$f.pass" -nocerts -nodes 2>/dev/null |
			openssl pkcs8 -topk8 -v2 aes-256-cbc -outform DER -passout "file:$f.pass" \
				-out "$f.key" || die "$FLEET_RP: no .key from the .pfx"
		rm "$f.pfx"
	fi
	printf '%s,%s,%s,file:%s,%s\n' "$FLEET_RP" "$FLEET_USER" "$f.$kind" "$f.pass" "$token" \
		>>"$T/fleet.csv"
	FLEET_RPS+=("$FLEET_RP")
}

# fleet_started N: the service started and a fleet of N employers, with
# the arguments of a renewal (FLEET_ARGS).
fleet_started() {
	svc_init
	svc_start
	fleet_new "$1"
	fleet_args renew
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

# The document of fleet renew (--json, --report, --notify-command's stdin)
# as docs/json.md ("fleet check and fleet renew") describes it, for jq -e:
# its keys and their types, the counts those of the employers' statuses,
# an error code exactly for the failed and interrupted.
FLEET_RENEW_SHAPE='. as $doc
	| (keys | sort) == (["employers","renewed","not_due","pending","failed","interrupted","not_run","exit"] | sort)
	and ([.renewed, .not_due, .pending, .failed, .interrupted, .not_run, .exit] | all(type == "number"))
	and (.employers | type == "array" and all(.[];
		(keys | sort) == (["line","registro_patronal","user","status","razon_social","location","serial",
			"not_after","days_left","new_serial","new_not_after","certificate_uri","error","detail"] | sort)
		and (.line | type == "number") and (.registro_patronal | type == "string")
		and (.user | type == "string")
		and (.status | IN("renewed","not-due","pending","failed","interrupted","not-run"))
		and ([.razon_social, .location, .serial, .not_after, .new_serial, .new_not_after,
			.certificate_uri, .error, .detail] | all(. == null or type == "string"))
		and (.days_left | . == null or type == "number")
		and ([.not_after, .new_not_after] | all(. == null or test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")))
		and ((.status | IN("failed","interrupted")) == (.error != null))
		and (.error == null or (.error | test("^[A-Z][A-Z0-9_]*$")))
		and ((.status == "renewed") == (.new_serial != null))))
	and (.employers | map(.status | gsub("-"; "_")) as $s
		| all(("renewed","not_due","pending","failed","interrupted","not_run");
			. as $k | $doc[$k] == ($s | map(select(. == $k)) | length)))'
