#!/usr/bin/env bash
# The udev rules (udev/*.rules):
# - every line is well-formed (comma-separated KEY{attr}OP"value" pairs of
#   keys udev knows: udev 252 ignores a missing comma, so this test
#   checks), there is no RUN key, and the vendor/product IDs are exactly
#   those of the table below, each on a line with TAG+="uaccess" after a
#   comment naming its maker;
# - udevadm parses them without a complaint (udevadm test, debug log);
# - applied by udevadm to simulated USB devices: every device of the table
#   and an unknown CCID-class reader get the uaccess and systemd tags and
#   SYSTEMD_USER_WANTS=imss-renew-check.service, and udev's hardware
#   database knows each ID under the maker the table says; a mouse, a USB
#   interface and a removal get nothing from these rules.
# udevadm runs in a private mount namespace (unshare) where the rules
# are copied to a tmpfs over /run and the simulated devices live on a
# tmpfs over /sys/devices/virtual: nothing is written to /etc, /run or
# /sys.  Skipped (77) without udevadm or unshare, or when no mount
# namespace can be made (not root and no user namespaces).
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
: "${IMSS_UDEV_DIR:?IMSS_UDEV_DIR is not set (run the test through ctest)}"
t_tmpdir

# vendor:product | word the comment names | udev hwdb vendor (substring)
table=(
	"0529:0600|SafeNet|Aladdin"
	"0529:0620|SafeNet|Aladdin"
	"0529:0514|SafeNet|Aladdin"
	"096e:0807|Feitian ePass2003|Feitian"
	"096e:0005|Feitian ePass2000|Feitian"
	"096e:0802|Feitian ePass2000|Feitian"
	"096e:0401|Feitian ePass3000|Feitian"
	"08e6:3438|Gemalto|Gemalto"
	"08e6:3437|Gemalto|Gemalto"
	"08e6:34ec|Gemalto|Gemalto"
	"08e6:3478|Gemalto|Gemalto"
	"25dd:1101|Bit4id|Bit4id"
	"25dd:3111|Bit4id|Bit4id"
	"25dd:2321|Bit4id|Bit4id"
	"25dd:2341|Bit4id|Bit4id"
	"25dd:2371|Bit4id|Bit4id"
	"072f:9000|ACS|Advanced Card Systems"
	"072f:90cc|ACS|Advanced Card Systems"
	"072f:b100|ACS|Advanced Card Systems"
	"072f:90db|ACS|Advanced Card Systems"
	"072f:b200|ACS|Advanced Card Systems"
	"1050:0404|YubiKey|Yubico"
	"1050:0405|YubiKey|Yubico"
	"1050:0406|YubiKey|Yubico"
	"1050:0407|YubiKey|Yubico"
	"1050:0112|YubiKey|Yubico"
	"1050:0116|YubiKey|Yubico"
)
# Keys of udev(7).
known_keys=" ACTION DEVPATH KERNEL KERNELS NAME SYMLINK SUBSYSTEM SUBSYSTEMS DRIVER DRIVERS
	ATTR ATTRS SYSCTL ENV CONST TAG TAGS TEST PROGRAM RESULT OWNER GROUP MODE SECLABEL
	IMPORT OPTIONS LABEL GOTO RUN "
known_keys=${known_keys//[$'\t\n']/ }

shopt -s nullglob
rules=("$IMSS_UDEV_DIR"/*.rules)
((${#rules[@]})) || die "no rules files in $IMSS_UDEV_DIR"

# 1. Lines.
pair='([A-Z_]+)(\{[^}]+\})?[[:space:]]*(==|!=|\+=|-=|:=|=)[[:space:]]*"(([^"\\]|\\.)*)"'
declare -A found_ids=()
for file in "${rules[@]}"; do
	name=$(basename "$file")
	n=0 comment='' logical='' start=0
	while IFS= read -r line || [[ -n $line ]]; do
		n=$((n + 1))
		if [[ -z $logical ]]; then
			start=$n
			if [[ $line =~ ^[[:space:]]*# ]]; then comment=$line; continue; fi
			if [[ $line =~ ^[[:space:]]*$ ]]; then comment=''; continue; fi
		fi
		if [[ $line == *\\ ]]; then logical+=${line%\\}; continue; fi
		logical+=$line
		rest=${logical#"${logical%%[![:space:]]*}"}
		logical=''
		keys=()
		while :; do
			[[ $rest =~ ^$pair(.*)$ ]] || die "$name:$start: not KEY OP \"value\" at: $rest"
			key=${BASH_REMATCH[1]}
			[[ $known_keys == *" $key "* ]] || die "$name:$start: unknown key $key"
			[[ $key != RUN ]] || die "$name:$start: RUN (start units through systemd instead)"
			keys+=("${BASH_REMATCH[1]}${BASH_REMATCH[2]}${BASH_REMATCH[3]}${BASH_REMATCH[4]}")
			rest=${BASH_REMATCH[6]}
			[[ -z ${rest//[[:space:]]/} ]] && break
			[[ $rest =~ ^,[[:space:]]*(.*)$ ]] || die "$name:$start: a comma is missing before: $rest"
			rest=${BASH_REMATCH[1]}
			[[ -n $rest ]] || die "$name:$start: a trailing comma"
		done
		# A device line: ATTR{idVendor}==, ATTR{idProduct}==, the uaccess tag.
		vendor='' product=''
		for k in "${keys[@]}"; do
			[[ $k =~ ^ATTRS?\{id(Vendor|Product)\}==(.*)$ ]] || continue
			what=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
			[[ $value =~ ^[0-9a-f]{4}$ ]] ||
				die "$name:$start: an ID that is not 4 lower-case hex digits: $k"
			if [[ $what == Vendor ]]; then vendor=$value; else product=$value; fi
		done
		[[ -n $vendor$product ]] || { comment=''; continue; }
		[[ -n $vendor && -n $product ]] || die "$name:$start: vendor without product or the reverse"
		[[ " ${keys[*]} " == *' TAG+=uaccess '* ]] || die "$name:$start: $vendor:$product without TAG+=\"uaccess\""
		[[ -n $comment ]] || die "$name:$start: $vendor:$product has no comment naming the device"
		[[ -z ${found_ids[$vendor:$product]:-} ]] || die "$name:$start: $vendor:$product twice"
		found_ids[$vendor:$product]=$comment
		comment=''
	done <"$file"
	printf 'ok: %s: every line well-formed, known keys, no RUN\n' "$name"
done
grep -hq 'ENV{ID_USB_INTERFACES}=="\*:0b????:\*".*TAG+="uaccess"' "${rules[@]}" ||
	die "no rule for any CCID-class device (interface class 0x0b)"
grep -hq 'TAG+="systemd".*ENV{SYSTEMD_USER_WANTS}+="imss-renew-check.service"' "${rules[@]}" ||
	die "no SYSTEMD_USER_WANTS of imss-renew-check.service"

# 2. The IDs against the table.
declare -A table_word=() table_vendor=()
for row in "${table[@]}"; do
	IFS='|' read -r id word vendor_name <<<"$row"
	table_word[$id]=$word
	table_vendor[$id]=$vendor_name
	[[ -n ${found_ids[$id]:-} ]] || die "$id ($word) of the table is not in the rules"
	[[ ${found_ids[$id]} == *"$word"* ]] ||
		die "$id: its comment '${found_ids[$id]}' does not name $word"
done
for id in "${!found_ids[@]}"; do
	[[ -n ${table_word[$id]:-} ]] || die "$id (${found_ids[$id]}) is in the rules but not in the table"
done
printf 'ok: the %d IDs of the rules are those of the table, each named by its comment\n' \
	"${#table[@]}"

# 3 and 4: udevadm, in a private mount namespace.
command -v udevadm >/dev/null || { echo "SKIP: udevadm not found (apt-get install udev)"; exit 77; }
command -v unshare >/dev/null || { echo "SKIP: unshare not found"; exit 77; }
if unshare -m true 2>/dev/null; then
	ns=(unshare -m)
elif unshare -rm true 2>/dev/null; then
	ns=(unshare -rm)
else
	echo "SKIP: cannot make a mount namespace (unshare -m needs root; no user namespaces)"
	exit 77
fi
mkdir -p "$T/rules" "$T/out"
cp "${rules[@]}" "$T/rules/"

# The cases: NAME ACTION DEVTYPE VENDOR PRODUCT [INTERFACES].
cases=()
for row in "${table[@]}"; do
	id=${row%%|*}
	cases+=("id-${id/:/-} add usb_device ${id%:*} ${id#*:}")
done
cases+=("ccid add usb_device 1234 5678 :0b0000:")
cases+=("mouse add usb_device 046d c077 :030102:")
cases+=("interface add usb_interface 0529 0620 :0b0000:")
cases+=("removal remove usb_device 0529 0620")
printf '%s\n' "${cases[@]}" >"$T/cases"

cat >"$T/ns.sh" <<'NS'
# Run inside the mount namespace: $1 the rules copy, $2 the cases, $3 the
# output directory.
set -eu
rules=$1 cases=$2 out=$3
mount -t tmpfs -o mode=0755 imss-run /run
mkdir -p /run/udev/rules.d
cp "$rules"/*.rules /run/udev/rules.d/
# Admin rules in /etc would override the copies: hidden here.
if [ -d /etc/udev/rules.d ]; then mount -t tmpfs imss-etc /etc/udev/rules.d; fi
mount -t tmpfs -o mode=0755 imss-sys /sys/devices/virtual
i=0
while read -r name action devtype vendor product interfaces; do
	i=$((i + 1))
	dev=/sys/devices/virtual/usb9/9-$i
	mkdir -p "$dev"
	{
		echo "DEVTYPE=$devtype"
		echo "PRODUCT=$vendor/$product/100"
		[ -z "$interfaces" ] || echo "ID_USB_INTERFACES=$interfaces"
	} >"$dev/uevent"
	echo "$vendor" >"$dev/idVendor"
	echo "$product" >"$dev/idProduct"
	ln -s ../../../../bus/usb "$dev/subsystem"
	SYSTEMD_LOG_LEVEL=debug SYSTEMD_DEVICE_VERIFY_SYSFS=0 \
		udevadm test --action="$action" "$dev" >"$out/$name.out" 2>"$out/$name.err" ||
		echo "udevadm test failed: $?" >>"$out/$name.err"
done <"$cases"
NS
"${ns[@]}" sh "$T/ns.sh" "$T/rules" "$T/cases" "$T/out" ||
	die "the namespace script failed"

# 3. Parsing: udevadm read each file and said nothing else about it (its
# complaints start with the file's name and line).
first=$(head -n1 "$T/cases" | cut -d' ' -f1)
for file in "${rules[@]}"; do
	copy=/run/udev/rules.d/$(basename "$file")
	grep -qxF "Reading rules file: $copy" "$T/out/$first.err" ||
		die "udevadm did not read $copy: $(cat "$T/out/$first.err")"
	if grep -iE "^$copy:|(invalid|unknown|failed to parse|ignoring).*$copy" "$T/out/$first.err" >"$T/complaints"; then
		cat "$T/complaints" >&2
		die "udevadm complains about $(basename "$file")"
	fi
	printf 'ok: udevadm parses %s without a complaint\n' "$(basename "$file")"
done

# 4. The simulated devices.
prop() { sed -n "s/^$2=//p" "$T/out/$1.out" | tail -n1; }
hwdb=1
[[ -n $(udevadm hwdb --test=usb:v1D6Bp0002 2>/dev/null) ]] || {
	hwdb=0
	echo "note: udev's hardware database is not built: vendor names not checked"
}
while read -r name _ _ vendor product _; do
	if grep -q "udevadm test failed" "$T/out/$name.err"; then
		cat "$T/out/$name.err" >&2
		die "$name: udevadm test failed"
	fi
	tags=$(prop "$name" TAGS) wants=$(prop "$name" SYSTEMD_USER_WANTS)
	mine=$(prop "$name" IMSS_RENEW_TOKEN)
	case $name in
	id-* | ccid)
		[[ $tags == *:uaccess:* && $tags == *:systemd:* ]] ||
			die "$name ($vendor:$product): tags '$tags', expected uaccess and systemd"
		[[ " $wants " == *" imss-renew-check.service "* ]] ||
			die "$name: SYSTEMD_USER_WANTS '$wants' lacks imss-renew-check.service"
		assert_eq 1 "$mine" "$name ($vendor:$product): uaccess, systemd, the user's check"
		if [[ $name == id-* ]] && ((hwdb)); then
			id=$vendor:$product
			[[ $(prop "$name" ID_VENDOR_FROM_DATABASE) == *"${table_vendor[$id]}"* ]] ||
				die "$id: udev's database says vendor '$(prop "$name" ID_VENDOR_FROM_DATABASE)', the table ${table_vendor[$id]}"
			[[ -n $(prop "$name" ID_MODEL_FROM_DATABASE) ]] ||
				die "$id: unknown to udev's database"
			printf 'ok: %s is "%s %s" in udev'"'"'s database\n' "$id" \
				"$(prop "$name" ID_VENDOR_FROM_DATABASE)" "$(prop "$name" ID_MODEL_FROM_DATABASE)"
		fi
		;;
	*)
		assert_eq "" "$mine" "$name: not matched by these rules"
		[[ " $wants " != *" imss-renew-check.service "* ]] ||
			die "$name: SYSTEMD_USER_WANTS has imss-renew-check.service"
		;;
	esac
done <"$T/cases"

echo "PASS: $T_NAME"
