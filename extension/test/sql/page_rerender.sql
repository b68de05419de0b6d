\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- A pinned page is rendered again, whenever it is handed out again, by the
-- same aggregate over the same rows, and that aggregate's result does not
-- depend on the order the plan feeds it rows in: so the page comes back
-- identical under another plan (here: scans, sorts and memory settings
-- changed between handing it out and handing it out again), for every
-- kind of page.
SET client_min_messages = warning;
SELECT auditlog.ensure_partitions(1) >= 0 AS partitions;
RESET client_min_messages;
SELECT auditlog.create_sink('replan', 'file:///srv/replan', operation_prefix => 'replan.') AS created;
CREATE TEMP TABLE since AS SELECT clock_timestamp() AS at;
SELECT count(auditlog.record(operation => 'replan.' || n, stream => 'replan', actor_id => 'u-' || n % 17,
                             user_agent => repeat(chr(1 + n % 31), n % 50), details => jsonb_build_object('n', n, 's', repeat('é,"', n % 9))))
FROM generate_series(1, 400) AS n;
SELECT auditlog.tick() IS NOT NULL AS ticked;
ANALYZE auditlog.entry;

-- Two sets of planner settings far apart.
CREATE FUNCTION pg_temp.plan_a() RETURNS void LANGUAGE sql AS $$
  SELECT set_config(name, setting, false) FROM (VALUES ('enable_seqscan', 'off'), ('enable_indexscan', 'on'),
    ('enable_bitmapscan', 'on'), ('enable_sort', 'on'), ('random_page_cost', '1'), ('work_mem', '64MB'), ('jit', 'off')) AS s(name, setting)
$$;
CREATE FUNCTION pg_temp.plan_b() RETURNS void LANGUAGE sql AS $$
  SELECT set_config(name, setting, false) FROM (VALUES ('enable_seqscan', 'on'), ('enable_indexscan', 'off'),
    ('enable_bitmapscan', 'off'), ('enable_sort', 'on'), ('random_page_cost', '1000'), ('work_mem', '64kB'), ('jit', 'off')) AS s(name, setting)
$$;
CREATE FUNCTION pg_temp.plan(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; plan text := '';
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
    plan := plan || line || E'\n';
  END LOOP;
  RETURN plan;
END
$$;

-- The settings make different plans of a page's query.
SELECT pg_temp.plan_a();
CREATE TEMP TABLE page_query AS
SELECT auditlog_internal.page_query(jsonb_populate_record(NULL::auditlog.page,
                             jsonb_build_object('sink', 'replan', 'stream', 'replan', 'lo_tick', st.cursor_tick,
                                                'hi_tick', (SELECT max(tick_id) FROM auditlog.tick))),
                           NULL, NULL, auditlog.utc_day(now()), auditlog.utc_day(now()) + interval '1 day', 150) AS q
FROM auditlog.sink_state st WHERE st.sink = 'replan';
SELECT pg_temp.plan(q) AS plan_a FROM page_query \gset
SELECT pg_temp.plan_b();
SELECT pg_temp.plan(q) <> :'plan_a' AS plans_differ FROM page_query;

CREATE TEMP TABLE handed_out (kind text, n int, rows int, same_again boolean);

-- A sink's pages: handed out under one plan, again under the other.
DO $$
DECLARE p auditlog.page_out; again auditlog.page_out;
BEGIN
  FOR n IN 1..10 LOOP
    PERFORM CASE WHEN n % 2 = 0 THEN pg_temp.plan_a() ELSE pg_temp.plan_b() END;
    SELECT * INTO p FROM auditlog.next_page('replan', 150);
    EXIT WHEN NOT FOUND;
    PERFORM CASE WHEN n % 2 = 0 THEN pg_temp.plan_b() ELSE pg_temp.plan_a() END;
    SELECT * INTO again FROM auditlog.next_page('replan', 150);
    INSERT INTO handed_out VALUES ('sink', n, p.rows, again = p AND auditlog.body_sha256(again.body) = p.sha256);
    PERFORM auditlog.ack('replan', p.page_id);
  END LOOP;
END
$$;

-- A backfill's.
CREATE FUNCTION pg_temp.run_backfill(backfill bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE p auditlog.page_out; again auditlog.page_out;
BEGIN
  FOR n IN 1..10 LOOP
    PERFORM CASE WHEN n % 2 = 0 THEN pg_temp.plan_a() ELSE pg_temp.plan_b() END;
    SELECT * INTO p FROM auditlog.backfill_next_page(backfill, 150);
    EXIT WHEN NOT FOUND;
    PERFORM CASE WHEN n % 2 = 0 THEN pg_temp.plan_b() ELSE pg_temp.plan_a() END;
    SELECT * INTO again FROM auditlog.backfill_next_page(backfill, 150);
    INSERT INTO handed_out VALUES ('backfill', n, p.rows, again = p AND auditlog.body_sha256(again.body) = p.sha256);
    PERFORM auditlog.backfill_ack(backfill, p.page_id);
  END LOOP;
END
$$;
SELECT pg_temp.run_backfill(auditlog.start_backfill('replan', (SELECT at FROM since), auditlog.settled_horizon()));

-- An export job's, in both formats.
CREATE FUNCTION pg_temp.run_export(format text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  job bigint := auditlog.request_export('replan', (SELECT at FROM since), auditlog.settled_horizon(), NULL, 'tester', format);
  claim auditlog.export_claim;
  p auditlog.export_page;
  again auditlog.export_page;
BEGIN
  SELECT * INTO claim FROM auditlog.claim_export('worker');
  FOR n IN 1..10 LOOP
    PERFORM CASE WHEN n % 2 = 0 THEN pg_temp.plan_a() ELSE pg_temp.plan_b() END;
    SELECT * INTO p FROM auditlog.export_next_page(job, claim.lease_token, 150);
    PERFORM CASE WHEN n % 2 = 0 THEN pg_temp.plan_b() ELSE pg_temp.plan_a() END;
    SELECT * INTO again FROM auditlog.export_next_page(job, claim.lease_token, 150);
    INSERT INTO handed_out VALUES ('export ' || format, n, p.rows, again = p AND auditlog.body_sha256(again.body) = p.sha256);
    PERFORM auditlog.ack_export_page(job, claim.lease_token, p.page_id);
    EXIT WHEN p.final;
  END LOOP;
END
$$;
SELECT pg_temp.run_export('ndjson.gz');
SELECT pg_temp.run_export('csv');
RESET ALL;

SELECT kind, count(*) AS pages, sum(rows) AS entries, bool_and(same_again) AS identical_under_another_plan
FROM handed_out GROUP BY kind ORDER BY kind;

-- A pinned page that no longer renders to what was handed out (here: its
-- recorded SHA-256 altered) is refused, with one message for every kind.
CREATE FUNCTION pg_temp.refusal(sqlstate text, message text) RETURNS TABLE (sqlstate text, message text) LANGUAGE sql AS $$
  SELECT sqlstate, regexp_replace(regexp_replace(message, '[0-9a-f]{8}-[0-9a-f-]{27}', '<page>'), ' \d+ no', ' <id> no')
$$;
SELECT count(auditlog.record(operation => 'replan.more', stream => 'replan')) FROM generate_series(1, 3);
SELECT auditlog.tick() IS NOT NULL AS ticked;
SELECT page_id IS NOT NULL AS pinned FROM auditlog.next_page('replan');
UPDATE auditlog.page SET sha256 = repeat('0', 64) WHERE sink = 'replan' AND acked_at IS NULL;
\set VERBOSITY sqlstate
SELECT * FROM auditlog.next_page('replan');
\set VERBOSITY default
SELECT * FROM pg_temp.refusal(:'LAST_ERROR_SQLSTATE', :'LAST_ERROR_MESSAGE');
SELECT auditlog.start_backfill('replan', (SELECT at FROM since), auditlog.settled_horizon()) AS backfill \gset
SELECT page_id IS NOT NULL AS pinned FROM auditlog.backfill_next_page(:backfill);
UPDATE auditlog.page SET sha256 = repeat('0', 64) WHERE backfill_id = :backfill AND acked_at IS NULL;
\set VERBOSITY sqlstate
SELECT * FROM auditlog.backfill_next_page(:backfill);
\set VERBOSITY default
SELECT * FROM pg_temp.refusal(:'LAST_ERROR_SQLSTATE', :'LAST_ERROR_MESSAGE');
SELECT auditlog.request_export('replan', (SELECT at FROM since), auditlog.settled_horizon(), NULL, 'tester', 'csv') AS job \gset
SELECT lease_token AS token FROM auditlog.claim_export('worker') \gset
SELECT page_id IS NOT NULL AS pinned FROM auditlog.export_next_page(:job, :'token');
UPDATE auditlog.page SET sha256 = repeat('0', 64) WHERE job_id = :job AND acked_at IS NULL;
\set VERBOSITY sqlstate
SELECT * FROM auditlog.export_next_page(:job, :'token');
\set VERBOSITY default
SELECT * FROM pg_temp.refusal(:'LAST_ERROR_SQLSTATE', :'LAST_ERROR_MESSAGE');
SELECT auditlog.cancel_export(:job) AS cancelled;
SELECT auditlog.cancel_backfill(:backfill) AS cancelled;

SET client_min_messages = warning;
SELECT auditlog.drop_sink('replan');
