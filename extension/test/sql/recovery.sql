\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- Ways out a DBA has when something went wrong, each leaving a trace:
-- a page in flight whose entries are gone (a forced purge dropped its day)
-- is unpinned, recorded in the log; a cancelled gap backfill leaves its gap
-- owed; readers count a sink's lag only up to a bounded cap.
SET client_min_messages = warning;
SELECT auditlog.ensure_partitions() >= 0 AS partitions;
SELECT auditlog.create_sink('recovery', 'file:///tmp/recovery');
SELECT count(auditlog.record(operation => 'recovery.' || n)) FROM generate_series(1, 3) AS n;

-- A page in flight that still renders is not unpinned. (Errors by SQLSTATE
-- alone: their messages name page ids.)
CREATE TEMP TABLE in_flight AS SELECT page_id, rows FROM auditlog.next_page('recovery');
SELECT rows FROM in_flight;
\set VERBOSITY sqlstate
SELECT auditlog.unpin_page('recovery', page_id, 'testing') FROM in_flight;
SELECT auditlog.unpin_page('recovery', page_id, '') FROM in_flight;
SELECT auditlog.unpin_page('recovery', gen_random_uuid(), 'not this one');

-- Its day dropped (as a forced purge would), the page no longer renders and
-- the sink would stall; unpinned, it goes on, and the log says so.
SELECT partition AS today_partition FROM auditlog.partitions
WHERE range_start = auditlog.utc_day(now()) \gset
ALTER TABLE auditlog.entry DETACH PARTITION :today_partition;
DROP TABLE :today_partition;
SELECT auditlog.ensure_partitions() = 1 AS remade;
SELECT count(*) FROM auditlog.next_page('recovery');
\set VERBOSITY default
SET client_min_messages = error;
SELECT auditlog.unpin_page('recovery', page_id, 'day dropped by a forced purge, ticket 42') FROM in_flight;
SET client_min_messages = warning;
SELECT operation, stream, resource_type, details->>'sink' AS sink, details->>'reason' AS reason, details->>'rows' AS rows
FROM auditlog.entry WHERE operation = 'auditlog.page.unpinned';
SELECT auditlog.record(operation => 'recovery.after') IS NOT NULL AS recorded;
SELECT rows, body LIKE '%recovery.after%' AS after, body LIKE '%auditlog.page.unpinned%' AS own_record
FROM auditlog.next_page('recovery');

-- A gap backfill cancelled: the gap is owed again, and can be backfilled.
SELECT auditlog.create_sink('gap-cancel', 'file:///tmp/gap-cancel');
SELECT auditlog.disable_sink('gap-cancel') AS disabled;
SELECT auditlog.record(operation => 'recovery.while_disabled') IS NOT NULL AS recorded;
SELECT auditlog.enable_sink('gap-cancel') AS enabled;
SELECT gaps FROM auditlog.sink_status WHERE sink = 'gap-cancel';
SELECT auditlog.backfill_gap('gap-cancel') AS gap_backfill \gset
SELECT gaps FROM auditlog.sink_status WHERE sink = 'gap-cancel';
SELECT auditlog.cancel_backfill(:gap_backfill) AS cancelled;
SELECT gaps FROM auditlog.sink_status WHERE sink = 'gap-cancel';
SELECT auditlog.backfill_gap('gap-cancel') AS gap_backfill \gset
SELECT rows, body LIKE '%recovery.while_disabled%' AS while_disabled FROM auditlog.backfill_next_page(:gap_backfill);

-- The lag a reader may count is bounded.
SELECT auditlog.sink_lag_rows('recovery', 0);
SELECT auditlog.sink_lag_rows('recovery', 2000000000);
SELECT auditlog.sink_lag_rows('recovery', NULL);
SELECT auditlog.sink_lag_rows('recovery', 1000000) >= 0 AS counted;

SELECT auditlog.drop_sink('recovery'), auditlog.drop_sink('gap-cancel');
