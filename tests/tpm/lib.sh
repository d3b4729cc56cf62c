# shellcheck shell=bash
# A software TPM for the tests of tpm2-pkcs11 tokens.  Source it after
# tests/lib/common.sh:
#   . "$TESTS_DIR/lib/common.sh"; . "$TESTS_DIR/tpm/lib.sh"
#   tpm_start                     # swtpm + resource manager + empty store
#   tpm_add_token "IMSS TPM"      # a tpm2-pkcs11 token, user PIN $USER_PIN
#   "$IMSS_RENEW" --module "$TPM_MODULE" tokens
#
# Everything lives in $T/tpm and is stopped on exit: swtpm (the TPM, its
# state in $T/tpm/state, reached on a Unix socket there, so no port can be
# taken by another test), a private D-Bus session bus and tpm2-abrmd, the
# resource manager (a TPM holds three loaded objects; tpm2_ptool's tools
# leave theirs loaded, and only a resource manager flushes them), and the
# tpm2-pkcs11 store (TPM2_PKCS11_STORE).  Exported: TPM_MODULE,
# TPM2_PKCS11_STORE, TPM2_PKCS11_TCTI, TPM2TOOLS_TCTI,
# DBUS_SESSION_BUS_ADDRESS.
#
# The test is skipped (exit 77) when swtpm is not installed; the other
# tools it needs are those of the packages named in scripts/lib.sh, and
# their absence is a failure.
t_need swtpm
: "${IMSS_RENEW:?IMSS_RENEW is not set (run the test through ctest)}"

TPM_PIDS=()      # swtpm, dbus-daemon, tpm2-abrmd (started by this test)

tpm_cleanup() {
	local i
	# The resource manager first, the TPM last.
	for ((i = ${#TPM_PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${TPM_PIDS[i]}" 2>/dev/null || :
		for _ in $(seq 50); do
			kill -0 "${TPM_PIDS[i]}" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "${TPM_PIDS[i]}" 2>/dev/null || :
		wait "${TPM_PIDS[i]}" 2>/dev/null || :
	done
	TPM_PIDS=()
}

# tpm_module: the tpm2-pkcs11 module (TPM2_PKCS11_MODULE, else where
# Debian and others install it).
tpm_module() {
	local m
	for m in "${TPM2_PKCS11_MODULE:-}" /usr/lib/*/pkcs11/libtpm2_pkcs11.so \
		/usr/lib/pkcs11/libtpm2_pkcs11.so /usr/lib64/pkcs11/libtpm2_pkcs11.so \
		/usr/local/lib/pkcs11/libtpm2_pkcs11.so; do
		[[ -n $m && -e $m ]] && { printf '%s' "$m"; return 0; }
	done
	return 1
}

# tpm_wait_file PATH WHAT: wait up to 10 s for PATH to exist.
tpm_wait_file() {
	for _ in $(seq 200); do
		[[ -e $1 ]] && return 0
		sleep 0.05
	done
	die "$2 did not start: $(cat "$TPM_DIR"/*.log 2>/dev/null | tail -n 5)"
}

# tpm_start: the TPM, its resource manager and an empty tpm2-pkcs11 store.
tpm_start() {
	local prog bus_name pid_file tool
	for prog in swtpm tpm2-abrmd dbus-daemon tpm2_ptool tpm2_getcap; do
		command -v "$prog" >/dev/null ||
			die "$prog is missing (packages: swtpm tpm2-abrmd libtss2-tcti-tabrmd0 dbus-daemon libtpm2-pkcs11-tools tpm2-tools)"
	done
	TPM_MODULE=$(tpm_module) || die "libtpm2_pkcs11.so not found (package libtpm2-pkcs11-1; or set TPM2_PKCS11_MODULE)"
	t_tmpdir
	TPM_DIR=$T/tpm
	mkdir -p "$TPM_DIR/state" "$TPM_DIR/store"
	# (after tests/renew/lib.sh, its cleanup stops the service too)
	if declare -F renew_cleanup >/dev/null; then
		trap 'tpm_cleanup; renew_cleanup' EXIT
	else
		trap 'tpm_cleanup; t_cleanup' EXIT
	fi
	# 1. The TPM.  Its own process group is not needed: it is stopped by pid.
	swtpm socket --tpm2 --tpmstate "dir=$TPM_DIR/state" \
		--server "type=unixio,path=$TPM_DIR/swtpm.sock" \
		--ctrl "type=unixio,path=$TPM_DIR/swtpm.sock.ctrl" \
		--flags not-need-init,startup-clear --log "file=$TPM_DIR/swtpm.log" \
		>>"$TPM_DIR/swtpm.log" 2>&1 &
	TPM_PIDS+=("$!")
	tpm_wait_file "$TPM_DIR/swtpm.sock" swtpm
	# 2. A private session bus, for the resource manager only.
	pid_file=$TPM_DIR/dbus.pid
	dbus-daemon --session --nofork --address="unix:path=$TPM_DIR/bus" \
		--print-pid=1 >"$pid_file" 2>"$TPM_DIR/dbus.log" &
	TPM_PIDS+=("$!")
	tpm_wait_file "$TPM_DIR/bus" dbus-daemon
	export DBUS_SESSION_BUS_ADDRESS=unix:path=$TPM_DIR/bus
	# 3. The resource manager, under a name of this test's own.
	bus_name=com.intel.tss2.Tabrmd.imss$$
	tool=()
	[[ $(id -u) != 0 ]] || tool=(--allow-root)
	tpm2-abrmd --session "${tool[@]}" --dbus-name="$bus_name" \
		--tcti="swtpm:path=$TPM_DIR/swtpm.sock" >"$TPM_DIR/abrmd.log" 2>&1 &
	TPM_PIDS+=("$!")
	export TPM2TOOLS_TCTI="tabrmd:bus_type=session,bus_name=$bus_name"
	export TPM2_PKCS11_TCTI=$TPM2TOOLS_TCTI
	for _ in $(seq 200); do
		tpm2_getcap properties-fixed >/dev/null 2>&1 && break
		kill -0 "${TPM_PIDS[2]}" 2>/dev/null || die "tpm2-abrmd exited: $(tail -n 5 "$TPM_DIR/abrmd.log")"
		sleep 0.05
	done
	tpm2_getcap properties-fixed >/dev/null 2>"$TPM_DIR/getcap.err" ||
		die "the TPM does not answer through tpm2-abrmd: $(tail -n 5 "$TPM_DIR/getcap.err")"
	# 4. The tpm2-pkcs11 store, with its primary key (id 1) in the TPM.
	export TPM2_PKCS11_STORE=$TPM_DIR/store
	tpm2_ptool init >"$TPM_DIR/init.out" 2>&1 || die "tpm2_ptool init: $(tail -n 5 "$TPM_DIR/init.out")"
	printf '%s' "$USER_PIN" >"$T/pin"
	chmod 600 "$T/pin"
}

# tpm_add_token LABEL: a token in the store, user PIN $USER_PIN, SO PIN
# $SO_PIN (throwaway PINs of the test, so on tpm2_ptool's command line).
tpm_add_token() {
	tpm2_ptool addtoken --pid=1 --label="$1" --userpin="$USER_PIN" --sopin="$SO_PIN" \
		>"$TPM_DIR/addtoken.out" 2>&1 || die "tpm2_ptool addtoken $1: $(tail -n 5 "$TPM_DIR/addtoken.out")"
}

# capture FILE CMD...: CMD with its stdout in FILE.
capture() { local file=$1; shift; "$@" >"$file"; }

# Under the sanitizer build, leaks inside tpm2-pkcs11 are not the tool's:
# suppressed by library (lsan.supp), which needs the full stack.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$TESTS_DIR/tpm/lsan.supp:fast_unwind_on_malloc=0"

# tpm_tool ARGS: imss-renew on the TPM's module.
tpm_tool() { "$IMSS_RENEW" --module "$TPM_MODULE" "$@"; }
