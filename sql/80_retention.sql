-- Retention: expired days are dropped whole, never row by row, and never
-- before every sink has exported them.
--
-- A partition ending at U may go when U is past the retention period, is not
-- today's, and for every sink that still owes entries (enabled, or disabled
-- with entries owed up to its closing tick), U <= bound(xmin(c)) where c is
-- the sink's cursor tick: every entry logged before that time is visible in
-- c, so exported.

-- For each sink that owes entries, the time before which it has exported
-- every entry. SECURITY DEFINER: auditlog.sink_status calls it, and a view
-- calls functions with its reader's rights, who may not read ticks.
CREATE FUNCTION auditlog.sink_exported_before()
RETURNS TABLE (sink text, exported_before timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT st.sink, auditlog.time_bound(pg_snapshot_xmin(t.snap))
  FROM auditlog.sink_state st
  JOIN auditlog.tick t ON t.tick_id = st.cursor_tick
  WHERE EXISTS (SELECT FROM auditlog.sink_segment sg WHERE sg.sink = st.sink)
$$;
COMMENT ON FUNCTION auditlog.sink_exported_before IS
  'For each sink that still owes entries, the time before which every entry it owes is exported.';

-- What else holds a time range back from purge: an import not yet written,
-- or written and not yet exported by every sink that owes it; a running
-- backfill; an export job not yet finished.
CREATE FUNCTION auditlog.retention_holds()
RETURNS TABLE (holder text, range_start timestamptz, range_end timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT format('import span %s', sp.span_id), sp.range_start, sp.range_end
  FROM auditlog.import_span sp
  WHERE sp.status = 'open'
     OR (sp.status = 'written' AND EXISTS (
          SELECT FROM auditlog.sink_state st JOIN auditlog.tick t ON t.tick_id = st.cursor_tick
          WHERE EXISTS (SELECT FROM auditlog.sink_segment sg WHERE sg.sink = st.sink)
            AND NOT pg_visible_in_snapshot(sp.writer_xid, t.snap)))
  UNION ALL
  SELECT format('backfill %s', b.backfill_id), b.range_start, b.range_end
  FROM auditlog.backfill b WHERE b.status = 'running'
  UNION ALL
  SELECT format('export job %s', j.job_id), j.range_start, j.range_end
  FROM auditlog.export_job j WHERE j.status IN ('pending', 'running')
$$;
COMMENT ON FUNCTION auditlog.retention_holds IS
  'Time ranges purge() must keep besides what sinks owe: imports not yet exported everywhere, running backfills, unfinished export jobs.';

-- What purge(retain) would consider: each partition past the retention
-- period, oldest first, with what holds it back, if anything: a sink that has
-- not exported it yet (and the time before which it has), or an import,
-- backfill or export job over it (and the start of its range).
-- A retention period: positive.
CREATE FUNCTION auditlog_internal.check_retain(retain interval)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF retain IS NULL OR retain <= interval '0' THEN
    RAISE EXCEPTION 'retain must be a positive interval, not %', coalesce(retain::text, 'null')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Partitions that end more than retain ago are dropped, for example ''90 days''.';
  END IF;
END
$$;
COMMENT ON FUNCTION auditlog_internal.check_retain IS 'Internal: refuses a retention period that is not a positive interval.';

CREATE FUNCTION auditlog.purge_preview(retain interval DEFAULT '90 days')
RETURNS TABLE (partition_name text, partition regclass, range_start timestamptz, range_end timestamptz,
               held_by text, held_since timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM auditlog_internal.check_retain(retain);
  RETURN QUERY
  SELECT p.partition_name, p.partition, p.range_start, p.range_end,
         coalesce('sink "' || h.sink || '"', o.holder), coalesce(h.exported_before, o.range_start)
  FROM auditlog.partitions p
  LEFT JOIN LATERAL (SELECT * FROM auditlog.sink_exported_before() e
                     WHERE e.exported_before < p.range_end
                     ORDER BY e.exported_before, e.sink LIMIT 1) h ON true
  LEFT JOIN LATERAL (SELECT * FROM auditlog.retention_holds() r
                     WHERE r.range_start < p.range_end AND r.range_end >= p.range_start
                     ORDER BY r.range_start LIMIT 1) o ON true
  WHERE p.range_end <= least(now() - retain, auditlog.utc_day(now()))
  ORDER BY p.range_start;
END
$$;
COMMENT ON FUNCTION auditlog.purge_preview IS
  'The partitions purge(retain) would drop, oldest first, each with what still holds it back (null when nothing does): a sink that has not exported it, an import, a backfill or an export job.';

CREATE FUNCTION auditlog.purge(retain interval DEFAULT '90 days', force boolean DEFAULT false)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
SET lock_timeout = '100ms'
AS $$
DECLARE
  p record;
  dropped int := 0;
BEGIN
  PERFORM auditlog_internal.check_retain(retain);
  IF force IS NULL THEN
    RAISE EXCEPTION 'force must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- One maintainer at a time (as ensure_partitions()): two would both drop
  -- the same day, and one fail. Purging can wait for the next run.
  IF NOT pg_try_advisory_xact_lock(auditlog_internal.lock_key('partitions')) THEN
    RAISE NOTICE 'auditlog: partitions are being made or dropped by another session; purge() will run next time';
    RETURN 0;
  END IF;

  FOR p IN SELECT * FROM auditlog.purge_preview(retain) LOOP
    IF p.held_by IS NOT NULL AND NOT force THEN
      RAISE NOTICE 'auditlog: partition % is kept for %', p.partition_name, p.held_by;
      EXIT;  -- later days are held back as well
    END IF;
    BEGIN
      EXECUTE format('ALTER TABLE auditlog.entry DETACH PARTITION %s', p.partition);
      EXECUTE format('DROP TABLE %s', p.partition);
      dropped := dropped + 1;
      IF p.held_by IS NOT NULL THEN
        -- The log records its own forced purge.
        RAISE WARNING 'auditlog: forced purge dropped partition % held for %', p.partition_name, p.held_by;
        PERFORM auditlog_internal.record_internal(operation => 'auditlog.purge.forced', stream => 'auditlog',
                                         actor_type => 'database_role', actor_id => session_user::text,
                                         resource_type => 'partition', resource_id => p.partition_name,
                                         details => jsonb_build_object('range_start', p.range_start, 'range_end', p.range_end,
                                                                       'held_by', p.held_by, 'held_since', p.held_since));
      END IF;
    EXCEPTION WHEN lock_not_available THEN
      -- Every day needs the same lock on the log: stop here rather than make
      -- writers queue again for each one.
      RAISE WARNING 'auditlog: could not drop partition % now: the log is busy; the next purge() will retry', p.partition_name;
      EXIT;
    END;
  END LOOP;
  RETURN dropped;
END
$$;
COMMENT ON FUNCTION auditlog.purge IS
  'Drops whole day partitions that end more than retain ago (never today''s) and that every sink has exported; never deletes row by row. Returns how many it dropped. force => true drops them even before a sink has exported them, and records that in the log (operation auditlog.purge.forced).';

