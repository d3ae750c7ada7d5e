#!/bin/sh
# schema_embed.sh: turns an SQL file into a C source file that defines
#   const char store_schema_sql[];
# holding the file's text, which server/store.c runs as migration step 1.
#
# Usage: sh server/schema_embed.sh schema/mlpd.sql > server/schema_sql.c
#
# Each line becomes one string literal ending in \n. Backslashes and double
# quotes are escaped, tabs become \t, carriage returns are dropped, and '?'
# becomes \? so that no "??x" can turn into a trigraph under -std=c11.
set -e

if [ $# -ne 1 ] || [ ! -r "$1" ]; then
	echo "usage: sh $0 file.sql > file.c" >&2
	exit 2
fi

tab=$(printf '\t')

printf '/* Generated from %s by server/schema_embed.sh: do not edit. */\n' \
	"$(basename "$1")"
printf 'extern const char store_schema_sql[];\n'
printf 'const char store_schema_sql[] =\n'
# (A last line without a newline gets one, so every line is handled alike.)
{
	cat "$1"
	if [ -n "$(tail -c 1 "$1")" ]; then
		echo
	fi
} | tr -d '\r' | sed \
	-e 's/\\/\\\\/g' \
	-e 's/"/\\"/g' \
	-e 's/?/\\?/g' \
	-e "s/$tab/\\\\t/g" \
	-e 's/^/	"/' \
	-e 's/$/\\n"/'
printf '\t"";\n'
