\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- Backfills: a past window exported on request, in bounded chunks, one stream
-- and one UTC day per page, under keys of their own; the sink's cursor is
-- untouched.
SET client_min_messages = warning;
-- Three past days of history, a tenth of it SCIM (written by the superuser).
INSERT INTO auditlog.entry (id, logged_at, started_at, operation, stream, result, writer_xid)
SELECT gen_random_uuid(), auditlog.utc_day(now()) - make_interval(days => d) + make_interval(mins => m),
       auditlog.utc_day(now()) - make_interval(days => d) + make_interval(mins => m),
       'backfill.history', CASE WHEN m % 10 = 0 THEN 'scim' ELSE 'audit' END, 'success', pg_current_xact_id()
FROM generate_series(1, 3) AS d, generate_series(1, 25) AS m;
SELECT auditlog.ensure_partitions() >= 0 AS partitions;
RESET client_min_messages;
SELECT auditlog.create_sink('archive', 'file:///srv/archive') AS created;
SELECT cursor_tick AS cursor_before FROM auditlog.sink_state WHERE sink = 'archive' \gset
SELECT auditlog.tick() IS NOT NULL AS ticked;

SELECT auditlog.start_backfill('archive', auditlog.utc_day(now()) - interval '3 days', auditlog.utc_day(now()) - interval '1 day') AS b1 \gset
SELECT auditlog.start_backfill('archive', auditlog.utc_day(now()) - interval '2 days 12 hours', auditlog.utc_day(now()) - interval '1 day') AS b2 \gset
SELECT sink, status, percent, rows_exported FROM auditlog.backfill_status WHERE backfill_id = :b1;

-- Pinned: the same page until acknowledged.
SELECT page_id, object_key FROM auditlog.backfill_next_page(:b1, 10) \gset
SELECT page_id = :'page_id' AS same_page, object_key = :'object_key' AS same_key FROM auditlog.backfill_next_page(:b1, 3);
\set VERBOSITY terse
SELECT auditlog.backfill_ack(:b1, '00000000-0000-7000-8000-000000000000');
\set VERBOSITY default
SELECT auditlog.backfill_ack(:b1, :'page_id') AS acked;

CREATE TEMP TABLE backfilled (backfill bigint, stream text, day date, rows int, object_key text, body text);
CREATE FUNCTION pg_temp.run_backfill(id bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE p auditlog.page_out;
BEGIN
  LOOP
    SELECT * INTO p FROM auditlog.backfill_next_page(id, 10);
    EXIT WHEN NOT FOUND;
    INSERT INTO backfilled VALUES (id, p.stream, p.day, p.rows, p.object_key, p.body);
    PERFORM auditlog.backfill_ack(id, p.page_id);
  END LOOP;
END
$$;
SELECT pg_temp.run_backfill(:b1), pg_temp.run_backfill(:b2);

-- Every entry of each window once (the first page, acknowledged above, had 9).
SELECT backfill, count(DISTINCT day) AS days, sum(rows) + CASE WHEN backfill = :b1 THEN 9 ELSE 0 END AS entries,
       bool_and(object_key ~ ('-backfill-' || backfill || '-')) AS own_keys,
       bool_and(rows <= 10) AS bounded
FROM backfilled GROUP BY backfill ORDER BY backfill;
-- One stream and one day per page.
SELECT bool_and(NOT EXISTS (SELECT FROM regexp_split_to_table(rtrim(body, E'\n'), E'\n') AS l
                            WHERE l::json->>'stream' <> stream OR ((l::json->>'logged_at')::timestamptz AT TIME ZONE 'UTC')::date <> day)) AS one_stream_one_day
FROM backfilled;
-- Overlapping windows never share an object key.
SELECT count(*) = count(DISTINCT object_key) AS distinct_keys FROM backfilled;
SELECT backfill_id = :b1 AS first, status, percent FROM auditlog.backfill_status WHERE backfill_id IN (:b1, :b2) ORDER BY backfill_id;
-- The sink's own cursor did not move.
SELECT cursor_tick = :cursor_before AS cursor_untouched FROM auditlog.sink_state WHERE sink = 'archive';

-- Cancel.
SELECT auditlog.start_backfill('archive', auditlog.utc_day(now()) - interval '1 day', auditlog.utc_day(now())) AS b3 \gset
SELECT auditlog.cancel_backfill(:b3) AS cancelled, auditlog.cancel_backfill(:b3) AS cancelled_again;
SELECT count(*) AS pages_after_cancel FROM auditlog.backfill_next_page(:b3);

-- Bad input.
\set VERBOSITY terse
SELECT auditlog.start_backfill('archive', now(), now() - interval '1 day');
SELECT auditlog.start_backfill('archive', now() - interval '1 day', now() + interval '1 day');
SELECT auditlog.start_backfill('archive', '2001-01-01', '2001-01-02');
SELECT auditlog.start_backfill('nowhere', now() - interval '1 day', now() - interval '1 hour');
SELECT * FROM auditlog.backfill_next_page(-1);
SELECT * FROM auditlog.backfill_next_page(:b1, 0);
SELECT auditlog.cancel_backfill(-1);
\set VERBOSITY default
SELECT auditlog.drop_sink('archive');
SELECT count(*) AS backfills_left FROM auditlog.backfill;

-- The gap a disabled sink leaves: exactly what was committed between its
-- closing tick and the tick that enabled it again.
SELECT auditlog.create_sink('gappy', 'file:///srv/gappy') AS created;
SELECT auditlog.record(operation => 'gap.before') IS NOT NULL AS recorded;
SELECT auditlog.disable_sink('gappy') AS disabled;
SELECT count(auditlog.record(operation => 'gap.while_disabled')) AS recorded FROM generate_series(1, 3);
SELECT auditlog.enable_sink('gappy') AS enabled;
SELECT auditlog.record(operation => 'gap.after') IS NOT NULL AS recorded;
SELECT gaps FROM auditlog.sink_status WHERE sink = 'gappy';
CREATE TEMP TABLE gap_lines AS SELECT NULL::text AS source, NULL::text AS operation WITH NO DATA;
DO $$
DECLARE p auditlog.page_out; gap bigint;
BEGIN
  LOOP
    SELECT * INTO p FROM auditlog.next_page('gappy');
    EXIT WHEN NOT FOUND;
    INSERT INTO gap_lines SELECT 'sink', l::json->>'operation' FROM regexp_split_to_table(rtrim(p.body, E'\n'), E'\n') AS l;
    PERFORM auditlog.ack('gappy', p.page_id);
  END LOOP;
  gap := auditlog.backfill_gap('gappy');
  LOOP
    SELECT * INTO p FROM auditlog.backfill_next_page(gap);
    EXIT WHEN NOT FOUND;
    INSERT INTO gap_lines SELECT 'gap, own key ' || (p.object_key ~ ('gappy-backfill-' || gap || '-'))::text, l::json->>'operation'
    FROM regexp_split_to_table(rtrim(p.body, E'\n'), E'\n') AS l;
    PERFORM auditlog.backfill_ack(gap, p.page_id);
  END LOOP;
END
$$;
SELECT source, operation, count(*) FROM gap_lines GROUP BY 1, 2 ORDER BY 1, 2;
SELECT gaps FROM auditlog.sink_status WHERE sink = 'gappy';
\set VERBOSITY terse
SELECT auditlog.backfill_gap('gappy');
\set VERBOSITY default
SELECT auditlog.disable_sink('gappy'), auditlog.enable_sink('gappy');
SELECT auditlog.waive_gaps('gappy') AS waived;
SELECT gaps FROM auditlog.sink_status WHERE sink = 'gappy';
SELECT auditlog.drop_sink('gappy');
