#!/usr/bin/env bash
# ALTER EXTENSION auditlog UPDATE takes a database from every earlier release
# to exactly what a fresh CREATE EXTENSION installs: the same functions (with
# their bodies, settings, security and grants), tables, columns, indexes,
# constraints, triggers, views and comments. An entry written before the
# upgrade is still there after it. Uses the cluster in PGHOST/PGPORT/PGUSER.
set -euo pipefail
psql=(psql -X -q -v ON_ERROR_STOP=1)
current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$(dirname "$0")/../auditlog.control")
fresh=$(mktemp) upgraded=$(mktemp)
trap 'rm -f "$fresh" "$upgraded"' EXIT

# A page of each kind in flight (a sink's, a backfill's, an export job's),
# handed out before the upgrade: afterwards each is handed out again,
# identical (same id, same SHA-256).
pin_pages() {
  "${psql[@]}" -d "$1" -o /dev/null <<'SQL'
SET client_min_messages = warning;
SELECT auditlog.create_sink('upgrade', 'file:///tmp/upgrade');
SELECT auditlog.record(operation => 'upgrade.page.' || n, tenant_id => 'upgrade-acme',
                       user_agent => 'agent "' || n || '"', details => jsonb_build_object('n', n))
FROM generate_series(1, 5) AS n;
SELECT auditlog.tick();
SQL
  "${psql[@]}" -d "$1" -o /dev/null <<'SQL'
CREATE TABLE pinned_before AS
SELECT 'sink' AS kind, page_id, sha256 FROM auditlog.next_page('upgrade', 3);
SQL
  "${psql[@]}" -d "$1" -o /dev/null <<'SQL'
SELECT auditlog.start_backfill('upgrade', auditlog.utc_day(now()), auditlog.settled_horizon());
SELECT auditlog.request_export('audit', auditlog.utc_day(now()), auditlog.settled_horizon(),
                               tenant_id => 'upgrade-acme', requested_by => 'upgrade', format => 'csv');
CREATE TABLE upgrade_claim AS SELECT job_id, lease_token FROM auditlog.claim_export('upgrade');
SQL
  "${psql[@]}" -d "$1" -o /dev/null -c "INSERT INTO pinned_before SELECT 'backfill', page_id, sha256 FROM auditlog.backfill_next_page((SELECT max(backfill_id) FROM auditlog.backfill), 2)"
  "${psql[@]}" -d "$1" -o /dev/null -c "INSERT INTO pinned_before SELECT 'export job', page_id, sha256 FROM upgrade_claim c, auditlog.export_next_page(c.job_id, c.lease_token, 2)"
}

pinned_again() {
  "${psql[@]}" -d "$1" -At -c "SELECT 'sink', page_id, sha256 FROM auditlog.next_page('upgrade', 3)"
  "${psql[@]}" -d "$1" -At -c "SELECT 'backfill', page_id, sha256 FROM auditlog.backfill_next_page((SELECT max(backfill_id) FROM auditlog.backfill), 2)"
  "${psql[@]}" -d "$1" -At -c "SELECT 'export job', page_id, sha256 FROM upgrade_claim c, auditlog.export_next_page(c.job_id, c.lease_token, 2)"
}

# After the upgrade, each of them acknowledged and its owner paged to the
# end: every entry it owes exported once, none twice, none missing. Prints
# "kind|exported|distinct|owed" a line.
drain() {
  "${psql[@]}" -d "$1" -At <<'SQL'
SET client_min_messages = warning;
CREATE TEMP TABLE exported (kind text, id text);
DO $$
DECLARE
  p record;
  b bigint := (SELECT max(backfill_id) FROM auditlog.backfill);
  job bigint := (SELECT c.job_id FROM upgrade_claim c);
  token uuid := (SELECT c.lease_token FROM upgrade_claim c);
BEGIN
  LOOP
    SELECT * INTO p FROM auditlog.next_page('upgrade', 3);
    EXIT WHEN NOT FOUND;
    INSERT INTO exported SELECT 'sink', l::json->>'id' FROM regexp_split_to_table(rtrim(p.body, E'\n'), E'\n') l;
    PERFORM auditlog.ack('upgrade', p.page_id);
  END LOOP;
  LOOP
    SELECT * INTO p FROM auditlog.backfill_next_page(b, 2);
    EXIT WHEN NOT FOUND;
    INSERT INTO exported SELECT 'backfill', l::json->>'id' FROM regexp_split_to_table(rtrim(p.body, E'\n'), E'\n') l;
    PERFORM auditlog.backfill_ack(b, p.page_id);
  END LOOP;
  LOOP
    SELECT * INTO p FROM auditlog.export_next_page(job, token, 2);
    INSERT INTO exported SELECT 'export job', split_part(l, ',', 1)
    FROM regexp_split_to_table(rtrim(p.body, E'\n'), E'\n') l WHERE l <> '' AND l <> auditlog.csv_header();
    PERFORM auditlog.ack_export_page(job, token, p.page_id);
    EXIT WHEN p.final;
  END LOOP;
END
$$;
WITH owed(kind, n) AS (
  SELECT 'sink', count(*) FROM auditlog.entry WHERE operation LIKE 'upgrade.page.%'
  UNION ALL
  SELECT 'backfill', count(*) FROM auditlog.entry e, auditlog.backfill b
  WHERE b.backfill_id = (SELECT max(backfill_id) FROM auditlog.backfill) AND e.logged_at >= b.range_start AND e.logged_at < b.range_end
  UNION ALL
  SELECT 'export job', count(*) FROM auditlog.entry e, auditlog.export_job j, upgrade_claim c
  WHERE j.job_id = c.job_id AND e.stream = j.stream AND e.tenant_id = j.tenant_id AND e.logged_at >= j.range_start AND e.logged_at < j.range_end)
SELECT o.kind, count(x.id), count(DISTINCT x.id), o.n FROM owed o LEFT JOIN exported x ON x.kind = o.kind
GROUP BY o.kind, o.n ORDER BY o.kind;
SQL
}

# What an installed extension consists of, one line an object, sorted.
describe() {
  "${psql[@]}" -At -d "$1" <<'SQL'
SELECT line FROM (
  SELECT format('function %s returns %s %s%s%s config=%s acl=%s src=%s comment=%s',
                p.oid::regprocedure, pg_get_function_result(p.oid), p.provolatile, p.prokind,
                CASE WHEN p.prosecdef THEN ' security definer' ELSE '' END, p.proconfig, p.proacl,
                md5(p.prosrc), obj_description(p.oid, 'pg_proc')) AS line
  FROM pg_proc p WHERE p.pronamespace IN ('auditlog'::regnamespace, 'auditlog_internal'::regnamespace)
  UNION ALL
  SELECT format('schema %s acl=%s comment=%s', n.nspname, n.nspacl, obj_description(n.oid, 'pg_namespace'))
  FROM pg_namespace n WHERE n.nspname IN ('auditlog', 'auditlog_internal')
  UNION ALL
  SELECT format('relation %s kind=%s acl=%s comment=%s', c.relname, c.relkind, c.relacl, obj_description(c.oid, 'pg_class'))
  FROM pg_class c WHERE c.relnamespace = 'auditlog'::regnamespace AND c.relname !~ '^entry_p\d{8}'
  UNION ALL
  SELECT format('column %s.%s %s notnull=%s default=%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE c.relnamespace = 'auditlog'::regnamespace AND c.relname !~ '^entry_p\d{8}' AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT format('index %s', pg_get_indexdef(i.indexrelid))
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
  WHERE c.relnamespace = 'auditlog'::regnamespace AND c.relname !~ '^entry_p\d{8}'
  UNION ALL
  SELECT format('constraint %s.%s %s', c.relname, k.conname, pg_get_constraintdef(k.oid))
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
  WHERE c.relnamespace = 'auditlog'::regnamespace AND c.relname !~ '^entry_p\d{8}'
  UNION ALL
  SELECT format('trigger %s', pg_get_triggerdef(t.oid))
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
  WHERE c.relnamespace = 'auditlog'::regnamespace AND c.relname !~ '^entry_p\d{8}' AND NOT t.tgisinternal
  UNION ALL
  SELECT format('view %s %s', c.relname, md5(pg_get_viewdef(c.oid)))
  FROM pg_class c WHERE c.relnamespace = 'auditlog'::regnamespace AND c.relkind = 'v'
  UNION ALL
  SELECT format('type %s %s', t.typname, t.typtype)
  FROM pg_type t WHERE t.typnamespace = 'auditlog'::regnamespace AND t.typtype IN ('e', 'c', 'd')
    AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
  UNION ALL
  SELECT format('enum %s %s', t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder))
  FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typnamespace = 'auditlog'::regnamespace
  GROUP BY t.typname
  UNION ALL
  SELECT format('config dump %s %s', c.relname, x.condition)
  FROM pg_extension ext, unnest(ext.extconfig, ext.extcondition) AS x(oid, condition) JOIN pg_class c ON c.oid = x.oid
  WHERE ext.extname = 'auditlog'
) AS described ORDER BY line;
SQL
}

"${psql[@]}" -d postgres -c 'SET client_min_messages = warning' -c 'DROP DATABASE IF EXISTS upgrade_fresh' \
  -c 'CREATE DATABASE upgrade_fresh'
"${psql[@]}" -d upgrade_fresh -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION auditlog'
describe upgrade_fresh > "$fresh"

releases=$(ls "$(dirname "$0")"/../../sql/releases/ | sed -n 's/^auditlog--\(.*\)\.sql$/\1/p' | sort -V)
[ -n "$releases" ] || { echo "no earlier release to upgrade from"; exit 1; }
for release in $releases; do
  "${psql[@]}" -d postgres -c 'SET client_min_messages = warning' -c 'DROP DATABASE IF EXISTS upgrade_old' \
    -c 'CREATE DATABASE upgrade_old'
  "${psql[@]}" -o /dev/null -d upgrade_old -c 'SET client_min_messages = warning' \
    -c "CREATE EXTENSION auditlog VERSION '$release'" -c 'SELECT auditlog.ensure_partitions(1)' \
    -c "SELECT auditlog.record(operation => 'upgrade.before')"
  pin_pages upgrade_old
  "${psql[@]}" -d upgrade_old -c "ALTER EXTENSION auditlog UPDATE TO '$current'"
  describe upgrade_old > "$upgraded"
  if ! diff -u --label "fresh $current" --label "$release upgraded" "$fresh" "$upgraded"; then
    echo "upgrade from $release to $current differs from a fresh install (above)"
    exit 1
  fi
  kept=$("${psql[@]}" -At -d upgrade_old -c "SELECT count(*) FROM auditlog.entry WHERE operation = 'upgrade.before'")
  [ "$kept" = 1 ] || { echo "upgrade from $release lost the entry written before it"; exit 1; }
  before=$("${psql[@]}" -d upgrade_old -At -c "SELECT kind, page_id, sha256 FROM pinned_before ORDER BY 1")
  after=$(pinned_again upgrade_old | sort)
  if [ "$before" != "$after" ] || [ "$(echo "$before" | wc -l)" != 3 ]; then
    printf 'pages in flight before the upgrade from %s:\n%s\nafter it:\n%s\n' "$release" "$before" "$after"
    echo "upgrade from $release did not hand out its pages in flight again, identical"
    exit 1
  fi
  drained=$(drain upgrade_old)
  if echo "$drained" | awk -F'|' '$2 != $3 || $3 != $4 || $4 == 0 { bad = 1 } END { exit !(bad || NR != 3) }'; then
    printf 'after the upgrade from %s, kind|exported|distinct|owed:\n%s\n' "$release" "$drained"
    echo "upgrade from $release: its pages in flight and what followed were not exported exactly once"
    exit 1
  fi
  echo "upgrade $release -> $current: same as a fresh install ($(wc -l < "$fresh") objects compared), entries kept;" \
    "pages in flight handed out again, identical, and each owner's entries exported once ($(echo "$drained" | tr '\n' ' '))"
done
"${psql[@]}" -d postgres -c 'DROP DATABASE upgrade_old' -c 'DROP DATABASE upgrade_fresh'
