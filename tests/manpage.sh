#!/bin/sh
# manpage.sh: keeps server/mlpd.8 honest against the real mlpd.
#
# The flags come from three places that must agree: the getopt table in
# server/config.c (what mlpd accepts), `mlpd --help` (what it says it
# accepts) and the man page. The page is rendered with groff (-man, tbl)
# once with every warning turned on, which must print nothing, and once as
# plain ASCII on very long lines, which this script reads:
#   - every --help flag is an item (a tagged paragraph) under OPTIONS, and
#     every item there is a --help flag;
#   - the SYNOPSIS names exactly the --help flags;
#   - each "(default X)" in --help reads "Default: X" in the flag's item;
#   - every flag on an `mlpd ...` command line in the page exists.
# The last line is "N passed, M failed"; the exit status is 1 when a check
# failed. Nothing is started or listened on.
set -u

. "$(dirname "$0")/lib.sh"
SRC=${srcdir:-.}
PAGE=$SRC/server/mlpd.8
CONFIG_C=$SRC/server/config.c

lib_init manpage

for f in "$MLPD" "$PAGE" "$CONFIG_C"; do
	if [ ! -r "$f" ]; then
		echo "manpage: $f is missing (set builddir and srcdir)" >&2
		exit 99
	fi
done
HINT="Debian package groff-base"
require groff

# flags FILE: the distinct --flags in FILE, sorted, one a line.
flags() {
	grep -o -e '--[a-z][a-z0-9-]*[a-z0-9]' "$1" | sort -u
}

# same DESCRIPTION WANT_FILE GOT_FILE: pass when both hold the same lines;
# otherwise name what each side lacks.
same() {
	_miss=$(comm -23 "$2" "$3" | tr '\n' ' ')
	_extra=$(comm -13 "$2" "$3" | tr '\n' ' ')
	if [ -z "$_miss$_extra" ]; then
		ok "$1"
	else
		bad "$1" "missing: ${_miss:-none}; extra: ${_extra:-none}"
	fi
}

# ---------------------------------------------------------------------------
# What mlpd accepts, and what it says
# ---------------------------------------------------------------------------
# the long options of config.c's getopt table: { "name", ..., OPT_X },
sed -n '/struct option options\[\]/,/^};/p' "$CONFIG_C" |
    sed -n 's/^[[:space:]]*{ "\([a-z0-9-]*\)",.*/--\1/p' | sort -u \
    >"$tmp/getopt"

"$MLPD" --help >"$tmp/help.txt" 2>"$tmp/help.err"
st=$?
if [ "$st" -eq 0 ] && [ ! -s "$tmp/help.err" ]; then
	ok "mlpd --help exits 0 and writes only to stdout"
else
	bad "mlpd --help exits 0 and writes only to stdout" \
	    "status $st, stderr: $(head -c 200 "$tmp/help.err")"
fi
# option lines start (after spaces) with --flag; continuations do not
grep -e '^[[:space:]]*--[a-z]' "$tmp/help.txt" |
    sed 's/^[[:space:]]*\(--[a-z0-9-]*\).*/\1/' | sort -u >"$tmp/help"
n=$(wc -l <"$tmp/help")
if [ "$n" -ge 8 ]; then
	ok "--help lists $n flags"
else
	bad "--help lists at least 8 flags" "found $n"
fi
same "--help lists exactly the flags config.c accepts" "$tmp/getopt" \
    "$tmp/help"

# ---------------------------------------------------------------------------
# The page renders cleanly
# ---------------------------------------------------------------------------
groff -t -man -Tutf8 -ww -z "$PAGE" >"$tmp/warn" 2>&1
st=$?
if [ "$st" -eq 0 ] && [ ! -s "$tmp/warn" ]; then
	ok "groff -man -ww renders mlpd.8 without a warning"
else
	bad "groff -man -ww renders mlpd.8 without a warning" \
	    "status $st: $(head -c 400 "$tmp/warn")"
fi
# a man page with a table must say so on its first line, for man(1)
if head -n 1 "$PAGE" | grep -q "^'\\\\\" t"; then
	ok "mlpd.8 asks man for tbl on its first line"
else
	bad "mlpd.8 asks man for tbl on its first line" \
	    "first line: $(head -n 1 "$PAGE")"
fi

# one paragraph per line, no hyphenation, no bold/underline sequences
groff -t -man -Tascii -P-cbou -rLL=3000n -rHY=0 "$PAGE" \
    >"$tmp/page.txt" 2>/dev/null
# section NAME: its body, up to the next heading (a line in column 0)
section() {
	awk -v s="$1" '/^[A-Z]/ { on = ($0 == s); next } on' "$tmp/page.txt"
}
section SYNOPSIS >"$tmp/synopsis.txt"
section OPTIONS >"$tmp/options.txt"

# ---------------------------------------------------------------------------
# Flags: --help against the page
# ---------------------------------------------------------------------------
# an item's tag line is indented 7 and starts with the flag
sed -n 's/^       \(--[a-z0-9-]*\).*/\1/p' "$tmp/options.txt" | sort -u \
    >"$tmp/items"
same "every --help flag is an OPTIONS item in mlpd.8, and no other" \
    "$tmp/help" "$tmp/items"
flags "$tmp/synopsis.txt" >"$tmp/synopsis"
same "the SYNOPSIS names every --help flag, and no other" "$tmp/help" \
    "$tmp/synopsis"

# flags on the page's own mlpd command lines (examples, synopsis)
grep -e '^[[:space:]]*mlpd --' "$tmp/page.txt" >"$tmp/cmds.txt"
flags "$tmp/cmds.txt" >"$tmp/cmds"
unknown=$(comm -13 "$tmp/help" "$tmp/cmds" | tr '\n' ' ')
if [ -s "$tmp/cmds" ] && [ -z "$unknown" ]; then
	ok "the page's mlpd command lines use only real flags"
else
	bad "the page's mlpd command lines use only real flags" \
	    "unknown: ${unknown:-none}; lines: $(wc -l <"$tmp/cmds.txt")"
fi

# ---------------------------------------------------------------------------
# Defaults: "(default X)" in --help reads "Default: X" in the item
# ---------------------------------------------------------------------------
# --help with each flag's continuation lines joined to it
awk '/^[[:space:]]*--/ { if (l) print l; l = $0; next }
     /^[[:space:]]+[^[:space:]]/ && l { sub(/^[[:space:]]+/, " "); l = l $0 }
     END { if (l) print l }' "$tmp/help.txt" >"$tmp/help.joined"
# the page's items, one a line: "--flag text..."
awk '/^       --/ { if (l) print l; l = substr($0, 8); next }
     /^              [^ ]/ && l { l = l " " substr($0, 15) }
     END { if (l) print l }' "$tmp/options.txt" >"$tmp/items.joined"
ndef=0
while read -r flag; do
	def=$(grep -e "^[[:space:]]*$flag " "$tmp/help.joined" |
	    sed -n 's/.*(default \([^;)]*\).*/\1/p')
	[ -n "$def" ] || continue
	ndef=$((ndef + 1))
	item=$(grep -e "^$flag " "$tmp/items.joined")
	case "$item" in
	*"Default: $def"*) ok "$flag: the page gives the default $def" ;;
	*) bad "$flag: the page gives the default $def" \
	    "item: $(printf '%s' "$item" | head -c 300)" ;;
	esac
done <"$tmp/help"
if [ "$ndef" -ge 5 ]; then
	ok "$ndef defaults compared"
else
	bad "at least 5 defaults compared" "found $ndef"
fi

finish
