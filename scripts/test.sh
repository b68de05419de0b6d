#!/usr/bin/env bash
# Runs every test on a fresh Debian 12 machine (as root): checks the Swift
# code's layout (swift format lint), installs what is missing, builds the
# extension and auditlogctl, starts a throwaway Postgres 15 cluster, runs the
# extension's pg_regress and isolation tests (also each file alone, in reverse
# order, on servers whose clock starts at two fixed instants, and on Postgres
# 16 and 18), the pg_dump round trip, the upgrade test, the SQL edition (both
# suites on a server without the C module, its installs and pg_dump round
# trip, its renderer against the C's, the randomized export on it), the
# randomized export test and `swift test`, then stops the cluster; last, the
# chaos suite at a small size, on a cluster of its own, on each edition.
# Python packages go into .tmp/venv.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# First, as it takes seconds: the Swift code is as swift-format lays it out
# (.swift-format); `swift format -i -r --configuration .swift-format Sources
# Tests Package.swift` fixes what it reports.
log "auditlogctl: swift format lint"
swift format lint --strict -r --configuration .swift-format Sources Tests Package.swift

install_packages

# The C code builds clean with every warning an error, and with assertions on
# (a scratch copy: what is installed is the ordinary build).
log "extension: strict build (-Wall -Wextra -Werror, assertions)"
strict=$(mktemp -d)
cp -r extension sql "$strict/"
make -s -C "$strict/extension" clean >/dev/null
make -s -C "$strict/extension" COPT='-DUSE_ASSERT_CHECKING -Wall -Wextra -Werror -Wno-unused-parameter' >/dev/null
rm -rf "$strict"

build_extension

cluster=$(cluster_dir test-cluster)
rm -rf "$cluster"
trap 'stop_cluster "$cluster"' EXIT
start_cluster "$cluster"

log "extension: pg_regress and isolation tests"
extension_tests

log "extension: each test file alone, then both suites in reverse order"
extension/test/independence.sh

# No test may depend on the time of day or the date: the same tests on a
# server whose clock (libfaketime) starts at a fixed instant and runs on,
# each on a cluster of its own: 5 seconds after midnight UTC on a leap day
# (so "the last minute", "the last hour" reach into yesterday, 28 February),
# and 8 minutes before midnight UTC on the last day of a year ("the next
# hour" reaches into next year; the tests take well under 8 minutes).
for instant in '2028-02-29 00:00:05' '2027-12-31 23:52:00'; do
  log "extension: pg_regress and isolation tests, the server's clock from $instant UTC"
  (
    fake=$(cluster_dir test-cluster-faketime)
    rm -rf "$fake"
    trap 'stop_cluster "$fake"' EXIT
    start_cluster "$fake" "$instant"
    extension_tests
  )
done

log "extension: pg_dump and pg_restore keep every entry"
extension/test/dump_restore.sh

log "extension: ALTER EXTENSION UPDATE from every release equals a fresh install"
extension/test/upgrade.sh

# The Python packages the tests use, in the virtual environment $VENV (.tmp/venv),
# whose python3 is first on the PATH from here on: the Swift tests run it too.
python_venv psycopg 'psycopg[binary]' moto.server,boto3 'moto[server] boto3' duckdb duckdb

# The same suites on Postgres 16 and 18 (servers from PyPI, into the venv).
extension/test/versions.sh

# The SQL edition, for servers that load no C module: on a copy of this
# Postgres without auditlog's C, installed by a role that is not a superuser.
extension/test/sql_edition.sh
log "extension: the SQL edition's renderer writes the C edition's bytes"
extension/test/render_twins.sh
log "extension: randomized exactly-once export on the SQL edition, installed with psql -f"
"$PYTHON" extension/test/random_export.py --seeds 1 2 3 --steps 1500 --sql-edition extension/sql-edition/auditlog.sql

log "extension: randomized exactly-once export, fixed seeds"
"$PYTHON" extension/test/random_export.py --seeds 1 2 3 4 5 --steps 1500

log "extension: the functions that commit on their own, in pipelines"
psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS pipeline_test' -c 'CREATE DATABASE pipeline_test'
PGDATABASE=pipeline_test "$PYTHON" extension/test/pipeline.py

log "auditlogctl: swift test"
# A superuser's connection to a database without the extension; each test of
# the extension makes a database of its own through it (ScratchDatabase).
export AUDITLOG_TEST_DATABASE="host=$PGHOST port=$PGPORT user=$PGUSER dbname=postgres"
# A role that must give its password (start_cluster's pg_hba.conf), for the
# tests of a wrong one.
psql -X -q -d postgres -c "DROP ROLE IF EXISTS ctl_password_test" \
  -c "CREATE ROLE ctl_password_test LOGIN PASSWORD '$(python3 -c 'import secrets; print(secrets.token_hex(16))')'"
export AUDITLOG_TEST_PASSWORD_ROLE=ctl_password_test

# A real S3-compatible server on loopback for the storage tests (moto).
start_moto "$cluster/moto.log"
trap 'kill $MOTO_PID 2>/dev/null; stop_cluster "$cluster"' EXIT
# (DuckDB, in the venv, reads the exported tree back as a SIEM or a data lake would.)
export AUDITLOG_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
make -s -C extension sql-edition  # extension/sql-edition/auditlog.sql, which SQLEditionTests installs with psql -f
swift build --build-tests
swift test --skip-build

log "chaos: exactly-once export under kills, storage faults and a Postgres crash (small)"
Tests/chaos/run.sh --runs 2 --seconds 12
log "chaos: the same on the SQL edition, installed with psql -f"
Tests/chaos/run.sh --runs 1 --seconds 12 --sql-edition "$ROOT/extension/sql-edition/auditlog.sql"
