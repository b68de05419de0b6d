-- Ticks: the snapshots that cut the log into batches (the PgQ way).
--
-- Batch k holds the entries whose writing transaction is visible in tick k's
-- snapshot and not in tick k-1's. A committed transaction becomes visible in
-- exactly one such interval, so each entry lands in exactly one batch,
-- whatever the shape of the transactions: long, prepared, with savepoints.
--
-- A tick records, in this order: the time t (never below the clock floor,
-- which it raises to t), the mark x (the next xid to be assigned), and, in a
-- later statement, the snapshot s. Every writer with xid w >= x stamps its
-- entries with logged_at >= t (stamp.c), so bound(w), the t of the latest
-- tick with x <= w, is a lower time bound for all of w's entries: batches
-- look only at partitions from there on.

CREATE SEQUENCE auditlog.tick_id_seq;

CREATE TABLE auditlog.tick (
  tick_id  bigint PRIMARY KEY DEFAULT nextval('auditlog.tick_id_seq'),
  taken_at timestamptz NOT NULL,
  mark     xid8 NOT NULL,
  snap     pg_snapshot NOT NULL
);
ALTER SEQUENCE auditlog.tick_id_seq OWNED BY auditlog.tick.tick_id;
CREATE INDEX tick_mark ON auditlog.tick (mark);
COMMENT ON TABLE auditlog.tick IS
  'Snapshots that cut the log into export batches. Meaningful only in the cluster that took them; never dumped.';

CREATE FUNCTION auditlog_internal.tick_time_and_mark(OUT taken_at timestamptz, OUT mark xid8)
RETURNS record
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'auditlog_tick_time_and_mark';
COMMENT ON FUNCTION auditlog_internal.tick_time_and_mark IS
  'Internal to tick(): reads the time, raises the clock floor to it, then reads the next xid to be assigned.';

-- The extension's advisory locks, by name, in one place. (auditlogctl's
-- per-sink and per-backfill locks are hashtext() of a text: int4 keys, which
-- never meet these.)
CREATE FUNCTION auditlog_internal.lock_key(name text)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN CASE name
    WHEN 'tick' THEN 7310601001            -- ticks, one at a time
    WHEN 'partitions' THEN 7310601002      -- partitions made or dropped, one maintainer at a time
    WHEN 'import windows' THEN 7310601003  -- import spans against pinned windows (backfills, jobs)
  END;
END
$$;
COMMENT ON FUNCTION auditlog_internal.lock_key IS
  'Internal: the key of one of the extension''s advisory locks, by name: tick, partitions, import windows.';

-- Ticks are serialized by this session-level advisory lock (not a
-- transaction-level one, which a tick inside a long or prepared transaction
-- would hold until it ends, stalling every other tick). Whatever ends the
-- tick early, an error or a cancel (statement_timeout), releases it: a
-- session that kept it would stall every other session's ticks, pages and
-- sink changes for as long as it stays connected.
CREATE FUNCTION auditlog.tick()
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  lock_key constant bigint := auditlog_internal.lock_key('tick');
  locked boolean := false;
  stamp record;
  snap pg_snapshot;
  own xid8;
  previous auditlog.tick;
  id bigint;
BEGIN
  PERFORM auditlog_internal.check_exportable('auditlog.tick()');
  PERFORM set_config('synchronous_commit', 'on', true);
  BEGIN
    PERFORM pg_advisory_lock(lock_key);
    locked := true;
    IF NOT EXISTS (SELECT FROM auditlog.tick) THEN
      PERFORM auditlog_internal.raise_floor_above_log();
    END IF;
    SELECT * INTO stamp FROM auditlog_internal.tick_time_and_mark();
    -- A later statement, so a snapshot taken after the mark was read.
    SELECT pg_current_snapshot(), pg_current_xact_id_if_assigned() INTO snap, own;
    -- The snapshot leaves the caller's own transaction out of its
    -- in-progress list; until this transaction commits it is in progress.
    IF own IS NOT NULL AND own < pg_snapshot_xmax(snap) THEN
      snap := format('%s:%s:%s',
                     least(pg_snapshot_xmin(snap), own), pg_snapshot_xmax(snap),
                     (SELECT string_agg(x::text, ',' ORDER BY x)
                      FROM (SELECT pg_snapshot_xip(snap) UNION SELECT own) AS xip(x)))::pg_snapshot;
    END IF;
    SELECT * INTO previous FROM auditlog.tick ORDER BY tick_id DESC LIMIT 1;
    IF FOUND AND (stamp.taken_at < previous.taken_at OR stamp.mark < previous.mark
                  OR pg_snapshot_xmax(snap) < pg_snapshot_xmax(previous.snap)) THEN
      RAISE EXCEPTION 'auditlog: tick out of order (time %, mark %, xmax % after time %, mark %, xmax %)',
        stamp.taken_at, stamp.mark, pg_snapshot_xmax(snap),
        previous.taken_at, previous.mark, pg_snapshot_xmax(previous.snap)
        USING ERRCODE = 'internal_error';
    END IF;
    INSERT INTO auditlog.tick (taken_at, mark, snap) VALUES (stamp.taken_at, stamp.mark, snap)
    RETURNING tick_id INTO id;
    PERFORM auditlog_internal.prune_ticks();
    PERFORM auditlog_internal.sweep_import_spans();
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    IF locked THEN
      PERFORM pg_advisory_unlock(lock_key);
    END IF;
    RAISE;
  END;
  PERFORM pg_advisory_unlock(lock_key);
  RETURN id;
END
$$;
COMMENT ON FUNCTION auditlog.tick() IS
  'Records a tick (time, next xid, snapshot) and returns its id. Whatever needs a fresh tick takes one; a scheduler may also call it.';

-- The installation: which CREATE EXTENSION made this log's export state.
-- Not dumped, so a restore (which runs CREATE EXTENSION again) makes a new
-- one, while pg_upgrade keeps it with the ticks and cursors it goes with.
-- A sink row records the installation that created it: a row carrying
-- another installation's id was restored from a dump, and is anchored on its
-- first use, once the whole log is back, not while the restore inserts it.
CREATE TABLE auditlog.installation (
  singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  id           uuid NOT NULL DEFAULT gen_random_uuid(),
  -- the start of the installing transaction: a sink created in that same
  -- transaction (a migration) is this installation's
  installed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO auditlog.installation DEFAULT VALUES;
COMMENT ON TABLE auditlog.installation IS
  'This installation of the log: an id that a restore from a dump does not carry over, and when it was made.';

CREATE FUNCTION auditlog_internal.installation_id()
RETURNS uuid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT id FROM auditlog.installation);
COMMENT ON FUNCTION auditlog_internal.installation_id IS 'Internal: the id of this installation of the log (see auditlog.installation).';

-- The export epoch: no batch reaches below it. It is when the extension was
-- installed: the restored copy of a log starts afresh (the table is not
-- dumped), and a transaction that writes entries and is still in progress at
-- the first tick wrote them after it. It is never raised over entries of this
-- cluster (a writer in flight would be lost): restored entries, which carry
-- another cluster's xids, are kept below every tick instead, by the first tick
-- raising the clock floor above them.
CREATE TABLE auditlog.export_epoch (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  epoch timestamptz NOT NULL
);
INSERT INTO auditlog.export_epoch (epoch) VALUES (clock_timestamp());
COMMENT ON TABLE auditlog.export_epoch IS
  'The time below which no export batch reaches: when the extension was installed.';

-- Before the first tick of a log (a new install, or a restored copy: ticks
-- are never dumped), raise the clock floor above every entry already there,
-- so that the first tick, and every later one, lies above them: restored
-- entries carry another cluster's xids and, below every tick's time, can
-- never be taken for this cluster's, even if the old host's clock was ahead.
-- Writers in flight are not harmed: the floor only lifts times stamped from
-- now on. (A transaction of this cluster already in progress at the first
-- tick is bounded by the epoch, the install time: a restored entry whose xid
-- equals such a transaction's and whose time is after the restore, which
-- takes an old host's clock ahead by more than the time from dump to
-- restore, could be exported again, never lost.)
CREATE FUNCTION auditlog_internal.raise_floor_above_log()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  newest timestamptz := (SELECT max(logged_at) FROM auditlog.entry);
  above bigint;
BEGIN
  IF newest IS NULL THEN
    RETURN;
  END IF;
  above := auditlog_internal.clock_floor_value(newest + interval '1 microsecond');
  IF (SELECT last_value FROM auditlog.clock_floor) < above THEN
    PERFORM setval('auditlog.clock_floor', above);
  END IF;
END
$$;
COMMENT ON FUNCTION auditlog_internal.raise_floor_above_log IS
  'Internal to the first tick(): raises the clock floor above every entry already in the log.';

-- bound(w): the time of the latest tick whose mark is at or below w (never
-- below the epoch). Every entry written by transaction w has logged_at at or
-- after it.
CREATE FUNCTION auditlog.time_bound(w xid8)
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT greatest((SELECT taken_at FROM auditlog.tick WHERE mark <= w ORDER BY mark DESC LIMIT 1),
                  (SELECT epoch FROM auditlog.export_epoch))
$$;
COMMENT ON FUNCTION auditlog.time_bound IS
  'The time of the latest tick whose mark is at or below w: a lower bound of logged_at for every entry written by transaction w.';

CREATE FUNCTION auditlog.settled_horizon()
RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  -- (The clock floor caps it only before the first tick: nothing is known
  -- to be settled until a tick says so.)
  SELECT least(auditlog.time_bound(pg_snapshot_xmin(pg_current_snapshot())),
               (SELECT min(range_start) FROM auditlog.import_span WHERE status = 'open'),
               auditlog_internal.clock_floor_time())
$$;
COMMENT ON FUNCTION auditlog.settled_horizon IS
  'Every entry logged before this time is committed: a window ending at or before it never changes (retention aside). Lags by up to the interval between ticks; a long or prepared transaction, or an import being written, holds it back.';

-- Ticks still needed: those a sink's cursor, batch, segments, gaps or page in
-- flight names, or a gap being backfilled, and below the oldest of them the latest tick whose mark is at
-- or below the xmin of its snapshot or of the current one, so that bound()
-- keeps answering for every xid a batch or settled_horizon() may ask about.
CREATE FUNCTION auditlog_internal.prune_ticks()
RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  oldest_needed bigint;
  oldest_xmin xid8;
  keep_from bigint;
  pruned int;
BEGIN
  oldest_needed := least(
    (SELECT min(least(cursor_tick, batch_tick)) FROM auditlog.sink_state),
    (SELECT min(least(from_tick, to_tick)) FROM auditlog.sink_segment),
    (SELECT min(lo_tick) FROM auditlog.page WHERE acked_at IS NULL),
    (SELECT min(from_tick) FROM auditlog.sink_gap),
    (SELECT min(lo_tick) FROM auditlog.backfill WHERE status = 'running'),
    (SELECT max(tick_id) FROM auditlog.tick));
  oldest_xmin := least(pg_snapshot_xmin(pg_current_snapshot()),
                       (SELECT pg_snapshot_xmin(snap) FROM auditlog.tick WHERE tick_id = oldest_needed));
  keep_from := least(oldest_needed,
                     (SELECT max(tick_id) FROM auditlog.tick WHERE mark <= oldest_xmin));
  DELETE FROM auditlog.tick WHERE tick_id < keep_from;
  GET DIAGNOSTICS pruned = ROW_COUNT;
  RETURN pruned;
END
$$;
COMMENT ON FUNCTION auditlog_internal.prune_ticks IS 'Internal to tick(): deletes ticks nothing needs any more.';

-- The condition selecting the entries of batch (lo, hi]: written by a
-- transaction visible in tick hi and not in tick lo, each part with the time
-- bound that prunes partitions. Literal values, so the plan is a custom one
-- and EXPLAIN shows the pruning.
CREATE FUNCTION auditlog_internal.batch_condition(lo bigint, hi bigint)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
AS $$
DECLARE
  lo_snap pg_snapshot := (SELECT snap FROM auditlog.tick WHERE tick_id = lo);
  hi_snap pg_snapshot := (SELECT snap FROM auditlog.tick WHERE tick_id = hi);
  arms text[] := '{}';
  in_progress xid8[];
BEGIN
  IF lo_snap IS NULL OR hi_snap IS NULL THEN
    RAISE EXCEPTION 'auditlog: tick % or % is missing', lo, hi USING ERRCODE = 'internal_error';
  END IF;
  -- (a) transactions in progress at lo and finished by hi, each by its xid.
  SELECT arms || coalesce(array_agg(format('(e.writer_xid = %L AND e.logged_at >= %L)', w, auditlog.time_bound(w))
                                    ORDER BY w), '{}')
  INTO arms
  FROM pg_snapshot_xip(lo_snap) AS w
  WHERE pg_visible_in_snapshot(w, hi_snap);
  -- (c) imports written by a transaction of the batch: their old times lie
  -- below every tick's bound, so their own span bounds them.
  SELECT arms || coalesce(array_agg(format('(e.writer_xid = %L AND e.logged_at >= %L AND e.logged_at <= %L)',
                                           sp.writer_xid, sp.range_start, sp.range_end) ORDER BY sp.span_id), '{}')
  INTO arms
  FROM auditlog.import_span sp
  WHERE sp.status = 'written'
    AND pg_visible_in_snapshot(sp.writer_xid, hi_snap) AND NOT pg_visible_in_snapshot(sp.writer_xid, lo_snap);
  -- (b) transactions from lo's xmax up to hi's, less those in progress at hi.
  IF pg_snapshot_xmax(lo_snap) < pg_snapshot_xmax(hi_snap) THEN
    in_progress := ARRAY(SELECT pg_snapshot_xip(hi_snap) ORDER BY 1);
    arms := arms || format('(e.writer_xid >= %L AND e.writer_xid < %L AND e.logged_at >= %L%s)',
                           pg_snapshot_xmax(lo_snap), pg_snapshot_xmax(hi_snap),
                           auditlog.time_bound(pg_snapshot_xmax(lo_snap)),
                           CASE WHEN cardinality(in_progress) > 0
                                THEN format(' AND e.writer_xid <> ALL (%L::xid8[])', in_progress) END);
  END IF;
  IF cardinality(arms) = 0 THEN
    RETURN 'false';
  END IF;
  RETURN '(' || array_to_string(arms, ' OR ') || ')';
END
$$;
COMMENT ON FUNCTION auditlog_internal.batch_condition IS
  'Internal: SQL condition on auditlog.entry e selecting the entries of the batch between ticks lo and hi.';

