-- A sink's own pages: next_page() hands out the next page of new entries,
-- ack() moves the sink past it once its object is stored (the page model
-- itself, one for every owner, is in 75_pages.sql).
--
-- A sink exports batches: the entries committed between two ticks, (lo, hi].
-- Its state (70_sinks.sql) holds the batch it is in and the key (stream,
-- logged_at, id) up to which the batch is exported; a batch is paged stream
-- by stream, each page one stream and one UTC day.

CREATE TYPE auditlog.page_out AS (
  page_id         uuid,
  object_key      text,
  stream          text,
  day             date,
  rows            int,
  first_logged_at timestamptz,
  last_logged_at  timestamptz,
  sha256          text,
  body            text
);
COMMENT ON TYPE auditlog.page_out IS 'A page as next_page() and backfill_next_page() hand it out.';

CREATE FUNCTION auditlog_internal.page_out(p auditlog.page, body text)
RETURNS auditlog.page_out
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
RETURN (p.page_id, p.object_key, p.stream, auditlog.utc_day(p.first_logged_at)::date, p.rows,
        p.first_logged_at, p.last_logged_at, p.sha256, body)::auditlog.page_out;
COMMENT ON FUNCTION auditlog_internal.page_out IS 'Internal: a pinned page and its body as next_page() hands them out.';

-- A sink whose export state is missing (restored from a dump: the state is
-- made of ticks, never dumped) or not this cluster's (its cursor tick is gone,
-- or its snapshot is ahead of this cluster's) is anchored afresh, and says so
-- in sink_status. Restored entries are never taken for this cluster's: the
-- first tick of a restored log lifted the clock floor above every one of
-- them, so every tick, and every batch's time bound, lies above them.
CREATE FUNCTION auditlog_internal.reanchor_if_foreign(s auditlog.sink)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  state auditlog.sink_state := (SELECT st FROM auditlog.sink_state st WHERE st.sink = s.name);
  cursor_snap pg_snapshot := (SELECT snap FROM auditlog.tick WHERE tick_id = state.cursor_tick);
  reason text;
BEGIN
  IF state IS NULL THEN
    IF NOT s.enabled THEN
      RETURN;
    END IF;
    reason := 'restored from a dump';
  ELSIF cursor_snap IS NULL THEN
    reason := 'its cursor tick is missing';
  ELSIF pg_snapshot_xmax(cursor_snap) > pg_snapshot_xmax(pg_current_snapshot()) THEN
    reason := 'its cursor is ahead of this cluster';
  ELSE
    RETURN;
  END IF;
  DELETE FROM auditlog.sink_state st WHERE st.sink = s.name;
  DELETE FROM auditlog.sink_segment sg WHERE sg.sink = s.name;
  DELETE FROM auditlog.page p WHERE p.sink = s.name AND p.acked_at IS NULL;
  IF s.enabled THEN
    PERFORM auditlog_internal.anchor_sink(s.name, 're-anchored: ' || reason);
  END IF;
  RAISE WARNING 'auditlog: sink "%" re-anchored at a fresh tick: %; entries logged before it are exported only by a backfill',
    s.name, reason;
END
$$;
COMMENT ON FUNCTION auditlog_internal.reanchor_if_foreign IS 'Internal: re-anchors a sink whose export state is missing or not this cluster''s.';

-- Cuts and pins the next page of batch (lo, hi] for owner p (a sink, or a
-- backfill of a sink's gap) after the key (after_stream, after_logged_at,
-- after_id), with the sink's filters: the first entry after the key decides
-- the stream and the UTC day; the page is at most max_rows entries of those,
-- in (logged_at, id) order, and at most max_page_bytes() of NDJSON (at least
-- one entry). Nothing when the batch has nothing more.
CREATE FUNCTION auditlog_internal.pin_batch_page(p auditlog.page, s auditlog.sink, lo bigint, hi bigint,
                                        after_stream text, after_logged_at timestamptz, after_id uuid, max_rows int,
                                        OUT page auditlog.page, OUT body text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
AS $$
DECLARE
  condition text := auditlog_internal.batch_condition(lo, hi) || auditlog_internal.entry_filter(s.stream, s.tenant_id, s.operation_prefix);
  first_row record;
  same_stream boolean;
  cut record;
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
  p.stream := first_row.stream;
  p.tenant_id := s.tenant_id;
  p.operation_prefix := s.operation_prefix;
  p.lo_tick := lo;
  p.hi_tick := hi;
  p.format := 'ndjson';
  same_stream := after_stream = first_row.stream;
  SELECT * INTO cut
  FROM auditlog_internal.pin_page(p, CASE WHEN same_stream THEN after_logged_at END, CASE WHEN same_stream THEN after_id END,
                         auditlog.utc_day(first_row.logged_at), auditlog.utc_day(first_row.logged_at) + interval '1 day',
                         max_rows);
  page := cut.page;
  body := cut.body;
END
$$;
COMMENT ON FUNCTION auditlog_internal.pin_batch_page IS
  'Internal: cuts and pins the next page of a batch with a sink''s filters after a key, or nothing when the batch is done.';

CREATE FUNCTION auditlog.next_page(sink text, max_rows int DEFAULT 10000)
RETURNS SETOF auditlog.page_out
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
SET DateStyle = 'ISO'
SET work_mem = '64MB'  -- a page's body is megabytes: keep it off disk
SET max_parallel_workers_per_gather = 0  -- a page reads a few thousand rows: no workers to start
AS $$
DECLARE
  s auditlog.sink;
  state auditlog.sink_state;
  pinned auditlog.page;
  segment auditlog.sink_segment;
  last_state auditlog.sink_state;
  last_segment auditlog.sink_segment;
  hi bigint;
  took_fresh_tick boolean := false;
  owner auditlog.page;
  cut record;
BEGIN
  PERFORM auditlog_internal.refuse_transaction_block('auditlog.next_page()');
  PERFORM auditlog_internal.check_exportable('auditlog.next_page()');
  PERFORM auditlog_internal.check_max_rows(max_rows);
  PERFORM set_config('synchronous_commit', 'on', true);
  s := auditlog_internal.locked_sink(sink);
  PERFORM auditlog_internal.reanchor_if_foreign(s);
  owner.sink := s.name;

  SELECT * INTO pinned FROM auditlog.page p WHERE p.sink = s.name AND p.acked_at IS NULL;
  IF FOUND THEN
    RETURN NEXT auditlog_internal.page_out(pinned, auditlog_internal.pinned_body(pinned));
    RETURN;
  END IF;

  -- Each turn either finds a page, or moves the sink on: to the next
  -- segment, past a finished one or batch, or to a new batch. It takes at
  -- most one fresh tick, after which an empty batch means the sink is up to
  -- date. However many (empty) segments a sink owes, it goes on until it has
  -- a page or owes nothing; a turn that moves nothing would be a bug, and
  -- says so rather than loop.
  LOOP
    SELECT * INTO state FROM auditlog.sink_state st WHERE st.sink = s.name;
    SELECT * INTO segment FROM auditlog.sink_segment sg WHERE sg.sink = s.name ORDER BY from_tick LIMIT 1;
    IF state IS NULL OR segment IS NULL THEN
      RETURN;  -- owes nothing
    END IF;
    IF (state, segment) IS NOT DISTINCT FROM (last_state, last_segment) THEN
      RAISE EXCEPTION 'auditlog: next_page() for sink "%" made no progress', s.name USING ERRCODE = 'internal_error';
    END IF;
    last_state := state;
    last_segment := segment;
    IF state.cursor_tick < segment.from_tick THEN
      -- The previous segment is done: continue from this one's anchor.
      UPDATE auditlog.sink_state st SET cursor_tick = segment.from_tick, batch_tick = NULL,
             after_stream = NULL, after_logged_at = NULL, after_id = NULL
      WHERE st.sink = s.name;
      CONTINUE;
    END IF;
    IF segment.to_tick IS NOT NULL AND state.cursor_tick >= segment.to_tick THEN
      DELETE FROM auditlog.sink_segment sg WHERE sg.sink = s.name AND sg.from_tick = segment.from_tick;
      CONTINUE;
    END IF;

    IF state.batch_tick IS NULL THEN
      hi := (SELECT max(tick_id) FROM auditlog.tick t
             WHERE t.tick_id > state.cursor_tick AND (segment.to_tick IS NULL OR t.tick_id <= segment.to_tick));
      IF hi IS NULL THEN
        IF took_fresh_tick OR segment.to_tick IS NOT NULL THEN
          RETURN;
        END IF;
        hi := auditlog.tick();
        took_fresh_tick := true;
      END IF;
      UPDATE auditlog.sink_state st SET batch_tick = hi WHERE st.sink = s.name;
      CONTINUE;
    END IF;

    SELECT * INTO cut FROM auditlog_internal.pin_batch_page(owner, s, state.cursor_tick, state.batch_tick,
                                                   state.after_stream, state.after_logged_at, state.after_id, max_rows);
    IF cut.page IS NULL THEN
      -- The batch is done.
      UPDATE auditlog.sink_state st SET cursor_tick = st.batch_tick, batch_tick = NULL,
             after_stream = NULL, after_logged_at = NULL, after_id = NULL
      WHERE st.sink = s.name;
      IF took_fresh_tick THEN
        RETURN;
      END IF;
      CONTINUE;
    END IF;
    RETURN NEXT auditlog_internal.page_out(cut.page, cut.body);
    RETURN;
  END LOOP;
END
$$;
COMMENT ON FUNCTION auditlog.next_page IS
  'The sink''s next page of new entries (one stream, one UTC day, at most max_rows, NDJSON body and the object key to store it under), or no row when it is up to date. Until acknowledged, the same page is returned again, identical. Runs as its own transaction: refuses inside a transaction block.';

CREATE FUNCTION auditlog.ack(sink text, page_id uuid)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s auditlog.sink;
  p auditlog.page;
BEGIN
  PERFORM auditlog_internal.refuse_transaction_block('auditlog.ack()');
  PERFORM auditlog_internal.check_exportable('auditlog.ack()');
  PERFORM set_config('synchronous_commit', 'on', true);
  s := auditlog_internal.locked_sink(sink);
  p := auditlog_internal.ack_page(page_id, s.name, NULL, NULL, (SELECT st.last_sha256 FROM auditlog.sink_state st WHERE st.sink = s.name));
  IF p IS NULL THEN
    RETURN false;
  END IF;
  -- Compare-and-set: the key moves only within the page's own batch, so a
  -- page acknowledged late never moves the cursor back nor past an anchor.
  UPDATE auditlog.sink_state st
  SET after_stream = p.stream, after_logged_at = p.last_logged_at, after_id = p.last_id,
      last_sha256 = p.sha256, last_ack_at = p.acked_at,
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

-- The way out for a page whose entries are gone: a forced purge (see purge())
-- dropped the day of a page in flight, so it can never be rendered again and
-- the sink would stall on it. Unpinning forgets the page, so that the sink's
-- next page starts again after the last acknowledged one (with whatever of
-- the batch is left), and records that in the log itself. A page that still
-- renders as it was handed out is never unpinned: store and acknowledge it.
CREATE FUNCTION auditlog.unpin_page(sink text, page_id uuid, reason text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s auditlog.sink;
  p auditlog.page;
  intact boolean;
BEGIN
  PERFORM auditlog_internal.refuse_transaction_block('auditlog.unpin_page()');
  IF reason IS NULL OR btrim(reason) = '' THEN
    RAISE EXCEPTION 'unpinning a page needs a reason, recorded in the log' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM set_config('synchronous_commit', 'on', true);
  s := auditlog_internal.locked_sink(sink);
  SELECT * INTO p FROM auditlog.page pg WHERE pg.page_id = unpin_page.page_id AND pg.sink = s.name AND pg.acked_at IS NULL;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'page % is not the page in flight of sink "%"', page_id, s.name
      USING ERRCODE = 'invalid_parameter_value', HINT = 'sink_status shows the page in flight.';
  END IF;
  BEGIN
    PERFORM auditlog_internal.pinned_body(p);
    intact := true;
  EXCEPTION WHEN data_corrupted THEN
    intact := false;
  END;
  IF intact THEN
    RAISE EXCEPTION 'page % of sink "%" still matches what was handed out', page_id, s.name
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Store it and acknowledge it with auditlog.ack(); only a page whose entries are gone is unpinned.';
  END IF;
  DELETE FROM auditlog.page pg WHERE pg.page_id = p.page_id;
  RAISE WARNING 'auditlog: page % of sink "%" unpinned: %', p.page_id, s.name, reason;
  PERFORM auditlog_internal.record_internal(operation => 'auditlog.page.unpinned', stream => 'auditlog',
                          actor_type => 'database_role', actor_id => session_user::text,
                          resource_type => 'page', resource_id => p.page_id::text,
                          details => jsonb_build_object('sink', s.name, 'object_key', p.object_key, 'rows', p.rows,
                                                        'sha256', p.sha256, 'reason', reason));
  RETURN true;
END
$$;
COMMENT ON FUNCTION auditlog.unpin_page IS
  'Forgets the page in flight of a sink when its entries are gone (a forced purge dropped its day), so the sink goes on after its last acknowledged page; records that in the log (operation auditlog.page.unpinned). Refuses a page that still renders as handed out. Runs as its own transaction.';
