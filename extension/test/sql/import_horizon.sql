\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- Imports never move the settled horizon backwards, and an abandoned span
-- does not hold it forever.
CREATE FUNCTION pg_temp.attempt(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE statement;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(regexp_replace(SQLERRM, '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00', '<time>', 'g'),
                                            'span \d+', 'span N');
END
$$;
SET client_min_messages = warning;
SELECT auditlog.ensure_partitions() >= 0 AS partitions_made;
-- Yesterday too: the windows below reach 10 minutes back, into yesterday
-- just after midnight UTC.
SELECT auditlog_internal.attach_day(auditlog.utc_day(now()) - interval '1 day') AS yesterday_made;
RESET client_min_messages;
SELECT auditlog.record(operation => 'horizon.before') IS NOT NULL AS recorded;
SELECT auditlog.tick() IS NOT NULL AS ticked;
SELECT auditlog.settled_horizon() AS h \gset
SELECT count(*) AS listed FROM auditlog.list(NULL, :'h'::timestamptz - interval '1 hour', :'h', max_rows => 100000) \gset
-- A span starting before a horizon handed out is refused, and the window
-- read up to it stays as it was.
\set VERBOSITY terse
SELECT auditlog.import_begin(:'h'::timestamptz - interval '1 minute', :'h') AS below_horizon;
\set VERBOSITY default
SELECT auditlog.settled_horizon() >= :'h' AS horizon_kept,
       (SELECT count(*) FROM auditlog.list(NULL, :'h'::timestamptz - interval '1 hour', :'h', max_rows => 100000)) = :listed AS same_rows;

-- Even forced, a span overlapping a running backfill or an unfinished export
-- job is refused (their pages are pinned).
SELECT auditlog.create_sink('horizon_sink', 'file:///srv/horizon') AS created;
SELECT auditlog.start_backfill('horizon_sink', :'h'::timestamptz - interval '10 minutes', :'h') AS backfill \gset
\set VERBOSITY terse
SELECT auditlog.import_begin(:'h'::timestamptz - interval '5 minutes', :'h', force => true) AS over_backfill;
\set VERBOSITY default
SELECT auditlog.cancel_backfill(:backfill) AS cancelled;
SELECT auditlog.request_export('audit', :'h'::timestamptz - interval '10 minutes', :'h', NULL, 'alice', 'csv') AS job \gset
\set VERBOSITY terse
SELECT auditlog.import_begin(:'h'::timestamptz - interval '5 minutes', :'h', force => true) AS over_export_job;
\set VERBOSITY default
SELECT auditlog.cancel_export(:job) AS cancelled;
SELECT count(*) AS spans_made FROM auditlog.import_span WHERE range_end = :'h';
SELECT auditlog.drop_sink('horizon_sink');

-- An importer that registers a span and goes away: once its session has
-- ended, the next tick marks its span abandoned and the horizon moves on;
-- until then its span holds the horizon. The importer is this session, until
-- \connect replaces it with a new one. (A span whose lock another session
-- holds is kept: specs/import_sweep.spec.)
SELECT pg_sleep(0.01);
SELECT clock_timestamp() AS t \gset
SELECT pg_sleep(0.01);
SELECT auditlog.import_begin(:'t', :'t') AS span \gset
SELECT auditlog.tick() IS NOT NULL AS ticked;
SELECT status FROM auditlog.import_span WHERE span_id = :span;
SELECT auditlog.settled_horizon() <= :'t' AS horizon_held,
       open_imports, oldest_open_import_start = :'t' AS oldest_is_it, open_import_abandoned
FROM auditlog.health;
\connect
-- (The server ends the importer's backend a moment after it disconnects.)
SELECT set_config('test.span', :'span', false) IS NOT NULL AS set;
DO $$
BEGIN
  FOR i IN 1..200 LOOP
    EXIT WHEN NOT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND classid = auditlog_internal.import_lock_class()::oid
                          AND objid = current_setting('test.span')::oid AND granted);
    PERFORM pg_sleep(0.05);
  END LOOP;
END
$$;
SELECT open_imports, open_import_abandoned FROM auditlog.health;
SET client_min_messages = error;  -- the warning names the span and its times
SELECT auditlog.tick() IS NOT NULL AS ticked;
RESET client_min_messages;
SELECT status, abandoned_at IS NOT NULL AS abandoned_at_set FROM auditlog.import_span WHERE span_id = :span;
SELECT auditlog.settled_horizon() > :'t' AS horizon_moved_on, open_imports FROM auditlog.health;
-- Nothing is written into an abandoned span.
\set VERBOSITY sqlstate
SELECT auditlog.import_rows(:span, 'pg_class') AS write_abandoned;
\set VERBOSITY default

-- This session's own open span is never swept by its own tick.
SELECT pg_sleep(0.01);
SELECT clock_timestamp() AS t3 \gset
SELECT pg_sleep(0.01);
SELECT auditlog.import_begin(:'t3', :'t3') AS own \gset
SELECT auditlog.tick() IS NOT NULL AS ticked;
SELECT status FROM auditlog.import_span WHERE span_id = :own;
SELECT open_imports, open_import_abandoned FROM auditlog.health;
SELECT auditlog.import_abandon(:own) AS abandoned;
SELECT count(*) AS import_locks_held FROM pg_locks
WHERE locktype = 'advisory' AND classid = auditlog_internal.import_lock_class()::oid AND pid = pg_backend_pid();
