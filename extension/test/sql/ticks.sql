\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- tick(): time, mark and snapshot, serialized and growing together.
SELECT auditlog.tick() AS t1 \gset
SELECT auditlog.tick() AS t2 \gset
SELECT :t2 > :t1 AS ids_grow;
SELECT b.taken_at >= a.taken_at AS times_grow,
       b.mark >= a.mark AS marks_grow,
       pg_snapshot_xmax(b.snap) >= pg_snapshot_xmax(a.snap) AS snapshots_grow,
       pg_snapshot_xmax(a.snap) <= b.mark AS mark_read_after_earlier_snapshot
FROM auditlog.tick a, auditlog.tick b WHERE a.tick_id = :t1 AND b.tick_id = :t2;

-- The tick raises the clock floor to its time.
SELECT auditlog_internal.clock_floor_time() = (SELECT taken_at FROM auditlog.tick WHERE tick_id = :t2) AS floor_at_tick_time;

-- A tick taken by a transaction that has written does not see that
-- transaction's entries: they belong to a later batch.
BEGIN;
SELECT auditlog.record(operation => 'tick.own') IS NOT NULL AS recorded;
SELECT auditlog.tick() AS own_tick \gset
SELECT pg_visible_in_snapshot(pg_current_xact_id(), snap) AS own_visible
FROM auditlog.tick WHERE tick_id = :own_tick;
COMMIT;

-- Every entry of a writer that starts after a tick is logged at or after
-- that tick's time: bound() holds.
SELECT auditlog.tick() AS t3 \gset
SELECT auditlog.record(operation => 'tick.after') AS after_id \gset
SELECT e.logged_at >= auditlog.time_bound(e.writer_xid) AS bound_holds,
       auditlog.time_bound(e.writer_xid) >= (SELECT taken_at FROM auditlog.tick WHERE tick_id = :t3) AS bound_is_tight
FROM auditlog.entry e WHERE e.id = :'after_id';

-- settled_horizon(): a fresh tick, then in the next statement its time.
SELECT auditlog.tick() AS t4 \gset
SELECT auditlog.settled_horizon() = (SELECT taken_at FROM auditlog.tick WHERE tick_id = :t4) AS horizon_at_last_tick;

-- Refused where its snapshot would be wrong.
\set VERBOSITY terse
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT auditlog.tick();
ROLLBACK;
\set VERBOSITY default

-- Old ticks are pruned when nothing needs them: with no sink, only the
-- latest ticks remain.
SELECT count(*) <= 2 AS pruned FROM auditlog.tick;
