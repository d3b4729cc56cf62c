# shellcheck shell=bash
# Shared by scripts/test.sh and scripts/demo.sh (sourced, not run): the
# Debian packages imss-renew needs to build, test and run its demo, and
# the check that installs the missing ones.

# Build: compiler, cmake, pkg-config and the libraries' -dev packages.
# Run and test: SoftHSM (tokens), OpenSC (pkcs11-spy for the benchmark),
# p11-kit, gnutls-bin, sqlite3, openssl, curl and jq.  Translations:
# gettext (msgfmt, xgettext) and locales (es_MX.UTF-8 for the i18n test).
# Installing: scdoc (man pages), dpkg-dev (dpkg-shlibdeps for cpack), and
# for their tests man-db, bash-completion and udev (udevadm).  Format:
# clang-format (version 14, scripts/format.sh).  TPM tests: a software TPM
# (swtpm) with tpm2-pkcs11 and its tools.  Fleet files: libcsv.  SCEP
# tests: micromdm's scep server (package scep).
IMSS_PACKAGES=(build-essential cmake pkg-config libssl-dev libp11-kit-dev p11-kit
	libcurl4-openssl-dev libjson-c-dev softhsm2 opensc gnutls-bin
	libmicrohttpd-dev libsqlite3-dev sqlite3 libhpdf-dev gettext locales openssl
	curl jq scdoc dpkg-dev man-db bash-completion udev clang-format
	swtpm swtpm-tools libtpm2-pkcs11-1 libtpm2-pkcs11-tools tpm2-tools tpm2-abrmd
	libtss2-tcti-tabrmd0 dbus-daemon libcsv-dev scep libengine-pkcs11-openssl)

# Fuzzing only (scripts/fuzz.sh adds them): clang and its libFuzzer and
# sanitizer runtimes.
# shellcheck disable=SC2034 # used by scripts/fuzz.sh
IMSS_FUZZ_PACKAGES=(clang libclang-rt-14-dev)

# imss_install_packages PROG: install the packages of IMSS_PACKAGES that
# are missing, with apt-get, when run as root; otherwise name them and fail.
# Messages start with "PROG: ".  Without dpkg-query (not Debian) nothing is
# checked.  Returns non-zero (apt-get's status, or 1) on failure.
imss_install_packages() {
	local prog=$1 p missing=()
	command -v dpkg-query >/dev/null || {
		echo "$prog: no dpkg-query; not checking packages" >&2
		return 0
	}
	for p in "${IMSS_PACKAGES[@]}"; do
		[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == *" installed" ]] ||
			missing+=("$p")
	done
	((${#missing[@]})) || return 0
	if ((EUID != 0)); then
		printf '%s: %s\n' "$prog" "missing packages (install them as root): ${missing[*]}" >&2
		return 1
	fi
	echo "$prog: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update || return
	apt-get install -y --no-install-recommends "${missing[@]}" || return
}

# imss_spanish_locale PROG: generate the es_MX.UTF-8 locale when it is
# missing and we are root (the i18n test runs the tool in it; without it
# the test falls back to C.UTF-8 with LANGUAGE=es).  Never fails.
imss_spanish_locale() {
	local prog=$1
	locale -a 2>/dev/null | grep -qix 'es_MX\.utf-\{0,1\}8' && return 0
	if ((EUID != 0)) || ! command -v localedef >/dev/null; then
		echo "$prog: no es_MX.UTF-8 locale; the i18n test uses LANGUAGE=es" >&2
		return 0
	fi
	echo "$prog: generating the es_MX.UTF-8 locale" >&2
	localedef -i es_MX -f UTF-8 es_MX.UTF-8 ||
		echo "$prog: localedef es_MX.UTF-8 failed; the i18n test uses LANGUAGE=es" >&2
	return 0
}
