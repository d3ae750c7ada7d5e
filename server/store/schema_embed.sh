#!/bin/sh
# schema_embed.sh: turns an SQL file into a C source file that defines
#   const char NAME[];   (NAME is store_schema_sql unless given)
# holding the file's text, which a backend runs as a migration step: the
# SQLite one, server/store/sqlite/store_open.c, runs schema/mlpd.sql as step
# 1, schema/mlpd-2.sql as step 2, ... Nothing in it is SQLite's: any
# backend of server/store/ may embed its SQL with it.
#
# Usage: sh server/store/schema_embed.sh schema/mlpd.sql [NAME] > server/store/sqlite/schema_sql.c
#
# Each line becomes one string literal ending in \n. Backslashes and double
# quotes are escaped, tabs become \t, carriage returns are dropped, and '?'
# becomes \? so that no "??x" can turn into a trigraph under -std=c11.
set -e

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ ! -r "$1" ]; then
	echo "usage: sh $0 file.sql [NAME] > file.c" >&2
	exit 2
fi
name=${2:-store_schema_sql}
case $name in
[A-Za-z_]*) ;;
*) echo "schema_embed.sh: $name is not a C identifier" >&2; exit 2 ;;
esac
case $name in
*[!A-Za-z0-9_]*) echo "schema_embed.sh: $name is not a C identifier" >&2
	exit 2 ;;
esac

tab=$(printf '\t')

printf '/* Generated from %s by server/store/schema_embed.sh: do not edit. */\n' \
	"$(basename "$1")"
printf 'extern const char %s[];\n' "$name"
printf 'const char %s[] =\n' "$name"
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
