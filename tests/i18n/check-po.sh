#!/usr/bin/env bash
# check-po.sh complete|current: the message catalogues (po/).
#
#   complete  every .po of po/LINGUAS compiles with msgfmt --check (formats
#             and newlines match their msgid) and has no untranslated or
#             fuzzy entry.
#   current   the messages marked in the sources today, extracted again with
#             po/make-pot.sh (xgettext), are all translated in every .po,
#             and po/imss-renew.pot holds exactly them: a new message
#             cannot go out untranslated.
#
# To fix "current": cmake --build BUILD --target imss-renew-pot, then
# translate the new and fuzzy entries of po/*.po.
set -euo pipefail

mode=${1:?usage: check-po.sh complete|current}
: "${IMSS_PO_DIR:?IMSS_PO_DIR is not set (run the test through ctest)}"
: "${IMSS_SOURCE_DIR:?IMSS_SOURCE_DIR is not set (run the test through ctest)}"
T_NAME=i18n-po-$mode
fail() { printf '%s: FAIL: %s\n' "$T_NAME" "$*" >&2; exit 1; }
fix="run 'cmake --build BUILD --target imss-renew-pot' and translate the new entries of po/*.po"

langs=$(grep -v '^#' "$IMSS_PO_DIR/LINGUAS" | tr -s ' \t\n' ' ')
[[ -n ${langs// /} ]] || fail "po/LINGUAS names no language"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/imss-i18n-po.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

case $mode in
complete)
	for lang in $langs; do
		po=$IMSS_PO_DIR/$lang.po
		msgfmt --check --statistics -o /dev/null "$po" 2>"$tmp/stats" || {
			cat "$tmp/stats" >&2
			fail "$lang.po does not compile with msgfmt --check"
		}
		stats=$(<"$tmp/stats")
		echo "$lang.po: $stats"
		[[ $stats != *fuzzy* && $stats != *untranslated* ]] ||
			fail "$lang.po has untranslated or fuzzy entries: $stats"
	done
	;;
current)
	sh "$IMSS_PO_DIR/make-pot.sh" "$IMSS_SOURCE_DIR" "$tmp/fresh.pot" 2>"$tmp/xgettext" || {
		cat "$tmp/xgettext" >&2
		fail "xgettext failed"
	}
	for lang in $langs; do
		# msgcmp: every msgid of the fresh template must be translated
		# (untranslated and fuzzy entries count as missing).
		msgcmp "$IMSS_PO_DIR/$lang.po" "$tmp/fresh.pot" 2>"$tmp/msgcmp" || {
			cat "$tmp/msgcmp" >&2
			fail "$lang.po lacks translations of messages in the sources: $fix"
		}
		echo "ok: $lang.po translates every message marked in the sources"
	done
	if ! msgcmp --use-untranslated "$IMSS_PO_DIR/imss-renew.pot" "$tmp/fresh.pot" \
		2>"$tmp/msgcmp" ||
		! msgcmp --use-untranslated "$tmp/fresh.pot" "$IMSS_PO_DIR/imss-renew.pot" \
			2>>"$tmp/msgcmp"; then
		cat "$tmp/msgcmp" >&2
		fail "po/imss-renew.pot is not the messages of the sources: $fix"
	fi
	echo "ok: po/imss-renew.pot is current"
	;;
*)
	fail "unknown mode '$mode'"
	;;
esac
echo "PASS: $T_NAME"
