#!/bin/sh
# embed.sh: turns any file into a C source file that defines
#   const unsigned char NAME[];   the file's bytes, then one NUL
#   const size_t NAME_len;        the byte count, without that NUL
# so the daemon can serve the file without reading the disk (the dashboard
# page, server/api/page/index.html, becomes server/api/page_html.c this way).
#
# Usage: sh server/api/embed.sh NAME file > file.c
#
# The bytes go out as hex numbers (od), so nothing in the file needs escaping
# and no string-literal length limit applies. Only POSIX sh, od and sed.
set -e

if [ $# -ne 2 ] || [ ! -r "$2" ]; then
	echo "usage: sh $0 NAME file > file.c" >&2
	exit 2
fi
case $1 in
[A-Za-z_]*) ;;
*) echo "embed.sh: $1 is not a C identifier" >&2; exit 2 ;;
esac
case $1 in
*[!A-Za-z0-9_]*) echo "embed.sh: $1 is not a C identifier" >&2; exit 2 ;;
esac

name=$1
len=$(wc -c <"$2" | tr -d ' ')

printf '/* Generated from %s by server/api/embed.sh: do not edit. */\n' \
	"$(basename "$2")"
printf '#include <stddef.h>\n\n'
printf 'extern const unsigned char %s[];\n' "$name"
printf 'extern const size_t %s_len;\n\n' "$name"
printf 'const size_t %s_len = %s;\n' "$name" "$len"
printf 'const unsigned char %s[] = {\n' "$name"
od -An -v -tx1 "$2" | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' \
	-e 's/^/	/' -e '/^	$/d'
printf '\t0x00\n};\n'
