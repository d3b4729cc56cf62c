# english-lines.awk CATALOGUE.po OUTPUT: print every line of OUTPUT that is
# still in English, judged by the catalogue: a line that holds a piece of
# English text of a message whose translation differs, or that is, or
# starts with "NAME:", a short message (a field name or a word) whose
# translation differs.  Pieces of English that the translations contain
# too (commands, options, examples) do not count.  Each line printed is
# "OUTPUT:LINE: text [English: piece]".  Exit 0 either way.
function unquote(s) {
	s = substr(s, 2, length(s) - 2)
	gsub(/\\\\/, "\001", s)
	gsub(/\\n/, "\n", s)
	gsub(/\\t/, "\t", s)
	gsub(/\\"/, "\"", s)
	gsub(/\001/, "\\", s)
	return s
}
function trim(s) {
	sub(/^[ \t]+/, "", s)
	sub(/[ \t]+$/, "", s)
	return s
}
function flush(   n, i, j, lines, pieces, p, k) {
	if (have && id != "" && !fuzzy) {
		all_str = all_str "\n" str
		if (id != str) {
			english[++n_english] = id
			if (plural != "")
				english[++n_english] = plural
		}
	}
	have = 0; fuzzy = 0; id = ""; plural = ""; str = ""; cur = ""
}
FNR == NR {
	if ($0 ~ /^#/ || $0 ~ /^[ \t]*$/) {
		if (have) flush()
		if ($0 ~ /^#,.*fuzzy/) fuzzy = 1
		next
	}
	if ($0 ~ /^msgid "/) { if (have) flush(); have = 1; cur = "id"; id = unquote(substr($0, 7)); next }
	if ($0 ~ /^msgid_plural "/) { cur = "plural"; plural = unquote(substr($0, 14)); next }
	if ($0 ~ /^msgstr(\[[0-9]+\])? "/) {
		cur = "str"
		sub(/^msgstr(\[[0-9]+\])? /, "")
		str = str (str != "" ? "\n" : "") unquote($0)
		next
	}
	if ($0 ~ /^"/) {
		if (cur == "id") id = id unquote($0)
		else if (cur == "plural") plural = plural unquote($0)
		else if (cur == "str") str = str unquote($0)
		next
	}
	next
}
FNR == 1 && !prepared {
	flush()
	prepared = 1
	# printf conversions split a message into literal pieces.
	conv = "%[-+ #0']*[0-9*]*(\\.[0-9*]+)?(hh|h|ll|l|z|j|t|L)?[diouxXeEfgGcsp%]"
	for (i = 1; i <= n_english; i++) {
		m = english[i]
		if (m !~ /\n/ && m !~ /%/ && length(trim(m)) >= 2 && m ~ /[A-Za-z][A-Za-z]/)
			words[trim(m)] = 1
		n = split(m, lines, "\n")
		for (j = 1; j <= n; j++) {
			k = split(lines[j], pieces, conv)
			for (p = 1; p <= k; p++) {
				piece = trim(pieces[p])
				if (length(piece) >= 8 && piece ~ /[A-Za-z][A-Za-z]+ +[A-Za-z][A-Za-z]+/ &&
				    index(all_str, piece) == 0)
					frags[piece] = 1
			}
		}
	}
}
{
	line = $0
	found = ""
	for (f in frags)
		if (index(line, f)) { found = f; break }
	if (found == "") {
		t = trim(line)
		for (w in words)
			if (t == w || index(t, w ":") == 1) { found = w; break }
	}
	if (found != "")
		printf "%s:%d: %s [English: %s]\n", FILENAME, FNR, line, found
}
