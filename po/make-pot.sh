#!/bin/sh
# po/make-pot.sh SOURCE_DIR OUTPUT [VERSION]: extract every message marked
# for translation in the library and the tool into a PO template.  The
# marks are _() and N_() (include/imss-renew/i18n.h, src/tool/tool.h) and ngettext().
# Used by the imss-renew-pot target and by the i18n tests.
set -eu
src=$1 out=$2 version=${3:-}
cd "$src"
# Every C file of the library and the tool, in a fixed order; the
# service (src/service) has its own bilingual messages.
files=$(LC_ALL=C ls pkcs11/*.c pkcs11/*.h include/imss-renew/*.h src/*/*.c src/*/*.h | grep -v -e "^src/service/" -e "/test-")
# shellcheck disable=SC2086  # word splitting is meant: no spaces in the names
exec xgettext --language=C --from-code=UTF-8 --keyword=_ --keyword=N_ \
	--add-comments=TRANSLATORS: --package-name=imss-renew \
	${version:+--package-version="$version"} \
	--copyright-holder='the imss-renew authors' \
	--msgid-bugs-address='imss-renew issue tracker' --sort-by-file -o "$out" $files
