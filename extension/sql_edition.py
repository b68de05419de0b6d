#!/usr/bin/env python3
"""Assembles the SQL edition of auditlog: the extension's install script with
every C function replaced by its SQL twin, for servers that load no C module
and give nobody superuser (managed services).

The C edition's script is ../sql/*.sql, concatenated. Beside each C source,
extension/src/<name>.sql holds the twins of the functions <name>.c
implements: statements that define the same objects (same names, arguments,
results) in SQL or PL/pgSQL. Here each statement of the assembled script that
a twin defines again is swapped for the twin. A twin that defines an object
the script does not (a type the twin needs) goes in just before the next
swapped statement. A line

    -- sql edition: without schema.name

in a twin file leaves that object and its COMMENT out (a C-only detail with no
use in SQL). Whatever is left that would load C is an error: the SQL edition
has no C at all.

Writes, into the output directory:
  auditlog.sql                      psql -f into the current database
  extension/auditlog.control        the same as an extension without C
  extension/auditlog--VERSION.sql   (superuser = false)

  python3 sql_edition.py VERSION OUTDIR ../sql/*.sql -- src/*.sql
"""

import os
import re
import sys


def statements(text):
    """Splits SQL text into top-level statements, each with the comments and
    blank lines before it (the last item may be trailing comments only)."""
    out, start, i, n = [], 0, 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('--', i):
            i = text.find('\n', i)
            i = n if i < 0 else i + 1
        elif c == "'":
            i += 1
            while i < n:
                if text[i] == "'" and text.startswith("''", i):
                    i += 2
                elif text[i] == "'":
                    i += 1
                    break
                else:
                    i += 1
        elif c == '"':
            i = text.index('"', i + 1) + 1
        elif c == '$':
            m = re.match(r'\$[A-Za-z_]*\$', text[i:])
            if m:
                tag = m.group(0)
                i = text.index(tag, i + len(tag)) + len(tag)
            else:
                i += 1
        elif c == ';':
            i += 1
            if i < n and text[i] == '\n':
                i += 1
            out.append(text[start:i])
            start = i
        else:
            i += 1
    if text[start:].strip():
        out.append(text[start:])
    return out


def code(statement):
    """The statement without its leading comments and blank lines."""
    return re.sub(r'\A(\s*--[^\n]*\n|\s+)*', '', statement)


KEY = re.compile(r'''\A(?:CREATE\s+(?:OR\s+REPLACE\s+)?(FUNCTION|PROCEDURE|AGGREGATE|TYPE|TRIGGER)
                      |COMMENT\s+ON\s+(FUNCTION|PROCEDURE|AGGREGATE|TYPE))\s+([\w.]+)''', re.X | re.I)


def key(statement):
    """What a statement defines or comments on: (kind, name), or None."""
    m = KEY.match(code(statement))
    if not m:
        return None
    if m.group(1):
        return (m.group(1).upper(), m.group(3))
    return ('COMMENT ' + m.group(2).upper(), m.group(3))


def assemble(script_text, twin_texts):
    script = statements(script_text)
    keys = [key(s) for s in script]
    without = set()
    twins = []  # (key, statement)
    for name, text in twin_texts:
        without.update(m for m in re.findall(r'^-- sql edition: without ([\w.]+)$', text, re.M))
        for s in statements(text):
            if code(s).strip():
                twins.append((key(s), s))
    for name in without:
        if not any(k and k[1] == name for k in keys):
            sys.exit(f'sql_edition.py: "without {name}": the script defines no {name}')

    replaced = {}
    extras = []
    for k, s in twins:
        if k is None or k not in keys:
            extras.append(s)
        elif k not in replaced:
            replaced[k] = ''.join(extras) + s
            extras = []
        else:
            sys.exit(f'sql_edition.py: two twins of {k[0].lower()} {k[1]}')
    if extras:
        sys.exit('sql_edition.py: a twin file ends with statements that replace nothing:\n' + ''.join(extras))

    out = []
    for k, s in zip(keys, script):
        if k and k[1] in without:
            continue
        out.append(replaced.get(k, s))
    result = ''.join(out)
    for m in re.finditer(r'MODULE_PATHNAME[^\n]*', result):
        sys.exit(f'sql_edition.py: a C function has no twin: {m.group(0)}')
    return result


def main(argv):
    version, outdir = argv[1], argv[2]
    sep = argv.index('--')
    script_text = ''.join(open(p).read() for p in argv[3:sep])
    twin_texts = [(p, open(p).read()) for p in argv[sep + 1:]]
    edition = assemble(script_text, twin_texts)
    # The release this is, for auditlog.edition() (src/auditlog.sql).
    edition = edition.replace('@VERSION@', version)

    os.makedirs(os.path.join(outdir, 'extension'), exist_ok=True)
    with open(os.path.join(outdir, 'extension', f'auditlog--{version}.sql'), 'w') as f:
        f.write(edition)
    with open(os.path.join(outdir, 'extension', 'auditlog.control'), 'w') as f:
        f.write(f"""# auditlog, SQL edition: the same log without C, for servers that load no C module
comment = 'append-only, time-partitioned audit log with exactly-once export (SQL edition)'
default_version = '{version}'
schema = auditlog
relocatable = false
superuser = false
trusted = false
""")

    # psql -f: what CREATE EXTENSION would do, in one transaction. Tables are
    # registered for pg_dump only inside an extension; here pg_dump dumps
    # every table anyway.
    plain = re.sub(r'^\\echo .*\n', '', edition, flags=re.M)
    plain = re.sub(r"^SELECT pg_catalog\.pg_extension_config_dump\([^;]*\);\n", '', plain, flags=re.M)
    with open(os.path.join(outdir, 'auditlog.sql'), 'w') as f:
        f.write(f"""-- auditlog {version}, SQL edition: install with
--   psql -v ON_ERROR_STOP=1 -f auditlog.sql
-- as a role that owns the database and has CREATEROLE (no superuser needed).
-- Assembled by `make -C extension sql-edition`; edit sql/*.sql and
-- extension/src/*.sql, not this file.
\\set ON_ERROR_STOP on
\\o /dev/null
BEGIN;
-- As CREATE EXTENSION runs a script: function bodies are checked when they
-- run, not when made (a function may name a table made further on).
SET LOCAL check_function_bodies = off;
SET LOCAL client_min_messages = warning;
CREATE SCHEMA auditlog;
SET LOCAL search_path = auditlog;
""")
        f.write(plain)
        f.write('\nCOMMIT;\n\\o\n')


if __name__ == '__main__':
    main(sys.argv)
