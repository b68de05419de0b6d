\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- Page queries touch only the partitions that can hold their rows and find
-- them through the writer_xid index: their cost does not grow with the log.
SET client_min_messages = warning;
-- Ten past days of history (written here by the superuser) and a busy today.
INSERT INTO auditlog.entry (id, logged_at, started_at, operation, result, writer_xid)
SELECT gen_random_uuid(), now() - make_interval(days => d, mins => m), now() - make_interval(days => d, mins => m),
       'history', 'success', pg_current_xact_id()
FROM generate_series(1, 10) AS d, generate_series(1, 500) AS m;
SELECT auditlog.ensure_partitions() >= 10 AS made;
SELECT count(auditlog.record(operation => 'busy.today')) FROM generate_series(1, 20000);
RESET client_min_messages;
ANALYZE auditlog.entry;

SELECT auditlog.create_sink('explain', 'file:///srv/explain') AS created;
SELECT count(auditlog.record(operation => 'in.batch')) FROM generate_series(1, 10);
SELECT auditlog.tick() AS hi \gset
SELECT cursor_tick AS lo FROM auditlog.sink_state WHERE sink = 'explain' \gset

CREATE FUNCTION pg_temp.plan(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || query;
END
$$;
CREATE FUNCTION pg_temp.plan_summary(query text)
RETURNS TABLE (partitions_scanned bigint, only_today_or_later boolean, today_through_index boolean)
LANGUAGE sql AS $$
  WITH lines AS (SELECT line FROM pg_temp.plan(query) AS line),
       scanned AS (SELECT DISTINCT m[1] AS relname FROM lines, regexp_matches(line, ' on (entry_p\d+|entry_default)\M', 'g') AS m),
       today AS (SELECT partition_name FROM auditlog.partitions WHERE range_start = auditlog.utc_day(now()))
  SELECT (SELECT count(*) FROM scanned),
         (SELECT bool_and(p.range_start >= auditlog.utc_day(now())) FROM scanned s JOIN auditlog.partitions p ON p.partition_name = s.relname),
         (SELECT bool_or(line ~ ('Index.*' || t.partition_name || '_writer_xid'))
                 AND NOT bool_or(line ~ ('Seq Scan on ' || t.partition_name || '\M'))
          FROM lines, today t)
$$;

-- The query that finds the next page's stream and day: only today and the
-- days made ahead (empty), today's through the writer_xid index.
SELECT only_today_or_later, today_through_index FROM pg_temp.plan_summary(format(
  'SELECT e.stream, e.logged_at FROM auditlog.entry e WHERE %s ORDER BY e.stream, e.logged_at, e.id LIMIT 1',
  auditlog_internal.batch_condition(:lo, :hi)));

-- The page query itself: one partition, today's.
SELECT * FROM pg_temp.plan_summary(auditlog_internal.page_query(
  jsonb_populate_record(NULL::auditlog.page, jsonb_build_object('sink', 'explain', 'stream', 'audit', 'lo_tick', :lo, 'hi_tick', :hi)),
  NULL, NULL, auditlog.utc_day(now()), auditlog.utc_day(now()) + interval '1 day', 10000));

-- And the page is right.
SELECT rows, stream FROM auditlog.next_page('explain');
SELECT auditlog.drop_sink('explain');
