#!/bin/sh
# sql_static.sh: SQL only through prepared statements with bound
# parameters. A static check of the C sources (server/ and core/): no
# request data can be pasted into SQL text.
#
# A small C lexer (Python) finds every place SQL text is handed to SQLite
# (sqlite3_exec, sqlite3_prepare*, and the store's helpers that take SQL:
# setup_query in sqlite/store_open.c, db_stmt and db_run_text in
# sqlite/store_db.c) and
# every string builder (snprintf and friends) whose format looks like SQL:
#   - SQL is only handed over in server/store/ (the one module that talks
#     to SQLite);
#   - the SQL argument is a string literal; or q_sql[...], the file's
#     statement table, whose entries must all be literals (and macros that
#     are literals); or m->sql, the migrations table, whose entries must all be
#     the embedded schema files (store_schema*_sql); or the SQL parameter of
#     such a helper inside the helper itself (its callers are checked); or a
#     local char array that the same function fills only with snprintf of
#     a PRAGMA whose conversions are all integers (PRAGMA takes no bound
#     parameters; an integer of ours cannot carry SQL: user_version,
#     max_page_count);
#   - sqlite3_mprintf, sqlite3_vmprintf, sqlite3_snprintf and the
#     sqlite3_str_* builders are not used at all;
#   - any snprintf/sprintf whose format looks like SQL is such a PRAGMA.
# The checker first proves that it catches string-built SQL: each of seven
# kinds of it in a fabricated file must be found, and a clean file (with
# literals, a statement table, a helper that returns a statement and an
# integer PRAGMA) must give nothing.
# Then the real tree must give none. The last line is "N passed, M
# failed"; the exit status is 1 when a check failed.
set -u

. "$(dirname "$0")/lib.sh"
SRC=${srcdir:-$(cd "$(dirname "$0")/.." && pwd)}

HINT="Debian package python3"
require python3
if [ ! -d "$SRC/server/store" ]; then
	echo "sql_static: $SRC/server/store is missing (set srcdir)" >&2
	exit 99
fi

exec python3 - "$SRC" <<'EOF'
import os
import re
import sys
import tempfile

SINKS = {  # function -> 0-based index of its SQL argument
    "sqlite3_exec": 1, "sqlite3_prepare": 1, "sqlite3_prepare_v2": 1,
    "sqlite3_prepare_v3": 1, "sqlite3_prepare16": 1,
    "sqlite3_prepare16_v2": 1, "sqlite3_prepare16_v3": 1,
    "setup_query": 1, "db_stmt": 1, "db_run_text": 1,
}
BANNED = re.compile(r"^(sqlite3_v?mprintf|sqlite3_v?snprintf|sqlite3_str_\w+)$")
BUILDERS = {  # string builders: 0-based index of the format argument
    "snprintf": 2, "vsnprintf": 2, "sprintf": 1, "vsprintf": 1,
    "asprintf": 1, "vasprintf": 1,
}
SQLISH = re.compile(r"\b(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
                    r"PRAGMA|CREATE\s+(TABLE|INDEX|VIEW|TRIGGER)|DROP\s+\w+|"
                    r"ALTER\s+TABLE|ATTACH|VACUUM)\b")
CONV = re.compile(r"%(%|[-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l|j|z|t)?([a-zA-Z]))")
INT_MACROS = {"PRId64": "lld", "PRIi64": "lld", "PRIu64": "llu",
              "PRId32": "d", "PRIu32": "u"}

TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<pp>^[ \t]*\#(?:[^\n\\]|\\.)*)
  | (?P<str>(?:L|u8|u|U)?"(?:[^"\\\n]|\\.)*")
  | (?P<chr>'(?:[^'\\\n]|\\.)*')
  | (?P<id>[A-Za-z_]\w*)
  | (?P<num>\.?\d(?:[\w.]|[eEpP][+-])*)
  | (?P<op>->|\+\+|--|<<=|>>=|<=|>=|==|!=|&&|\|\||[-+*/%&|^<>]=?|.)
""", re.S | re.M | re.X)


def lex(text):
    toks, defines = [], {}
    line = 1
    for m in TOKEN.finditer(text):
        kind, s = m.lastgroup, m.group()
        if kind == "pp":
            d = re.match(r"\s*#\s*define\s+(\w+)(?!\()\s*(.*)", s, re.S)
            if d:
                defines[d.group(1)] = d.group(2).replace("\\\n", " ")
        elif kind not in ("ws", "comment"):
            toks.append((kind, s, line))
        line += s.count("\n")
    return toks, defines


def args_of(toks, i):
    """toks[i] is '(': the argument token lists and the index after ')'."""
    depth, cur, out = 0, [], []
    j = i
    while j < len(toks):
        k, s, _ = toks[j]
        if s in "([{" and k == "op":
            depth += 1
            if depth > 1:
                cur.append(toks[j])
        elif s in ")]}" and k == "op":
            depth -= 1
            if depth == 0:
                out.append(cur)
                return out, j + 1
            cur.append(toks[j])
        elif s == "," and depth == 1:
            out.append(cur)
            cur = []
        else:
            cur.append(toks[j])
        j += 1
    return out, j


def literal_text(arg, defines, macros_ok):
    """The text of an argument made only of string literals (and, when
    macros_ok, macros that are such literals or integer PRI macros);
    None otherwise."""
    if not arg:
        return None
    out = ""
    for k, s, _ in arg:
        if k == "str":
            out += s[s.index('"') + 1:-1]
        elif k == "id" and macros_ok and s in INT_MACROS:
            out += INT_MACROS[s]
        elif k == "id" and macros_ok and s in defines:
            sub, _ = lex(defines[s])
            t = literal_text(sub, defines, False)
            if t is None:
                return None
            out += t
        else:
            return None
    return out


def integer_pragma(fmt):
    """True when fmt is a PRAGMA whose conversions are all integers."""
    if not re.match(r"\s*PRAGMA\b", fmt):
        return False
    for m in CONV.finditer(fmt):
        if m.group(1) != "%" and m.group(2) not in "diu":
            return False
    return True


def functions(toks):
    """(name, params, start, end) of each top-level function body."""
    out, depth, i = [], 0, 0
    while i < len(toks):
        k, s, _ = toks[i]
        if k == "op" and s == "{":
            if depth == 0 and i > 0 and toks[i - 1][1] == ")":
                # walk back to the '(' of the parameter list
                d, j = 0, i - 1
                while j >= 0:
                    if toks[j][1] == ")":
                        d += 1
                    elif toks[j][1] == "(":
                        d -= 1
                        if d == 0:
                            break
                    j -= 1
                name = toks[j - 1][1] if j > 0 else "?"
                plist, _ = args_of(toks, j)
                params = [p[-1][1] for p in plist if p and p[-1][0] == "id"]
                out.append([name, params, i, None])
            depth += 1
        elif k == "op" and s == "}":
            depth -= 1
            if depth == 0 and out and out[-1][3] is None:
                out[-1][3] = i
        i += 1
    return out


def table_entries_ok(toks, defines, name, check):
    """Finds `name[...] = { ... }` and runs check on each entry's value
    tokens; None when there is no such table."""
    for i, (k, s, _) in enumerate(toks):
        if k == "id" and s == name and i + 1 < len(toks) and toks[i + 1][1] == "[":
            j = i + 1
            while j < len(toks) and toks[j][1] != "=":
                if toks[j][1] in ";{":
                    break
                j += 1
            if j < len(toks) and toks[j][1] == "=" and toks[j + 1][1] == "{":
                entries, _ = args_of(toks, j + 1)
                return all(check(e) for e in entries if e)
    return None


def check_file(path, rel, findings):
    text = open(path, encoding="utf-8", errors="replace").read()
    toks, defines = lex(text)
    funcs = functions(toks)

    def where(i):
        return "%s:%d" % (rel, toks[i][2])

    def enclosing(i):
        for f in funcs:
            if f[2] < i and f[3] is not None and i < f[3]:
                return f
        return None

    def q_sql_entry(e):
        if len(e) >= 4 and e[0][1] == "[" and e[2][1] == "]" and e[3][1] == "=":
            e = e[4:]
        return literal_text(e, defines, True) is not None

    def migration_entry(e):
        if e and e[0][1] == "{":
            inner, _ = args_of([("op", "(", 0)] + e[1:-1] + [("op", ")", 0)], 0)
            return (len(inner) == 2 and len(inner[1]) == 1 and
                    re.fullmatch(r"store_schema\w*_sql", inner[1][0][1]) is not None)
        return False

    def local_pragma_buffer(name, f):
        """name is a char array local to f, written only by snprintf of
        integer PRAGMAs (at least once)."""
        body = range(f[2], f[3])
        declared = any(toks[j][1] == "char" and toks[j + 1][1] == name and
                       toks[j + 2][1] == "[" for j in body)
        writes = 0
        for j in body:
            if toks[j][0] != "id" or toks[j + 1][1] != "(":
                continue
            a, _ = args_of(toks, j + 1)
            if not a or len(a[0]) != 1 or a[0][0][1] != name:
                continue
            fn = toks[j][1]
            if fn in SINKS:
                continue  # reading it
            if fn != "snprintf" or len(a) < 3:
                return False
            fmt = literal_text(a[2], defines, True)
            if fmt is None or not integer_pragma(fmt):
                return False
            writes += 1
        return declared and writes > 0

    for i, (k, s, _) in enumerate(toks):
        if k != "id" or i + 1 >= len(toks) or toks[i + 1][1] != "(":
            continue
        if i > 0 and ((toks[i - 1][0] == "id" and toks[i - 1][1] != "return")
                      or toks[i - 1][1] == "*"):
            # a declaration or definition (a type name, or the * of a
            # pointer type, before), not a call
            if enclosing(i) is None:
                continue
        if BANNED.match(s):
            findings.append("%s: %s builds SQL text" % (where(i), s))
            continue
        a, _ = args_of(toks, i + 1)
        if s in BUILDERS:
            n = BUILDERS[s]
            if len(a) > n:
                fmt = literal_text(a[n], defines, True)
                if fmt is None:
                    continue  # a non-literal format: the compiler warns
                if SQLISH.search(fmt) and not integer_pragma(fmt):
                    findings.append("%s: %s formats SQL: \"%s\"" %
                                    (where(i), s, fmt[:60]))
            continue
        if s not in SINKS:
            continue
        f = enclosing(i)
        if not rel.startswith("server/store/"):
            findings.append("%s: %s outside server/store/" % (where(i), s))
            continue
        n = SINKS[s]
        if len(a) <= n:
            findings.append("%s: %s with too few arguments" % (where(i), s))
            continue
        arg = a[n]
        texts = [t[1] for t in arg]
        if literal_text(arg, defines, True) is not None:
            continue
        if texts[:2] == ["q_sql", "["] and texts[-1] == "]":
            if table_entries_ok(toks, defines, "q_sql", q_sql_entry):
                continue
            findings.append("%s: q_sql holds a non-literal entry" % where(i))
            continue
        if texts == ["m", "->", "sql"]:
            if table_entries_ok(toks, defines, "migrations", migration_entry):
                continue
            findings.append("%s: migrations holds an entry that is not an "
                            "embedded schema" % where(i))
            continue
        if (len(texts) == 1 and f is not None and f[0] in SINKS and
                SINKS[f[0]] < len(f[1]) and f[1][SINKS[f[0]]] == texts[0]):
            continue  # the SQL parameter of a checked sink, passed on
        if len(texts) == 1 and f is not None and local_pragma_buffer(texts[0], f):
            continue
        findings.append("%s: %s gets SQL that is not a literal: %s" %
                        (where(i), s, " ".join(texts)[:60]))


def scan(root, rels):
    findings = []
    for rel in rels:
        check_file(os.path.join(root, rel), rel, findings)
    return findings


passed = failed = 0


def ok(msg):
    global passed
    passed += 1
    print("ok: " + msg)


def bad(msg, why=""):
    global failed
    failed += 1
    print("FAIL: " + msg + (" (%s)" % why if why else ""))


# 1. the checker catches string-built SQL
BAD = r'''
#include <sqlite3.h>
static int
setup_query(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	return sqlite3_prepare_v2(db, sql, -1, &st, NULL);
}
static sqlite3_stmt *
db_stmt(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	sqlite3_prepare_v3(db, sql, -1, 0, &st, NULL);
	return st;
}
int
lookup(sqlite3 *db, const char *id, const char *name)
{
	char q[256], p[64];
	sqlite3_stmt *st;
	char *z;

	snprintf(q, sizeof q, "SELECT * FROM models WHERE id = '%s'", id);
	sqlite3_prepare_v2(db, q, -1, &st, NULL);
	z = sqlite3_mprintf("DELETE FROM models WHERE name = %Q", name);
	sqlite3_exec(db, z, NULL, NULL, NULL);
	snprintf(p, sizeof p, "PRAGMA table_info(%s)", name);
	db_stmt(db, name);
	return setup_query(db, p);
}
'''
GOOD = r'''
#include <sqlite3.h>
#define COLS "id, name"
static const char *const q_sql[2] = {
	[0] = "SELECT " COLS " FROM models WHERE id = ?1",
	[1] = "DELETE FROM models WHERE id = ?1",
};
static int
setup_query(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	return sqlite3_prepare_v2(db, sql, -1, &st, NULL);
}
static sqlite3_stmt *
db_stmt(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	sqlite3_prepare_v3(db, sql, -1, 0, &st, NULL);
	return st;
}
int
set_version(sqlite3 *db, int v, int q)
{
	char sql[64];
	sqlite3_stmt *st;

	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
	sqlite3_prepare_v3(db, q_sql[q], -1, 0, &st, NULL);
	db_stmt(db, q_sql[q > 0 ? 1 : 0]);
	db_stmt(db, "SELECT 1");
	setup_query(db, "PRAGMA foreign_keys = ON");
	return setup_query(db, sql);
}
'''
with tempfile.TemporaryDirectory() as d:
    os.makedirs(os.path.join(d, "server", "store"))
    for name, text in (("bad", BAD), ("good", GOOD)):
        with open(os.path.join(d, "server", "store", "store.c"), "w") as fh:
            fh.write(text)
        with open(os.path.join(d, "server", "api_x.c"), "w") as fh:
            fh.write('void f(sqlite3 *db, char *s) { sqlite3_exec(db, s, 0, 0, 0); }\n'
                     if name == "bad" else "int x;\n")
        found = scan(d, ["server/store/store.c", "server/api_x.c"])
        if name == "bad":
            # seven kinds of string-built SQL, each must be found
            kinds = {
                "snprintf formats SQL": any("snprintf formats SQL" in x and "SELECT" in x for x in found),
                "prepare of a built string": any("sqlite3_prepare_v2 gets SQL" in x for x in found),
                "sqlite3_mprintf": any("sqlite3_mprintf builds" in x for x in found),
                "exec of a built string": any("sqlite3_exec gets SQL" in x for x in found),
                "a PRAGMA with %s": any("PRAGMA table_info" in x for x in found),
                "SQL outside store/": any("outside server/store/" in x for x in found),
                "a statement helper given a parameter": any(
                    "db_stmt gets SQL that is not a literal: name" in x
                    for x in found),
            }
            for what, hit in kinds.items():
                if hit:
                    ok("the checker catches " + what)
                else:
                    bad("the checker catches " + what, "; ".join(found))
        else:
            if found:
                bad("the checker passes clean code", "; ".join(found))
            else:
                ok("the checker passes clean code (literals, q_sql, a "
                   "statement helper, an integer PRAGMA)")

# 2. the real tree
root = sys.argv[1]
rels = []
for sub in ("server", "core"):
    for dirpath, _, names in sorted(os.walk(os.path.join(root, sub))):
        for name in sorted(names):
            if name.endswith(".c"):
                rels.append(os.path.relpath(os.path.join(dirpath, name), root))
found = scan(root, rels)
if found:
    for x in found:
        print("  " + x)
    bad("no string-built SQL in %d files of server/ and core/" % len(rels),
        "%d findings" % len(found))
else:
    ok("no string-built SQL in %d files of server/ and core/" % len(rels))
# and the checker did look at SQL there
n = 0
for rel in rels:
    if rel.startswith("server/store/"):
        text = open(os.path.join(root, rel)).read()
        n += len(re.findall(r"\bsqlite3_(?:exec|prepare\w*)\s*\(", text))
if n >= 3:
    ok("server/store/ hands SQL to SQLite in %d places, all checked" % n)
else:
    bad("server/store/ hands SQL to SQLite", "only %d places" % n)

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
