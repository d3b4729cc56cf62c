#!/usr/bin/env bash
# A tampered credential file cannot keep the tool busy: a .pfx or an
# encrypted .key whose protection asks for more than 1,000,000 password
# iterations (found by fuzz-credential: 2^30 took hours) is refused at once,
# with a message that says so; the same files at ordinary counts sign.
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$TESTS_DIR/lib/common.sh"
command -v openssl >/dev/null || { echo "openssl is missing: skipped" >&2; exit 77; }
t_tmpdir
trap t_cleanup EXIT
cd "$T"
printf 'secreto1' >pw
chmod 600 pw
printf 'carta' >letter.txt
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out c.pem \
	-subj /CN=work-factor -days 2 2>/dev/null
openssl x509 -in c.pem -outform DER -out slow.cer
cp slow.cer ok.cer
# 1,000,001 iterations: one over the limit (and quick enough to make here).
openssl pkcs12 -export -in c.pem -inkey k.pem -passout file:pw -iter 1000001 -out slow.pfx
openssl pkcs12 -export -in c.pem -inkey k.pem -passout file:pw -out ok.pfx
openssl pkcs8 -topk8 -in k.pem -v2 aes-256-cbc -iter 1000001 -passout file:pw -outform DER -out slow.key
openssl pkcs8 -topk8 -in k.pem -v2 aes-256-cbc -passout file:pw -outform DER -out ok.key

for f in slow.pfx slow.cer; do
	start=$(date +%s%N)
	assert_exit 1 "$IMSS_RENEW" sign --credential "$f" --password-source file:pw \
		--in letter.txt --out out.p7s
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	assert_contains "$(<"$T/stderr")" 'unreasonable amount of password work' "$f: the reason is given"
	((ms < 1500)) || die "$f: refused only after $ms ms"
	[[ ! -e out.p7s ]] || die "$f: a signature was written"
done
for f in ok.pfx ok.cer; do
	assert_exit 0 "$IMSS_RENEW" sign --credential "$f" --password-source file:pw \
		--in letter.txt --out "$f.p7s"
	openssl cms -verify -binary -inform PEM -in "$f.p7s" -content letter.txt -noverify \
		-out /dev/null 2>/dev/null || die "$f: the signature does not verify"
done
echo "ok: work factors over the limit refused, ordinary ones sign"
