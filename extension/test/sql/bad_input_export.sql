\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- Bad input to the export, backfill, job, import and retention functions: a
-- clear error with a specific SQLSTATE, and nothing changes. Names and URLs
-- with quotes and semicolons are refused, never run.
SET client_min_messages = warning;
SELECT auditlog.create_sink('bi-sink', 'file:///tmp/bad-input');
RESET client_min_messages;
CREATE FUNCTION pg_temp.try(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE statement;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
CREATE FUNCTION pg_temp.fingerprint() RETURNS text LANGUAGE sql AS $$
  SELECT concat_ws(' ', (SELECT count(*) FROM auditlog.sink), (SELECT count(*) FROM auditlog.sink_state),
                   (SELECT count(*) FROM auditlog.page), (SELECT count(*) FROM auditlog.backfill),
                   (SELECT count(*) FROM auditlog.export_job), (SELECT count(*) FROM auditlog.import_span),
                   (SELECT count(*) FROM auditlog.entry), (SELECT count(*) FROM auditlog.partitions),
                   (SELECT string_agg(name || enabled, ',' ORDER BY name) FROM auditlog.sink))
$$;
SELECT pg_temp.fingerprint() AS before \gset

SELECT statement, pg_temp.try(statement) AS outcome FROM (VALUES
  ($$SELECT auditlog.create_sink(NULL, 'file:///tmp/x')$$),
  ($$SELECT auditlog.create_sink('', 'file:///tmp/x')$$),
  ($$SELECT auditlog.create_sink('a''; DROP TABLE auditlog.entry; --', 'file:///tmp/x')$$),
  ($$SELECT auditlog.create_sink('Upper', 'file:///tmp/x')$$),
  ($$SELECT auditlog.create_sink(repeat('n', 64), 'file:///tmp/x')$$),
  ($$SELECT auditlog.create_sink('ok-name', NULL)$$),
  ($$SELECT auditlog.create_sink('ok-name', '')$$),
  ($$SELECT auditlog.create_sink('ok-name', 'http://example.com/')$$),
  ($$SELECT auditlog.create_sink('ok-name', 'file://relative/path')$$),
  ($$SELECT auditlog.create_sink('ok-name', 's3://x''; DROP SCHEMA auditlog; --')$$),
  ($$SELECT auditlog.create_sink('ok-name', 's3://ab/prefix')$$),
  ($$SELECT auditlog.create_sink('ok-name', 'file:///tmp/x', stream => 'Bad Stream')$$),
  ($$SELECT auditlog.create_sink('ok-name', 'file:///tmp/x', tenant_id => '')$$),
  ($$SELECT auditlog.create_sink('ok-name', 'file:///tmp/x', format => 'xml')$$),
  ($$SELECT auditlog.create_sink('bi-sink', 'file:///tmp/x')$$),
  ($$SELECT auditlog.enable_sink('nope')$$),
  ($$SELECT auditlog.enable_sink(NULL)$$),
  ($$SELECT auditlog.drop_sink('nope')$$),
  ($$SELECT auditlog.drop_sink('bi-sink''; --')$$),
  ($$SELECT auditlog.start_backfill('bi-sink', 'infinity', '-infinity')$$),
  ($$SELECT auditlog.start_backfill('bi-sink', '-infinity', now() - interval '1 day')$$),
  ($$SELECT auditlog.start_backfill('bi-sink', now() - interval '1 day', 'infinity')$$),
  ($$SELECT auditlog.start_backfill('bi-sink', now() - interval '1 day', now() - interval '2 days')$$),
  ($$SELECT auditlog.start_backfill('bi-sink', now() - interval '1 day', now() - interval '1 day')$$),
  ($$SELECT auditlog.start_backfill('bi-sink', NULL, now())$$),
  ($$SELECT auditlog.start_backfill('nope', now() - interval '2 days', now() - interval '1 day')$$),
  ($$SELECT auditlog.cancel_backfill(-1)$$),
  ($$SELECT auditlog.cancel_backfill(NULL)$$),
  ($$SELECT auditlog.backfill_gap('nope')$$),
  ($$SELECT auditlog.waive_gaps(NULL)$$),
  ($$SELECT auditlog.request_export('audit', 'infinity', '-infinity', requested_by => 'x')$$),
  ($$SELECT auditlog.request_export('audit', '-infinity', now() - interval '1 day', requested_by => 'x')$$),
  ($$SELECT auditlog.request_export('audit', now() - interval '2 days', 'infinity', requested_by => 'x')$$),
  ($$SELECT auditlog.request_export('audit', now() - interval '1 day', now() - interval '2 days', requested_by => 'x')$$),
  ($$SELECT auditlog.request_export('audit', NULL, now() - interval '2 days', requested_by => 'x')$$),
  ($$SELECT auditlog.request_export(NULL, now() - interval '2 days', now() - interval '1 day', requested_by => 'x')$$),
  ($$SELECT auditlog.request_export('a;b', now() - interval '2 days', now() - interval '1 day', requested_by => 'x')$$),
  ($$SELECT auditlog.claim_export(NULL)$$),
  ($$SELECT auditlog.claim_export(' ')$$),
  ($$SELECT auditlog.claim_export('w', '-1 minute')$$),
  ($$SELECT auditlog.claim_export('w', NULL)$$),
  ($$SELECT auditlog.claim_export('w', '10 days')$$),
  ($$SELECT auditlog.heartbeat_export(-1, gen_random_uuid())$$),
  ($$SELECT auditlog.heartbeat_export(NULL, NULL)$$),
  ($$SELECT auditlog.finish_export(-1, gen_random_uuid(), 'x', 1, 'y')$$),
  ($$SELECT auditlog.fail_export(-1, gen_random_uuid(), 'x')$$),
  ($$SELECT auditlog.cancel_export(NULL)$$),
  ($$SELECT count(*) FROM auditlog.list('audit', 'infinity', '-infinity')$$),
  ($$SELECT count(*) FROM auditlog.list('audit', now(), now() - interval '1 day')$$),
  ($$SELECT count(*) FROM auditlog.list('audit', now() - interval '1 day', now(), max_rows => -1)$$),
  ($$SELECT count(*) FROM auditlog.list('audit', now() - interval '1 day', now(), max_rows => 10000000)$$),
  ($$SELECT count(*) FROM auditlog.list('audit', now() - interval '1 day', now(), after_logged_at => now())$$),
  ($$SELECT count(*) FROM auditlog.list('audit', NULL, NULL)$$),
  ($$SELECT auditlog.import_rows(-1, 'pg_class')$$),
  ($$SELECT auditlog.import_rows(NULL, NULL)$$),
  ($$SELECT auditlog.import_abandon(-1)$$),
  ($$SELECT auditlog.purge('-1 day')$$),
  ($$SELECT auditlog.purge(NULL)$$),
  ($$SELECT auditlog.purge('0')$$),
  ($$SELECT auditlog.purge(force => NULL)$$),
  ($$SELECT count(*) FROM auditlog.purge_preview('-1 day')$$),
  ($$SELECT count(*) FROM auditlog.purge_preview(NULL)$$)
) AS t(statement);

-- These run as their own transaction, so they are tried outside one; each
-- error is followed by its SQLSTATE.
\set VERBOSITY terse
SELECT auditlog.next_page('nope');
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.next_page(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.next_page('bi-sink', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.next_page('bi-sink', 100001);
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.next_page('bi-sink', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.ack('bi-sink', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.ack('bi-sink', 'not-a-uuid');
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.ack('bi-sink', '01890000-0000-7000-8000-000000000000');
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.ack('nope', '01890000-0000-7000-8000-000000000000');
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.disable_sink('nope');
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.disable_sink(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.backfill_next_page(-1);
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.backfill_ack(-1, '01890000-0000-7000-8000-000000000000');
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.export_next_page(-1, '01890000-0000-7000-8000-000000000000');
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.ack_export_page(-1, '01890000-0000-7000-8000-000000000000', '01890000-0000-7000-8000-000000000000');
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.import_begin('infinity', '-infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.import_begin(NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.import_begin('-infinity', '2000-01-01');
\echo :LAST_ERROR_SQLSTATE
SELECT auditlog.import_begin(now() + interval '1 day', now() + interval '2 days');
\echo :LAST_ERROR_SQLSTATE
CALL auditlog.import('no_such_table');
\echo :LAST_ERROR_SQLSTATE
CALL auditlog.import(NULL);
\echo :LAST_ERROR_SQLSTATE
CALL auditlog.import('pg_class; DROP TABLE auditlog.entry');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default

-- Nothing changed.
SELECT pg_temp.fingerprint() = :'before' AS unchanged;
SET client_min_messages = warning;
SELECT auditlog.drop_sink('bi-sink');
