\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- import: history with its own ids and times, exported exactly once by sinks
-- enabled before it committed, never changing a window declared stable.
-- A log that has been running: its days from two days ago to tomorrow.
SELECT auditlog.ensure_partitions(1) AS made;
SELECT auditlog_internal.attach_day(auditlog.utc_day(now()) - interval '2 days')
       AND auditlog_internal.attach_day(auditlog.utc_day(now()) - interval '1 day') AS made_past_days;
SELECT auditlog.create_sink('importer', 'file:///srv/import') AS created;
CREATE TEMP TABLE legacy AS
SELECT ('01890000-0000-7000-9000-' || lpad(n::text, 12, '0'))::uuid AS id, 'audit' AS stream,
       auditlog.utc_day(now()) - interval '2 days' + make_interval(hours => n) AS logged_at,
       auditlog.utc_day(now()) - interval '2 days' + make_interval(hours => n) - interval '1 second' AS started_at,
       'legacy.op' AS operation, 'user' AS actor_type, 'u-' || n AS actor_id, 'acme' AS tenant_id,
       NULL::text AS resource_type, NULL::text AS resource_id, NULL::text AS request_id, NULL::text AS request_uri,
       '198.51.100.1'::inet AS source_ip, NULL::text AS user_agent, NULL::text AS auth_method, NULL::text AS credential_id,
       'success'::auditlog.result AS result, 200 AS http_status, NULL::text AS error_code, NULL::text AS error_message,
       jsonb_build_object('legacy', true) AS details
FROM generate_series(1, 30) AS n;

-- Ticks were taken already (this log has been read): a span before them is
-- refused, unless forced, which the log records.
\set VERBOSITY terse
SELECT auditlog.import_begin(auditlog.utc_day(now()) - interval '2 days', now() - interval '1 hour');
\set VERBOSITY default
SET client_min_messages = error;
SELECT auditlog.import_begin(auditlog.utc_day(now()) - interval '2 days', now() - interval '1 hour', force => true) AS span \gset
RESET client_min_messages;
SELECT operation, resource_type FROM auditlog.entry WHERE operation = 'auditlog.import.forced';

-- While the span is open, the settled horizon stops at its start.
SELECT auditlog.tick() IS NOT NULL AS ticked;
SELECT auditlog.settled_horizon() = auditlog.utc_day(now()) - interval '2 days' AS horizon_at_span_start;
SELECT held_by FROM auditlog.purge_preview('1 hour') WHERE held_by LIKE 'import%' LIMIT 1;

-- Rows outside the span are refused.
\set VERBOSITY terse
CREATE TEMP VIEW too_old AS SELECT id, stream, logged_at - interval '3 days' AS logged_at, started_at - interval '3 days' AS started_at, operation, actor_type,
  actor_id, tenant_id, resource_type, resource_id, request_id, request_uri, source_ip, user_agent, auth_method,
  credential_id, result, http_status, error_code, error_message, details FROM legacy;
CREATE FUNCTION pg_temp.attempt(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE statement;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00', '<time>', 'g');
END
$$;
SELECT pg_temp.attempt(format('SELECT auditlog.import_rows(%s, %L)', :span, 'too_old')) AS too_old;
\set VERBOSITY default

BEGIN;
SELECT auditlog.import_rows(:span, 'legacy') AS imported;
COMMIT;
SELECT status, rows, writer_xid IS NOT NULL AS has_xid FROM auditlog.import_span WHERE span_id = :span;
SELECT count(*) AS imported, bool_and(e.logged_at = l.logged_at AND e.started_at = l.started_at) AS original_times
FROM auditlog.entry e JOIN legacy l USING (id);

-- The sink, enabled before the import committed, exports every imported row
-- once, though their times lie in the past.
CREATE TEMP TABLE imported_pages AS SELECT * FROM auditlog.next_page('importer') WITH NO DATA;
DO $$
DECLARE p auditlog.page_out;
BEGIN
  LOOP
    SELECT * INTO p FROM auditlog.next_page('importer');
    EXIT WHEN NOT FOUND;
    INSERT INTO imported_pages SELECT p.*;
    PERFORM auditlog.ack('importer', p.page_id);
  END LOOP;
END
$$;
SELECT count(*) FILTER (WHERE l::json->>'operation' = 'legacy.op') AS legacy_exported,
       count(DISTINCT l::json->>'id') FILTER (WHERE l::json->>'operation' = 'legacy.op') AS distinct_legacy
FROM imported_pages, regexp_split_to_table(rtrim(body, E'\n'), E'\n') AS l;
SELECT count(DISTINCT day) AS days FROM imported_pages WHERE stream = 'audit' AND day < (now() AT TIME ZONE 'UTC')::date;

-- An abandoned span frees the horizon.
SELECT auditlog.import_begin(now() - interval '3 hours', now() - interval '2 hours', force => true) AS span2 \gset
SELECT auditlog.import_abandon(:span2) AS abandoned, auditlog.import_abandon(:span2) AS abandoned_again;
SELECT auditlog.tick() IS NOT NULL AS ticked;
SELECT auditlog.settled_horizon() > now() - interval '1 minute' AS horizon_free;

\set VERBOSITY terse
SELECT auditlog.import_begin(now(), now() - interval '1 day');
SELECT auditlog.import_begin(now() - interval '1 hour', now() + interval '1 hour');
SELECT auditlog.import_begin(now() - interval '200 days', now() - interval '199 days');
SELECT auditlog.import_rows(-1, 'legacy');
SELECT auditlog.import_rows(:span, 'legacy');
BEGIN;
SELECT auditlog.import_begin(now() - interval '2 hours', now() - interval '1 hour');
ROLLBACK;
\set VERBOSITY default
SELECT auditlog.drop_sink('importer');

-- The one-call procedure: span, commit, rows, commit.
CREATE TABLE legacy_more AS
SELECT ('01890000-0000-7000-9001-' || lpad(n::text, 12, '0'))::uuid AS id, 'audit' AS stream,
       now() - interval '3 hours' + make_interval(mins => n) AS logged_at,
       now() - interval '3 hours' + make_interval(mins => n) AS started_at,
       'legacy.more' AS operation, NULL::text AS actor_type, NULL::text AS actor_id, NULL::text AS tenant_id,
       NULL::text AS resource_type, NULL::text AS resource_id, NULL::text AS request_id, NULL::text AS request_uri,
       NULL::inet AS source_ip, NULL::text AS user_agent, NULL::text AS auth_method, NULL::text AS credential_id,
       'error'::auditlog.result AS result, 500 AS http_status, 'E1' AS error_code, NULL::text AS error_message,
       NULL::jsonb AS details
FROM generate_series(1, 5) AS n;
SET client_min_messages = error;
CALL auditlog.import('legacy_more', force => true);
RESET client_min_messages;
SELECT count(*) AS imported FROM auditlog.entry WHERE operation = 'legacy.more';
SELECT status, rows FROM auditlog.import_span ORDER BY span_id DESC LIMIT 1;
\set VERBOSITY terse
BEGIN;
CALL auditlog.import('legacy_more', force => true);
ROLLBACK;
\set VERBOSITY default
DROP TABLE legacy_more;
