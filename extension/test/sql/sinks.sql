\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- Sinks: created, enabled, disabled, dropped; enabling re-anchors at a fresh
-- tick and never rescans history.
SELECT auditlog.record(operation => 'before.sink') IS NOT NULL AS recorded;
SELECT auditlog.create_sink('primary', 's3://audit-bucket/prod') AS created;
SELECT name, url, enabled, stream, tenant_id, operation_prefix, format FROM auditlog.sink;
SELECT sink, segments_owed, anchor_reason, page_in_flight IS NULL AS nothing_in_flight FROM auditlog.sink_status;

-- What was logged before the sink existed is not exported.
SELECT count(*) AS pages FROM auditlog.next_page('primary');

SELECT auditlog.record(operation => 'while.enabled') IS NOT NULL AS recorded;
SELECT auditlog.disable_sink('primary') AS disabled;
SELECT auditlog.disable_sink('primary') AS disabled_again;
SELECT auditlog.record(operation => 'while.disabled') IS NOT NULL AS recorded;
SELECT auditlog.enable_sink('primary') AS enabled;
SELECT auditlog.enable_sink('primary') AS enabled_again;
SELECT auditlog.record(operation => 'after.enabled') IS NOT NULL AS recorded;
SELECT auditlog.tick() IS NOT NULL AS ticked;
SELECT segments_owed, anchor_reason, lag_rows FROM auditlog.sink_status;

-- Entries from while it was enabled are exported, those from while it was
-- disabled are not: first what it owed up to the closing tick, then from the
-- new anchor.
CREATE TEMP TABLE exported (page int, operation text);
DO $$
DECLARE p record; n int := 0;
BEGIN
  LOOP
    SELECT * INTO p FROM auditlog.next_page('primary');
    EXIT WHEN NOT FOUND;
    n := n + 1;
    INSERT INTO exported SELECT n, line::json->>'operation' FROM regexp_split_to_table(rtrim(p.body, E'\n'), E'\n') AS line;
    PERFORM auditlog.ack('primary', p.page_id);
  END LOOP;
END
$$;
SELECT page, operation FROM exported ORDER BY page, operation;
SELECT segments_owed, lag_rows FROM auditlog.sink_status;

-- A sink created disabled owes nothing until enabled.
SELECT auditlog.create_sink('later', 'file:///var/lib/audit', enabled => false) AS created;
SELECT sink, segments_owed, anchored_at IS NULL AS never_anchored FROM auditlog.sink_status WHERE sink = 'later';
SELECT count(*) AS pages FROM auditlog.next_page('later');

-- Disabling inside a transaction block is refused: while that transaction
-- stays open the sink still looks enabled.
\set VERBOSITY terse
BEGIN;
SELECT auditlog.disable_sink('primary');
ROLLBACK;
BEGIN;
UPDATE auditlog.sink SET enabled = false WHERE name = 'primary';
ROLLBACK;

-- Bad input changes nothing.
SELECT auditlog.create_sink('primary', 'file:///tmp/x');
SELECT auditlog.create_sink('Bad Name', 'file:///tmp/x');
SELECT auditlog.create_sink('', 'file:///tmp/x');
SELECT auditlog.create_sink(NULL, 'file:///tmp/x');
SELECT auditlog.create_sink('x', 'http://example.com/bucket');
SELECT auditlog.create_sink('x', 'file://relative/path');
SELECT auditlog.create_sink('x', NULL);
SELECT auditlog.create_sink('x', 's3://bucket/p', stream => 'Bad Stream');
SELECT auditlog.create_sink('x', 's3://bucket/p', tenant_id => '');
SELECT auditlog.create_sink('x', 's3://bucket/p', format => 'parquet');
SELECT auditlog.enable_sink('missing');
SELECT auditlog.disable_sink('missing');
SELECT auditlog.drop_sink('missing');
SELECT * FROM auditlog.next_page('missing');
SELECT auditlog.ack('missing', '00000000-0000-7000-8000-000000000000');
\set VERBOSITY default
SELECT name FROM auditlog.sink ORDER BY name;

SELECT auditlog.drop_sink('later') AS dropped;
SELECT auditlog.drop_sink('primary') AS dropped;
SELECT count(*) AS sinks, (SELECT count(*) FROM auditlog.sink_state) AS states,
       (SELECT count(*) FROM auditlog.sink_segment) AS segments, (SELECT count(*) FROM auditlog.page) AS pages
FROM auditlog.sink;
