#!/usr/bin/env bash
# The extension's pg_regress and isolation suites on the SQL edition: every
# test that runs on the C edition, on a server that has no C module of
# auditlog, with the extension created by a role that owns the database, has
# CREATEROLE and is not a superuser. Before them, the installs (psql -f makes
# what CREATE EXTENSION makes; an owner that may not make roles is refused)
# and the pg_dump round trip, by that role.
#
# The server is a copy of the Postgres of PG_CONFIG with auditlog's C module
# and scripts taken out and the SQL edition's put in (make sql-edition), as
# an extension without C. The one line of the tests that changes: CREATE
# EXTENSION auditlog runs as that role (SET ROLE). Errors raised in PL/pgSQL
# carry a CONTEXT line that the C's do not, so both editions run the suite
# with psql's SHOW_CONTEXT off, and the SQL edition's output must equal the
# C edition's, byte for byte, for every test, but those whose output differs
# by design: for them, extension/test/sql-edition/ holds the SQL edition's
# expected output (docs/guarantees.md, "The SQL edition", says why; a change
# to such a test changes both files).
#
#   extension/test/sql_edition.sh            # both suites
#   extension/test/sql_edition.sh pages      # some pg_regress tests only
#
# On the Postgres of PG_CONFIG (Debian's 15 by default; versions.sh runs it
# on 16 and 18), whose C edition must be installed (build_extension). With
# INSTANT='2027-12-31 23:52:00', every server's clock starts there
# (libfaketime, as start_cluster does it).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"

only=("$@")
make -s -C extension sql-edition
work=$(cluster_dir sql-edition)
rm -rf "$work"
mkdir -p "$work"

# A server without auditlog's C: the same installation, copied under $work
# with its absolute layout (Postgres finds its share and lib directories
# relative to its binaries).
bindir=$("$PG_CONFIG" --bindir)
sharedir=$("$PG_CONFIG" --sharedir)
pkglibdir=$("$PG_CONFIG" --pkglibdir)
for dir in "$(dirname "$bindir")" "$sharedir" "$pkglibdir"; do
  mkdir -p "$work/server$(dirname "$dir")"
  [ -e "$work/server$dir" ] || cp -a "$dir" "$work/server$dir"
done
# (Servers from PyPI keep their shared libraries beside their package.)
libs_parent=$(dirname "$(dirname "$(dirname "$bindir")")")
for libs in "$libs_parent"/*.libs; do
  [ ! -d "$libs" ] || { mkdir -p "$work/server$libs_parent"; cp -a "$libs" "$work/server$libs_parent/"; }
done
rm -rf "$work/server$sharedir"/extension/auditlog[-.]* "$work/server$pkglibdir"/auditlog.so \
  "$work/server$pkglibdir"/bitcode/auditlog*
cp extension/sql-edition/extension/* "$work/server$sharedir/extension/"
chmod -R a+rX "$work"
c_bin=$bindir
sql_bin=$work/server$bindir

# The tests as they run on each edition.
prepare() {  # prepare DIR EDITION
  cp -r extension/test "$1"
  rm -rf "$1/output"
  # Each test file: its first line is "\set ECHO none"; context off after it.
  sed -i -e '1s/$/\n\\set SHOW_CONTEXT never/' -e 's/^\\set SHOW_CONTEXT .*/\\set SHOW_CONTEXT never/' "$1"/sql/*.sql
  if [ "$2" = sql ]; then
    sed -i "$owner_creates" \
      "$1"/sql/*.sql "$1"/specs/*.spec
  fi
}
# (The SQL edition: CREATE EXTENSION by the owner role, a line no test echoes
# but the steps of isolation specs, whose expected output gets it too.)
owner_creates='s/^\(\s*\)CREATE EXTENSION auditlog;/\1DO $g$ BEGIN EXECUTE format($f$GRANT CREATE ON DATABASE %I TO auditlog_owner$f$, current_database()); END $g$; SET ROLE auditlog_owner; CREATE EXTENSION auditlog; RESET ROLE;/'
prepare "$work/c" c
prepare "$work/sql" sql
tests=$(ls extension/test/sql | sed -n 's/\.sql$//p' | sort)
specs=$(ls extension/test/specs | sed -n 's/\.spec$//p' | sort)
if [ ${#only[@]} -gt 0 ]; then tests=${only[*]}; specs=; fi
pgxs=$(dirname "$("$PG_CONFIG" --pgxs)")/..
regress=$pgxs/test/regress/pg_regress
isolation=$pgxs/test/isolation/pg_isolation_regress

# run EDITION EXPECTED_FROM: the suites on a cluster of that edition; the
# outputs go to $work/EDITION-out.
run() {
  local edition=$1 bin
  [ "$edition" = c ] && bin=$c_bin || bin=$sql_bin
  (
    PG_BIN=$bin
    cluster="$work/cluster-$edition"
    trap 'stop_cluster "$cluster"' EXIT
    start_cluster "$cluster" ${INSTANT:+"$INSTANT"}
    psql -X -q -d postgres -v ON_ERROR_STOP=1 \
      -c "CREATE ROLE auditlog_owner LOGIN CREATEROLE" \
      -c "CREATE DATABASE contrib_regression OWNER auditlog_owner" \
      -c "CREATE DATABASE isolation_regression OWNER auditlog_owner"
    status=0
    mkdir -p "$work/$edition-out/regress" "$work/$edition-out/isolation"
    # shellcheck disable=SC2086 # one word per test
    "$regress" --bindir="$bin" --use-existing --dbname=contrib_regression --inputdir="$work/$edition" \
      --outputdir="$work/$edition-out/regress" $tests >"$work/$edition-regress.log" 2>&1 || status=1
    if [ -n "$specs" ]; then
      # shellcheck disable=SC2086
      "$isolation" --bindir="$bin" --use-existing --dbname=isolation_regression --inputdir="$work/$edition" \
        --outputdir="$work/$edition-out/isolation" $specs >"$work/$edition-isolation.log" 2>&1 || status=1
    fi
    exit $status
  )
}

log "SQL edition: the suites on the C edition, CONTEXT off (what the SQL edition must print)"
run c || true  # (its outputs lack the CONTEXT lines its expected files have)
rm -rf "$work/sql/expected"
mkdir -p "$work/sql/expected"
for out in "$work"/c-out/*/results/*.out; do
  [ -f "$out" ] && cp "$out" "$work/sql/expected/"
done
sed -i "$owner_creates" "$work"/sql/expected/*.out
# Where the SQL edition differs by design, its own expected output says how
# (docs/guarantees.md says why).
cp extension/test/sql-edition/*.out "$work/sql/expected/" 2>/dev/null || true
[ "$(ls "$work/sql/expected" | wc -l)" -gt 0 ] || die "the C edition's run produced no output: $(cat "$work/c-regress.log")"

# installs: psql -f, as the README says, on the SQL edition's server: refused
# (changing nothing) for an owner that may not make the three roles; by
# auditlog_owner, the same objects as CREATE EXTENSION of the same edition.
installs() {
  local catalog="SELECT format('%s %s %s %s %s %s %s', p.oid::regprocedure, pg_get_function_result(p.oid), l.lanname,
                                p.prosecdef, p.provolatile, p.proconfig, obj_description(p.oid, 'pg_proc'))
                 FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
                 WHERE p.pronamespace IN ('auditlog'::regnamespace, 'auditlog_internal'::regnamespace)
                 UNION ALL
                 SELECT format('%s.%s %s %s %s', c.relnamespace::regnamespace, c.relname, c.relkind, a.attname,
                               format_type(a.atttypid, a.atttypmod))
                 FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                 WHERE c.relnamespace IN ('auditlog'::regnamespace, 'auditlog_internal'::regnamespace)
                 ORDER BY 1"
  (
    PG_BIN=$sql_bin
    cluster="$work/cluster-installs"
    trap 'stop_cluster "$cluster"' EXIT
    start_cluster "$cluster" ${INSTANT:+"$INSTANT"}
    psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "CREATE ROLE plain_owner LOGIN" \
      -c "CREATE DATABASE plain_owned OWNER plain_owner" -c "CREATE ROLE auditlog_owner LOGIN CREATEROLE" \
      -c "CREATE DATABASE by_psql OWNER auditlog_owner" -c "CREATE DATABASE by_extension OWNER auditlog_owner"
    if psql -X -q -U plain_owner -d plain_owned -f extension/sql-edition/auditlog.sql >"$work/refused.log" 2>&1; then
      die "psql -f by a role without CREATEROLE installed the SQL edition, with no roles to grant to"
    fi
    grep -q 'may not create them' "$work/refused.log" || die "psql -f by a role without CREATEROLE: $(cat "$work/refused.log")"
    [ "$(psql -X -At -d plain_owned -c "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'auditlog%'")" = 0 ] ||
      die "a refused install left schemas behind"
    psql -X -q -U auditlog_owner -d by_psql -v ON_ERROR_STOP=1 -f extension/sql-edition/auditlog.sql
    psql -X -q -U auditlog_owner -d by_extension -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION auditlog'
    [ "$(psql -X -At -d by_psql -c "SELECT edition || ' ' || version FROM auditlog.edition()")" = \
      "sql $(sed -n "s/^default_version = '\(.*\)'/\1/p" extension/auditlog.control)" ] || die "auditlog.edition() is wrong"
    psql -X -At -d by_psql -c "$catalog" >"$work/by_psql.catalog"
    psql -X -At -d by_extension -c "$catalog" >"$work/by_extension.catalog"
    diff "$work/by_extension.catalog" "$work/by_psql.catalog" ||
      die "psql -f made other objects than CREATE EXTENSION"
    log "SQL edition: psql -f installs what CREATE EXTENSION does ($(wc -l <"$work/by_psql.catalog") functions and columns), and refuses an owner that may not make roles"
    log "SQL edition: pg_dump and pg_restore by the owner keep every entry"
    PG_BIN=$sql_bin OWNER=auditlog_owner extension/test/dump_restore.sh
  )
}
installs

log "SQL edition: the same suites on the SQL edition, installed by a role that is not a superuser"
if ! run sql; then
  cat "$work/sql-regress.log" "$work"/sql-isolation.log 2>/dev/null | grep -v '^ok\|^test \|^     \|^$' || true
  cat "$work"/sql-out/*/regression.diffs 2>/dev/null || true
  die "the SQL edition's output differs from the C edition's"
fi
log "SQL edition: every test prints what it prints on the C edition, or what extension/test/sql-edition/ says"
rm -rf "$work"
