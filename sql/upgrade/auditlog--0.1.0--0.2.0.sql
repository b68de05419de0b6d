-- auditlog 0.1.0 to 0.2.0.
\echo Use "ALTER EXTENSION auditlog UPDATE TO '0.2.0'" to load this file. \quit

-- auditlog_reader may read auditlog.sink_status: the functions the view
-- calls run with its owner's rights and are granted to readers.
ALTER FUNCTION auditlog.sink_exported_before() SECURITY DEFINER;
ALTER FUNCTION auditlog.sink_lag_rows(text, int) SECURITY DEFINER;
GRANT EXECUTE ON FUNCTION auditlog.sink_exported_before, auditlog.sink_lag_rows TO auditlog_reader;

-- Bad input gets a clear error: a retention period that is not positive in
-- purge_preview() as in purge(), infinite windows in request_export(), a null
-- source in import().
CREATE FUNCTION auditlog.check_retain(retain interval)
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
COMMENT ON FUNCTION auditlog.check_retain IS 'Internal: refuses a retention period that is not a positive interval.';

CREATE OR REPLACE FUNCTION auditlog.purge_preview(retain interval DEFAULT '90 days')
RETURNS TABLE (partition_name text, partition regclass, range_start timestamptz, range_end timestamptz,
               held_by text, held_since timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM auditlog.check_retain(retain);
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

CREATE OR REPLACE FUNCTION auditlog.purge(retain interval DEFAULT '90 days', force boolean DEFAULT false)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
SET DateStyle = 'ISO'
SET lock_timeout = '100ms'
AS $$
DECLARE
  p record;
  dropped int := 0;
BEGIN
  PERFORM auditlog.check_retain(retain);
  IF force IS NULL THEN
    RAISE EXCEPTION 'force must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- One maintainer at a time (as ensure_partitions()): two would both drop
  -- the same day, and one fail. Purging can wait for the next run.
  IF NOT pg_try_advisory_xact_lock(7310601002) THEN  -- 'auditlog partitions'
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
        PERFORM auditlog.record(operation => 'auditlog.purge.forced', stream => 'auditlog',
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

CREATE OR REPLACE FUNCTION auditlog.request_export(
  stream       text,
  "from"       timestamptz,
  "to"         timestamptz,
  tenant_id    text DEFAULT NULL,
  requested_by text DEFAULT NULL,
  format       text DEFAULT 'ndjson.gz')
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  max_window constant interval := '92 days';
  job bigint;
BEGIN
  IF stream IS NULL OR stream !~ '^[a-z0-9][a-z0-9_.-]{0,62}$' THEN
    RAISE EXCEPTION 'invalid stream %', coalesce(quote_literal(stream), 'null') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- (An infinite bound has no length: check_past_window refuses it.)
  IF isfinite("from") AND isfinite("to") AND "to" - "from" > max_window THEN
    RAISE EXCEPTION 'an export window is at most 92 days'
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('This one is %s.', "to" - "from"),
            HINT = 'Request several exports.';
  END IF;
  PERFORM auditlog.check_past_window("from", "to");
  IF tenant_id = '' THEN
    RAISE EXCEPTION 'tenant_id must not be empty; pass NULL for every tenant' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF requested_by IS NULL OR btrim(requested_by) = '' THEN
    RAISE EXCEPTION 'requested_by must name who asked for the export' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF format IS NULL OR format NOT IN ('ndjson.gz', 'csv') THEN
    RAISE EXCEPTION 'unsupported export format %', coalesce(quote_literal(format), 'null')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Use ndjson.gz or csv.';
  END IF;
  INSERT INTO auditlog.export_job (stream, range_start, range_end, tenant_id, requested_by, format)
  VALUES (stream, "from", "to", tenant_id, requested_by, format)
  RETURNING job_id INTO job;
  RETURN job;
END
$$;
COMMENT ON FUNCTION auditlog.request_export IS
  'Requests an on-demand export of one stream (optionally one tenant) for ["from", "to"), at most 92 days, ending no later than the settled horizon, as ndjson.gz or spreadsheet-safe csv. Returns the job id.';

CREATE OR REPLACE PROCEDURE auditlog.import(source regclass, retain interval DEFAULT '90 days', force boolean DEFAULT false)
LANGUAGE plpgsql
AS $$
DECLARE
  first_logged timestamptz;
  last_logged timestamptz;
  span bigint;
  written bigint;
BEGIN
  IF source IS NULL THEN
    RAISE EXCEPTION 'source must name the table or view to import' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  EXECUTE pg_catalog.format('SELECT pg_catalog.min(logged_at), pg_catalog.max(logged_at) FROM %s', source)
  INTO first_logged, last_logged;
  IF first_logged IS NULL THEN
    RAISE NOTICE 'auditlog: % holds nothing to import', source;
    RETURN;
  END IF;
  span := auditlog.import_begin(first_logged, last_logged, retain, force);
  COMMIT;
  BEGIN
    written := auditlog.import_rows(span, source);
  EXCEPTION WHEN OTHERS THEN
    -- Nothing was written: close the span so the settled horizon moves on.
    PERFORM auditlog.import_abandon(span);
    COMMIT;
    RAISE;
  END;
  COMMIT;
  RAISE NOTICE 'auditlog: imported % entries from % (span %)', written, source, span;
END
$$;
COMMENT ON PROCEDURE auditlog.import IS
  'Imports the rows of source (a table or view with the columns of auditlog.entry but writer_xid) with their own ids and times: registers their span, commits, writes them, commits. CALL it outside a transaction block.';
REVOKE ALL ON FUNCTION auditlog.check_retain FROM PUBLIC;

-- A sink's page holds at most 16 MiB of NDJSON, whatever max_rows says.
CREATE FUNCTION auditlog.max_page_bytes()
RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 16 * 1024 * 1024;
COMMENT ON FUNCTION auditlog.max_page_bytes IS 'Internal: the most bytes of NDJSON in a sink''s page (16 MiB); a page holds at least one entry.';
REVOKE ALL ON FUNCTION auditlog.max_page_bytes FROM PUBLIC;

CREATE OR REPLACE FUNCTION auditlog.batch_page(s auditlog.sink, lo bigint, hi bigint,
                                    after_stream text, after_logged_at timestamptz, after_id uuid, max_rows int,
                                    OUT stream text, OUT rows int, OUT first_logged_at timestamptz,
                                    OUT last_logged_at timestamptz, OUT last_id uuid, OUT body text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  condition text := auditlog.batch_condition(lo, hi) || auditlog.sink_filter(s);
  first_row record;
  query text;
BEGIN
  -- Mostly the page goes on with the stream of the page before: its next
  -- entry comes straight from the primary key, in order. Only when that
  -- stream is done is the whole batch searched for the next one.
  IF after_stream IS NOT NULL THEN
    EXECUTE format('SELECT e.stream, e.logged_at FROM auditlog.entry e WHERE %s AND e.stream = %L'
                   ' AND e.logged_at >= %L AND (e.logged_at, e.id) > (%L::timestamptz, %L::uuid)'
                   ' ORDER BY e.logged_at, e.id LIMIT 1',
                   condition, after_stream,
                   after_logged_at, after_logged_at, after_id)
    INTO first_row;
  END IF;
  IF first_row IS NULL THEN
    EXECUTE format('SELECT e.stream, e.logged_at FROM auditlog.entry e WHERE %s%s ORDER BY e.stream, e.logged_at, e.id LIMIT 1',
                   condition,
                   CASE WHEN after_stream IS NOT NULL
                        THEN format(' AND (e.stream, e.logged_at, e.id) > (%L::text, %L::timestamptz, %L::uuid)',
                                    after_stream, after_logged_at, after_id) END)
    INTO first_row;
  END IF;
  IF first_row IS NULL THEN
    RETURN;
  END IF;
  stream := first_row.stream;
  query := auditlog.page_query(s, lo, hi, first_row.stream, auditlog.utc_day(first_row.logged_at),
                               after_stream, after_logged_at, after_id, NULL, NULL, max_rows);
  -- Most pages are far below max_page_bytes: rendered in one pass (as long
  -- as max_rows entries of at most 64 KiB each cannot pass the 1 GB a text
  -- value holds).
  IF max_rows <= 12000 THEN
    EXECUTE format('SELECT count(*)::int, min(e.logged_at), max(e.logged_at),'
                   ' (array_agg(e.id ORDER BY e.logged_at DESC, e.id DESC))[1],'
                   ' string_agg(auditlog.ndjson_line(e), E''\n'') || E''\n'' FROM (%s) e', query)
    INTO rows, first_logged_at, last_logged_at, last_id, body;
    IF octet_length(body) <= auditlog.max_page_bytes() THEN
      RETURN;
    END IF;
  END IF;
  -- Large entries: the page ends before the entry that would take its body
  -- past max_page_bytes (never before its first entry: upto, the body's
  -- length up to each entry, only grows).
  EXECUTE format('SELECT count(*)::int, min(r.logged_at), max(r.logged_at),'
                 ' (array_agg(r.id ORDER BY r.logged_at DESC, r.id DESC))[1],'
                 ' string_agg(r.line, E''\n'') || E''\n'''
                 ' FROM (SELECT e.logged_at, e.id, l.line, row_number() OVER w AS n, sum(octet_length(l.line) + 1) OVER w AS upto'
                 '       FROM (%s) e CROSS JOIN LATERAL (SELECT auditlog.ndjson_line(e)) AS l(line)'
                 '       WINDOW w AS (ORDER BY e.logged_at, e.id)) r'
                 ' WHERE r.upto <= %s OR r.n = 1',
                 query, auditlog.max_page_bytes())
  INTO rows, first_logged_at, last_logged_at, last_id, body;
END
$$;
COMMENT ON FUNCTION auditlog.batch_page IS 'Internal: the next page of a batch for a sink after a key, or nulls when the batch is done.';

-- acked_at only grows for a sink, even when the clock steps back: it orders the chain.
CREATE OR REPLACE FUNCTION auditlog.ack(sink text, page_id uuid)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s auditlog.sink;
  p auditlog.page;
  previous text;
  acked timestamptz;
BEGIN
  PERFORM auditlog.refuse_transaction_block('auditlog.ack()');
  PERFORM auditlog.check_exportable('auditlog.ack()');
  IF page_id IS NULL THEN
    RAISE EXCEPTION 'page_id must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM set_config('synchronous_commit', 'on', true);
  s := auditlog.locked_sink(sink);
  SELECT * INTO p FROM auditlog.page pg WHERE pg.page_id = ack.page_id AND pg.sink = s.name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'page % was not handed out to sink "%"', page_id, s.name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Acknowledge the page_id that next_page() returned for this sink.';
  END IF;
  IF p.acked_at IS NOT NULL THEN
    RAISE NOTICE 'page % of sink "%" was acknowledged already, at %', page_id, s.name, p.acked_at;
    RETURN false;
  END IF;
  previous := (SELECT last_sha256 FROM auditlog.sink_state st WHERE st.sink = s.name);
  -- The chain's order is the order of acked_at (auditlogctl verify walks it
  -- so): it only grows for a sink, even when the clock steps back.
  acked := greatest(clock_timestamp(),
                    (SELECT pg.acked_at FROM auditlog.page pg WHERE pg.sink = s.name AND pg.acked_at IS NOT NULL
                     ORDER BY pg.acked_at DESC LIMIT 1) + interval '1 microsecond');
  UPDATE auditlog.page pg SET acked_at = acked, prev_sha256 = previous WHERE pg.page_id = p.page_id;
  -- Compare-and-set: the key moves only within the page's own batch, so a
  -- page acknowledged late never moves the cursor back nor past an anchor.
  UPDATE auditlog.sink_state st
  SET after_stream = p.stream, after_logged_at = p.last_logged_at, after_id = p.last_id,
      last_sha256 = p.sha256, last_ack_at = acked,
      pages_acked = st.pages_acked + 1, rows_acked = st.rows_acked + p.rows
  WHERE st.sink = s.name AND st.cursor_tick = p.lo_tick AND st.batch_tick = p.hi_tick;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'auditlog: sink "%" moved past page % while it was in flight', s.name, p.page_id
      USING ERRCODE = 'internal_error';
  END IF;
  RETURN true;
END
$$;
COMMENT ON FUNCTION auditlog.ack IS
  'Acknowledges the page in flight once its object is stored: the sink moves past it. Returns false, changing nothing, for a page acknowledged already; refuses a page not handed out to this sink. Runs as its own transaction.';

-- auditlog_reader may read the pages handed out, the sinks' export state and
-- the parts of export jobs: auditlogctl verify walks a sink's chain, and an
-- export job's worker joins the parts acknowledged before it.
GRANT SELECT ON auditlog.page, auditlog.sink_state, auditlog.export_part TO auditlog_reader;
