\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- Bad input: a clear error with a specific SQLSTATE, and nothing changes.
CREATE FUNCTION pg_temp.try(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE statement;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
CREATE TEMP TABLE begun AS SELECT auditlog.begin(operation => 'bad.input') AS id;
SELECT (SELECT count(*) FROM auditlog.entry) AS entries_before,
       (SELECT count(*) FROM auditlog.pending) AS pending_before \gset

SELECT statement, pg_temp.try(statement) AS outcome FROM (VALUES
  ($$SELECT auditlog.record(operation => NULL)$$),
  ($$SELECT auditlog.record(operation => '')$$),
  ($$SELECT auditlog.record(operation => '  ')$$),
  ($$SELECT auditlog.record(operation => 'x', stream => NULL)$$),
  ($$SELECT auditlog.record(operation => 'x', stream => 'Bad Stream')$$),
  ($$SELECT auditlog.record(operation => 'x', stream => '../etc')$$),
  ($$SELECT auditlog.record(operation => 'x', result => 'maybe')$$),
  ($$SELECT auditlog.record(operation => 'x', result => 'timeout')$$),
  ($$SELECT auditlog.record(operation => 'x', result => NULL)$$),
  ($$SELECT auditlog.record(operation => 'x', details => '[1, 2]')$$),
  ($$SELECT auditlog.record(operation => 'x', details => '"text"')$$),
  ($$SELECT auditlog.record(operation => 'x', details => 'not json')$$),
  ($$SELECT auditlog.record(operation => 'x', http_status => 42)$$),
  ($$SELECT auditlog.record(operation => 'x', source_ip => 'not-an-ip')$$),
  ($$SELECT auditlog.begin(operation => NULL)$$),
  ($$SELECT auditlog.begin(operation => 'x', details => '[]')$$),
  ($$SELECT auditlog.complete('not-a-uuid', 'success')$$),
  ($$SELECT auditlog.complete(NULL, 'success')$$),
  ($$SELECT auditlog.complete((SELECT id FROM begun), NULL)$$),
  ($$SELECT auditlog.complete((SELECT id FROM begun), 'timeout')$$),
  ($$SELECT auditlog.complete((SELECT id FROM begun), 'success', details => '1')$$),
  ($$SELECT auditlog.complete((SELECT id FROM begun), 'success', http_status => 600)$$),
  ($$SELECT auditlog.timeout_pending('0')$$),
  ($$SELECT auditlog.timeout_pending('-1 hour')$$),
  ($$SELECT auditlog.timeout_pending(NULL)$$),
  ($$SELECT auditlog.timeout_pending(max_rows => 0)$$),
  ($$SELECT auditlog.timeout_pending(max_rows => -5)$$),
  ($$SELECT auditlog.timeout_pending(max_rows => 1000000)$$),
  ($$SELECT auditlog.ensure_partitions(-1)$$),
  ($$SELECT auditlog.ensure_partitions(1000)$$),
  ($$SELECT auditlog.ensure_partitions(NULL)$$),
  ($$SELECT auditlog.record(operation => repeat('x', 70000))$$),
  ($$SELECT auditlog.record(operation => 'x', details => jsonb_build_object('blob', repeat('x', 70000)))$$),
  ($$SELECT auditlog.record(operation => 'x', user_agent => repeat('u', 40000), error_message => repeat('e', 40000))$$),
  ($$SELECT auditlog.begin(operation => 'x', request_uri => repeat('/', 70000))$$),
  ($$SELECT auditlog.complete((SELECT id FROM begun), 'error', error_message => repeat('e', 70000))$$)
) AS t(statement);

-- Nothing changed: no entry written, the pending entry still pending.
SELECT (SELECT count(*) FROM auditlog.entry) - :entries_before AS new_entries,
       (SELECT count(*) FROM auditlog.pending) - :pending_before AS new_pending,
       EXISTS (SELECT FROM auditlog.pending JOIN begun USING (id)) AS still_pending;
