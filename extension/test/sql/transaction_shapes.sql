\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- The functions that must commit on their own (next_page, ack, the
-- backfill's and export job's pages and acks, disable_sink) refuse every
-- shape of transaction that could roll them back after their statement, or
-- keep a sink disabled-but-uncommitted while entries commit: an explicit or
-- implicit transaction block, a subtransaction, a pipeline (in pipeline.py).
-- Disabling a sink must also commit promptly after its closing tick: a
-- statement or DO block that goes on after disable_sink() fails, and the
-- sink stays enabled, so no entry committed meanwhile is missed.
SET client_min_messages = warning;
SELECT auditlog.ensure_partitions() >= 0 AS partitions;
SELECT auditlog.create_sink('shapes', 'file:///tmp/shapes');
SELECT auditlog.record(operation => 'shape.one') IS NOT NULL AS recorded;

-- An explicit block, and an implicit one (several statements in one query string).
BEGIN;
SELECT count(*) FROM auditlog.next_page('shapes');
ROLLBACK;
SELECT 1 \; SELECT count(*) FROM auditlog.next_page('shapes');
BEGIN;
SELECT auditlog.disable_sink('shapes');
ROLLBACK;

-- A subtransaction: a PL/pgSQL block with an EXCEPTION clause.
DO $$
BEGIN
  PERFORM auditlog.next_page('shapes');
EXCEPTION WHEN division_by_zero THEN
  NULL;
END $$;
DO $$
BEGIN
  PERFORM auditlog.disable_sink('shapes');
EXCEPTION WHEN division_by_zero THEN
  NULL;
END $$;
SELECT enabled, page_in_flight IS NULL AS nothing_pinned FROM auditlog.sink_status WHERE sink = 'shapes';

-- The class: every function that commits on its own, found in the catalog,
-- called (with null arguments: the refusal comes first) in a transaction
-- block and in a subtransaction.
CREATE TEMP TABLE commits_on_its_own AS
SELECT p.proname::text AS name,
       format('SELECT %s(%s)', p.oid::regproc, array_to_string(array_fill('NULL'::text, ARRAY[p.pronargs]), ', ')) AS call
FROM pg_proc p
WHERE p.pronamespace IN ('auditlog'::regnamespace, 'auditlog_internal'::regnamespace) AND p.prokind = 'f' AND p.prorettype <> 'trigger'::regtype
  AND p.prosrc LIKE '%auditlog_internal.refuse_transaction_block(%';
SELECT string_agg(name, ' ' ORDER BY name) AS commit_on_their_own FROM commits_on_its_own;
CREATE FUNCTION pg_temp.refusal(call text, in_block boolean) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE call;
  RETURN 'ran';
EXCEPTION WHEN OTHERS THEN
  RETURN CASE WHEN in_block THEN regexp_replace(SQLERRM, '^.* cannot run inside ', 'inside ') ELSE SQLERRM END;
END $$;
-- (pg_temp.refusal's EXCEPTION clause is the subtransaction.)
SELECT name, pg_temp.refusal(call, true) AS refused FROM commits_on_its_own ORDER BY name;
-- (An implicit block: two statements in one query string.)
\set VERBOSITY terse
SELECT format('SELECT 1 AS first; %s', call) FROM commits_on_its_own ORDER BY name \gexec
\set VERBOSITY default

-- Disabling, then going on in the same statement or DO block: the commit
-- fails, the sink is still enabled and its segment open.
SELECT auditlog.disable_sink('shapes'), pg_sleep(0.5);
SELECT enabled, segments_owed FROM auditlog.sink_status WHERE sink = 'shapes';
DO $$
BEGIN
  PERFORM auditlog.disable_sink('shapes');
  PERFORM pg_sleep(0.5);
END $$;
SELECT enabled, segments_owed FROM auditlog.sink_status WHERE sink = 'shapes';
SELECT auditlog.create_sink('shapes_too', 'file:///tmp/shapes_too');
SELECT auditlog.disable_sink(name), pg_sleep(0.3) FROM auditlog.sink WHERE name LIKE 'shapes%' ORDER BY name;
SELECT sink, enabled FROM auditlog.sink_status WHERE sink LIKE 'shapes%' ORDER BY sink;
-- Two disabled in one statement, the second quickly before the commit: the
-- first one's closing tick is what counts.
SELECT auditlog.disable_sink('shapes'), pg_sleep(0.3), auditlog.disable_sink('shapes_too');
SELECT sink, enabled FROM auditlog.sink_status WHERE sink LIKE 'shapes%' ORDER BY sink;

-- Done promptly, in one statement with other calls or in a DO block, it commits.
SELECT auditlog.disable_sink('shapes_too') AS disabled, auditlog.enable_sink('shapes_too') AS enabled;
DO $$
BEGIN
  PERFORM auditlog.disable_sink('shapes');
END $$;
SELECT sink, enabled FROM auditlog.sink_status WHERE sink LIKE 'shapes%' ORDER BY sink;

-- Many empty segments (disabled and enabled again, nothing written) never
-- stall a sink: next_page() goes through them all and keeps its progress.
SELECT auditlog.enable_sink('shapes') AS enabled;
DO $$
DECLARE p auditlog.page_out;
BEGIN
  LOOP
    SELECT * INTO p FROM auditlog.next_page('shapes');
    EXIT WHEN NOT FOUND;
    PERFORM auditlog.ack('shapes', p.page_id);
  END LOOP;
END $$;
DO $$
BEGIN
  FOR round IN 1..300 LOOP
    PERFORM auditlog.disable_sink('shapes');
    COMMIT;
    PERFORM auditlog.enable_sink('shapes');
    COMMIT;
  END LOOP;
END $$;
SELECT segments_owed > 250 AS many_segments FROM auditlog.sink_status WHERE sink = 'shapes';
SELECT auditlog.record(operation => 'shape.after_rounds') IS NOT NULL AS recorded;
SELECT rows, body LIKE '%shape.after_rounds%' AS has_entry FROM auditlog.next_page('shapes');
SELECT segments_owed FROM auditlog.sink_status WHERE sink = 'shapes';

SELECT auditlog.drop_sink('shapes'), auditlog.drop_sink('shapes_too');
