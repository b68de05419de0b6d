\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- Imported rows pass the checks record() applies to its arguments, and what
-- only an import can get wrong; the first bad row refuses the whole import,
-- naming the row and the rule, and nothing is written. The stream 'auditlog'
-- is the extension's own.
CREATE FUNCTION pg_temp.attempt(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE statement;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00', '<time>', 'g');
END
$$;
SELECT auditlog.tick() IS NOT NULL AS ticked;
SELECT pg_sleep(0.01);
SELECT clock_timestamp() AS t \gset
SELECT pg_sleep(0.01);
SELECT auditlog.import_begin(:'t', :'t'::timestamptz + interval '5 milliseconds') AS span \gset
CREATE TEMP TABLE good AS
SELECT ('01890000-0000-7000-9200-' || lpad(n::text, 12, '0'))::uuid AS id, 'audit' AS stream,
       :'t'::timestamptz AS logged_at, :'t'::timestamptz AS started_at,
       'checked.op' AS operation, NULL::text AS actor_type, NULL::text AS actor_id, NULL::text AS tenant_id,
       NULL::text AS resource_type, NULL::text AS resource_id, NULL::text AS request_id, NULL::text AS request_uri,
       NULL::inet AS source_ip, NULL::text AS user_agent, NULL::text AS auth_method, NULL::text AS credential_id,
       'success'::auditlog.result AS result, 200 AS http_status, NULL::text AS error_code, NULL::text AS error_message,
       '{}'::jsonb AS details
FROM generate_series(1, 3) AS n;

-- Each bad source: the good rows, with row 2 changed.
CREATE FUNCTION pg_temp.try_row_2(change text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  DROP TABLE IF EXISTS bad;
  CREATE TEMP TABLE bad AS SELECT * FROM good ORDER BY id;
  EXECUTE format('UPDATE bad SET %s WHERE id = %L', change, '01890000-0000-7000-9200-000000000002');
  RETURN pg_temp.attempt(format('SELECT auditlog.import_rows(%s, %L)', current_setting('test.span'), 'bad'));
END
$$;
SELECT set_config('test.span', :'span', false) IS NOT NULL AS set;
SELECT change, pg_temp.try_row_2(change) AS refused FROM (VALUES
  ($$started_at = 'infinity'$$),
  ($$logged_at = '-infinity'$$),
  ($$logged_at = NULL$$),
  ($$started_at = logged_at + interval '1 millisecond'$$),
  ($$logged_at = logged_at + interval '1 day', started_at = started_at + interval '1 day'$$),
  ($$stream = ''$$),
  ($$stream = '..'$$),
  ($$stream = 'Audit'$$),
  ($$stream = NULL$$),
  ($$stream = 'auditlog'$$),
  ($$operation = ' '$$),
  ($$operation = NULL$$),
  ($$id = NULL$$),
  ($$result = NULL$$),
  ($$http_status = 42$$),
  ($$details = '[1]'$$),
  ($$details = '"x"'$$),
  ($$user_agent = repeat('x', 200000)$$),
  ($$details = jsonb_build_object('blob', repeat('x', 70000))$$),
  ($$id = '01890000-0000-7000-9200-000000000001'$$)) AS c(change);
-- The first bad row is named, not a later one.
DROP TABLE bad;
CREATE TEMP TABLE bad AS SELECT * FROM good ORDER BY id;
UPDATE bad SET stream = '..' WHERE id = '01890000-0000-7000-9200-000000000003';
UPDATE bad SET http_status = 700 WHERE id = '01890000-0000-7000-9200-000000000002';
SELECT pg_temp.attempt(format('SELECT auditlog.import_rows(%s, %L)', :span, 'bad')) AS first_bad_row;
-- The whole error, detail and hint, once.
\set SHOW_CONTEXT never
SELECT auditlog.import_rows(:span, 'bad');
\set SHOW_CONTEXT errors
-- Nothing was written or left staged; the span is still open.
SELECT count(*) AS written FROM auditlog.entry WHERE operation = 'checked.op';
SELECT count(*) AS staged FROM auditlog.import_stage;
SELECT status FROM auditlog.import_span WHERE span_id = :span;

-- History may hold timed-out entries; the good rows and those go in.
UPDATE good SET result = 'timeout' WHERE id = '01890000-0000-7000-9200-000000000003';
SELECT auditlog.import_rows(:span, 'good') AS imported;
-- A key already in the log is refused.
SELECT auditlog.tick() IS NOT NULL AS ticked;
SELECT auditlog.import_begin(:'t', :'t'::timestamptz + interval '5 milliseconds', force => true) AS span2 \gset
SELECT pg_temp.attempt(format('SELECT auditlog.import_rows(%s, %L)', :span2, 'good')) AS again;
SELECT auditlog.import_abandon(:span2) AS abandoned;
SELECT count(*) AS written, count(*) FILTER (WHERE result = 'timeout') AS timed_out
FROM auditlog.entry WHERE operation = 'checked.op';

-- Writers cannot log to the extension's own stream; its own records still go there.
SET client_min_messages = warning;
DROP ROLE IF EXISTS ic_writer;
RESET client_min_messages;
CREATE ROLE ic_writer IN ROLE auditlog_writer;
SET ROLE ic_writer;
SELECT pg_temp.attempt($$SELECT auditlog.record(operation => 'forged.purge', stream => 'auditlog')$$) AS record_reserved;
SELECT pg_temp.attempt($$SELECT auditlog.begin(operation => 'forged.purge', stream => 'auditlog')$$) AS begin_reserved;
SELECT pg_temp.attempt($$SELECT auditlog_internal.record_internal(operation => 'forged.purge')$$) AS record_internal;
SELECT auditlog.valid_stream('auditlog') AS well_formed, auditlog.valid_stream('..') AS dots, auditlog.valid_stream(NULL) AS null_stream;
SELECT auditlog.record(operation => 'fine', stream => 'auditlog-app') IS NOT NULL AS other_stream_ok;
RESET ROLE;
DROP ROLE ic_writer;
SELECT DISTINCT operation FROM auditlog.entry WHERE stream = 'auditlog' ORDER BY 1;
SELECT count(*) AS forged FROM auditlog.entry WHERE operation = 'forged.purge';
