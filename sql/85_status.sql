-- Status.

-- Which edition of auditlog this is, and which release: 'c', the extension
-- with its C module, or 'sql', the same log without C (src/auditlog.sql has
-- that edition's twin of this function).
CREATE FUNCTION auditlog.edition(OUT edition text, OUT version text)
RETURNS record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN ('c'::text, (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'auditlog'));
COMMENT ON FUNCTION auditlog.edition IS
  'Which edition of auditlog is installed (c: with its C module; sql: without C) and its version.';

CREATE VIEW auditlog.health AS
SELECT (SELECT count(*) FROM auditlog.pending) AS pending_count,
       (SELECT min(started_at) FROM auditlog.pending) AS oldest_pending,
       (SELECT count(*)::int FROM auditlog.partitions) AS partition_count,
       (SELECT min(range_start) FROM auditlog.partitions) AS oldest_partition_start,
       (SELECT max(range_end) FROM auditlog.partitions) AS newest_partition_end,
       (SELECT count(*) FROM ONLY auditlog.entry_default) AS default_partition_rows,
       (SELECT max(tick_id) FROM auditlog.tick) AS last_tick,
       (SELECT max(taken_at) FROM auditlog.tick) AS last_tick_at,
       auditlog.settled_horizon() AS settled_horizon,
       auditlog_internal.clock_floor_time() > clock_timestamp() AS clock_behind_floor,
       -- What holds the settled horizon back, for display only (the horizon
       -- itself never depends on it): the oldest prepared transaction, else
       -- the oldest transaction this role may see.
       coalesce(
         (SELECT format('prepared transaction %L since %s', gid, prepared)
          FROM pg_catalog.pg_prepared_xacts WHERE database = current_database() ORDER BY prepared LIMIT 1),
         (SELECT format('pid %s (%s) in a transaction since %s', pid, coalesce(nullif(application_name, ''), usename), xact_start)
          FROM pg_catalog.pg_stat_activity
          WHERE datname = current_database() AND backend_xmin IS NOT NULL AND pid <> pg_backend_pid()
          ORDER BY xact_start LIMIT 1)) AS oldest_transaction,
       -- Imports: open spans hold the settled horizon at their start. One
       -- whose lock no session holds looks abandoned (its importer is gone):
       -- the next tick() marks it so.
       (SELECT count(*) FROM auditlog.import_span WHERE status = 'open') AS open_imports,
       (SELECT min(range_start) FROM auditlog.import_span WHERE status = 'open') AS oldest_open_import_start,
       EXISTS (SELECT FROM auditlog.import_span s
               WHERE s.status = 'open'
                 AND NOT EXISTS (SELECT FROM auditlog_internal.import_span_locks() l
                                 WHERE l.key = auditlog_internal.import_lock_key(s.span_id))) AS open_import_abandoned;
COMMENT ON VIEW auditlog.health IS
  'One row: begun entries still pending and the oldest of them, the day partitions, rows in the DEFAULT partition (should be 0), the last tick, the settled horizon and the oldest transaction holding it back, and whether the server clock is behind the clock floor (the floor, not the clock, then stamps entries), and the open import spans: how many, the oldest start, and whether any looks abandoned (no session holds it; the next tick() marks it abandoned).';

-- How many entries a sink has yet to export, up to the last tick: counted
-- through each owed batch's own index ranges, and capped, so the status stays
-- cheap however far a sink lags.
CREATE FUNCTION auditlog.sink_lag_rows(sink text, cap int DEFAULT 1000000)
RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER  -- called by auditlog.sink_status, as for sink_exported_before
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
AS $$
DECLARE
  s auditlog.sink := (SELECT sk FROM auditlog.sink sk WHERE sk.name = sink);
  state auditlog.sink_state := (SELECT st FROM auditlog.sink_state st WHERE st.sink = s.name);
  segment auditlog.sink_segment;
  lo bigint;
  hi bigint;
  owed bigint;
  lag bigint := 0;
BEGIN
  -- Readers may call it: a cap keeps every call bounded.
  IF cap IS NULL OR cap < 1 OR cap > 1000000 THEN
    RAISE EXCEPTION 'cap must be between 1 and 1000000, not %', coalesce(cap::text, 'null')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Lag is counted up to cap entries, so that the status stays cheap however far a sink lags.';
  END IF;
  IF state IS NULL THEN
    RETURN 0;
  END IF;
  FOR segment IN SELECT * FROM auditlog.sink_segment sg WHERE sg.sink = s.name ORDER BY from_tick LOOP
    lo := greatest(state.cursor_tick, segment.from_tick);
    hi := (SELECT max(tick_id) FROM auditlog.tick t WHERE segment.to_tick IS NULL OR t.tick_id <= segment.to_tick);
    CONTINUE WHEN hi IS NULL OR hi <= lo;
    EXECUTE format('SELECT count(*) FROM (SELECT FROM auditlog.entry e WHERE %s%s LIMIT %s) AS owed',
                   auditlog_internal.batch_condition(lo, hi), auditlog_internal.entry_filter(s.stream, s.tenant_id, s.operation_prefix), cap - lag)
    INTO owed;
    lag := lag + owed;
    EXIT WHEN lag >= cap;
  END LOOP;
  RETURN lag;
END
$$;
COMMENT ON FUNCTION auditlog.sink_lag_rows IS
  'Entries the sink has yet to export up to the last tick (a page in flight included), counted up to cap (at most a million).';

CREATE VIEW auditlog.sink_status AS
SELECT s.name AS sink,
       s.enabled,
       s.url,
       s.stream, s.tenant_id, s.operation_prefix,
       t.taken_at AS cursor_at,
       e.exported_before,
       extract(epoch FROM now() - e.exported_before) AS lag_seconds,
       auditlog.sink_lag_rows(s.name) AS lag_rows,
       p.page_id AS page_in_flight,
       p.rows AS page_in_flight_rows,
       st.pages_acked,
       st.rows_acked,
       st.last_ack_at,
       (SELECT count(*) FROM auditlog.sink_segment sg WHERE sg.sink = s.name)::int AS segments_owed,
       (SELECT count(*) FROM auditlog.sink_gap g WHERE g.sink = s.name)::int AS gaps,
       st.anchored_at,
       st.anchor_reason
FROM auditlog.sink s
LEFT JOIN auditlog.sink_state st ON st.sink = s.name
LEFT JOIN auditlog.tick t ON t.tick_id = st.cursor_tick
LEFT JOIN auditlog.sink_exported_before() e ON e.sink = s.name
LEFT JOIN auditlog.page p ON p.sink = s.name AND p.acked_at IS NULL;
COMMENT ON VIEW auditlog.sink_status IS
  'One row per sink: where its cursor is, the time before which it has exported everything (and how far that lags, in seconds and in entries up to the last tick, counted up to a million), the page in flight, pages and rows acknowledged, gaps, and why it was last anchored.';
