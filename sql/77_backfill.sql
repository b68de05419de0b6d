-- Backfills: a sink's export of a past window [from, to), on request.
--
-- A sink never rescans history on its own; a backfill does, in bounded
-- steps. It walks the window in (logged_at, id) order one chunk at a time:
-- the next max_rows entries of one UTC day, whatever their stream, found
-- through the primary key. Each stream present in the chunk (and passing the
-- sink's filters) is paged in turn, in pinned pages of at most
-- max_page_bytes() (mostly one a stream), so every page is one stream and
-- one day and no statement reads more than a chunk. Its objects carry the
-- backfill's id in their keys, so overlapping backfills never overwrite each
-- other; they may overlap the sink's own pages (a window is a time range, a
-- sink's batches are snapshots), which is why they are opt-in. It never
-- touches the sink's cursor.

CREATE TABLE auditlog.backfill (
  backfill_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sink                 text NOT NULL REFERENCES auditlog.sink ON DELETE CASCADE,
  -- a window of time, or a gap: the batch between two ticks
  kind                 text NOT NULL DEFAULT 'window' CHECK (kind IN ('window', 'gap')),
  range_start          timestamptz NOT NULL,
  range_end            timestamptz NOT NULL,
  lo_tick              bigint,
  hi_tick              bigint,
  status               text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'cancelled')),
  -- every entry up to this key is exported (a gap's key starts with a stream)
  after_stream         text,
  after_logged_at      timestamptz,
  after_id             uuid,
  -- the chunk being exported: up to this key, these streams still to page
  -- (the first of them paged up to chunk_after_*, below)
  chunk_last_logged_at timestamptz,
  chunk_last_id        uuid,
  chunk_streams        text[],
  -- how far the first of chunk_streams is paged
  chunk_after_logged_at timestamptz,
  chunk_after_id       uuid,
  -- the SHA-256 of its last page acknowledged (its pages are in auditlog.page)
  last_sha256          text,
  rows_exported        bigint NOT NULL DEFAULT 0,
  pages_exported       int NOT NULL DEFAULT 0,
  requested_by         text NOT NULL DEFAULT session_user,
  created_at           timestamptz NOT NULL DEFAULT now(),
  finished_at          timestamptz
);
COMMENT ON TABLE auditlog.backfill IS
  'Backfills: exports of a past window to a sink, chunk by chunk, with their own object keys and progress.';
ALTER TABLE auditlog.page ADD CONSTRAINT page_backfill_id_fkey
  FOREIGN KEY (backfill_id) REFERENCES auditlog.backfill ON DELETE CASCADE;

CREATE FUNCTION auditlog_internal.locked_backfill(backfill_id bigint)
RETURNS auditlog.backfill
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b auditlog.backfill;
BEGIN
  SELECT * INTO b FROM auditlog.backfill bf WHERE bf.backfill_id = locked_backfill.backfill_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'backfill % does not exist', backfill_id
      USING ERRCODE = 'undefined_object', HINT = 'auditlog.backfill_status lists the backfills.';
  END IF;
  RETURN b;
END
$$;
COMMENT ON FUNCTION auditlog_internal.locked_backfill IS 'Internal: the backfill''s row, locked for update; an error if there is none.';

CREATE FUNCTION auditlog.start_backfill(sink text, "from" timestamptz, "to" timestamptz)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s auditlog.sink := auditlog_internal.locked_sink(sink);
  id bigint;
BEGIN
  PERFORM auditlog_internal.import_window_lock();  -- serialised with import_begin(): see 79_import.sql
  PERFORM auditlog_internal.check_past_window("from", "to");
  INSERT INTO auditlog.backfill (sink, range_start, range_end) VALUES (s.name, "from", "to")
  RETURNING backfill_id INTO id;
  RETURN id;
END
$$;
COMMENT ON FUNCTION auditlog.start_backfill IS
  'Starts exporting the window ["from", "to") to the sink: ends no later than the settled horizon, starts no earlier than the oldest partition kept. Its pages may overlap the sink''s own; its object keys are its own. Returns its id.';

CREATE FUNCTION auditlog.backfill_next_page(backfill_id bigint, max_rows int DEFAULT 10000)
RETURNS SETOF auditlog.page_out
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
SET work_mem = '64MB'  -- a page's body is megabytes: keep it off disk
SET max_parallel_workers_per_gather = 0  -- a page reads a few thousand rows: no workers to start
AS $$
DECLARE
  b auditlog.backfill;
  s auditlog.sink;
  pinned auditlog.page;
  owner auditlog.page;
  cut record;
  chunk record;
BEGIN
  PERFORM auditlog_internal.refuse_transaction_block('auditlog.backfill_next_page()');
  PERFORM auditlog_internal.check_max_rows(max_rows);
  PERFORM set_config('synchronous_commit', 'on', true);
  b := auditlog_internal.locked_backfill(backfill_id);
  s := (SELECT sk FROM auditlog.sink sk WHERE sk.name = b.sink);
  SELECT * INTO pinned FROM auditlog.page p WHERE p.backfill_id = b.backfill_id AND p.acked_at IS NULL;
  IF FOUND THEN
    RETURN NEXT auditlog_internal.page_out(pinned, auditlog_internal.pinned_body(pinned));
    RETURN;
  END IF;
  owner.backfill_id := b.backfill_id;
  owner.tenant_id := s.tenant_id;
  owner.operation_prefix := s.operation_prefix;
  owner.format := 'ndjson';

  -- Each turn pins a page, or finishes a chunk, or reads the next one; a
  -- chunk with nothing for this sink is passed over in the same call.
  FOR turn IN 1..100 LOOP
    IF b.status <> 'running' THEN
      RETURN;
    END IF;

    IF b.kind = 'gap' THEN
      -- A gap is a batch, paged as a sink pages its own.
      SELECT * INTO cut FROM auditlog_internal.pin_batch_page(owner, s, b.lo_tick, b.hi_tick,
                                                     b.after_stream, b.after_logged_at, b.after_id, max_rows);
      IF cut.page IS NULL THEN
        UPDATE auditlog.backfill bf SET status = 'done', finished_at = now() WHERE bf.backfill_id = b.backfill_id;
        RETURN;
      END IF;
      RETURN NEXT auditlog_internal.page_out(cut.page, cut.body);
      RETURN;
    END IF;

    IF b.chunk_last_id IS NOT NULL THEN
      IF cardinality(b.chunk_streams) = 0 THEN
        UPDATE auditlog.backfill bf
        SET after_logged_at = bf.chunk_last_logged_at, after_id = bf.chunk_last_id,
            chunk_last_logged_at = NULL, chunk_last_id = NULL, chunk_streams = NULL,
            chunk_after_logged_at = NULL, chunk_after_id = NULL
        WHERE bf.backfill_id = b.backfill_id RETURNING * INTO b;
        CONTINUE;
      END IF;
      -- The next page of the chunk's first stream still to page, if any is
      -- left of it: its entries after the key it is paged up to (or the
      -- chunk's start), up to the chunk's last key.
      owner.stream := b.chunk_streams[1];
      owner.last_logged_at := b.chunk_last_logged_at;
      owner.last_id := b.chunk_last_id;
      SELECT * INTO cut
      FROM auditlog_internal.pin_page(owner,
                             CASE WHEN b.chunk_after_id IS NOT NULL THEN b.chunk_after_logged_at ELSE b.after_logged_at END,
                             CASE WHEN b.chunk_after_id IS NOT NULL THEN b.chunk_after_id ELSE b.after_id END,
                             b.range_start, b.range_end, NULL);
      IF cut.page IS NULL THEN
        UPDATE auditlog.backfill bf
        SET chunk_streams = bf.chunk_streams[2:], chunk_after_logged_at = NULL, chunk_after_id = NULL
        WHERE bf.backfill_id = b.backfill_id RETURNING * INTO b;
        CONTINUE;
      END IF;
      RETURN NEXT auditlog_internal.page_out(cut.page, cut.body);
      RETURN;
    END IF;

    -- The next chunk: up to max_rows entries of the day of the next one.
    EXECUTE format('SELECT count(*) AS n, (array_agg(c.logged_at ORDER BY c.logged_at DESC, c.id DESC))[1] AS last_logged_at,'
                   ' (array_agg(c.id ORDER BY c.logged_at DESC, c.id DESC))[1] AS last_id,'
                   ' coalesce(array_agg(DISTINCT c.stream ORDER BY c.stream) FILTER (WHERE c.wanted), ''{}'') AS streams'
                   ' FROM (SELECT e.logged_at, e.id, e.stream, true%s AS wanted FROM auditlog.entry e'
                   ' WHERE e.logged_at >= %L AND e.logged_at < %L%s ORDER BY e.logged_at, e.id LIMIT %s) c',
                   auditlog_internal.entry_filter(s.stream, s.tenant_id, s.operation_prefix),
                   greatest(b.range_start, b.after_logged_at),
                   least(b.range_end, auditlog.utc_day(greatest(b.range_start, b.after_logged_at)) + interval '1 day'),
                   CASE WHEN b.after_id IS NOT NULL
                        THEN format(' AND (e.logged_at, e.id) > (%L::timestamptz, %L::uuid)', b.after_logged_at, b.after_id) END,
                   max_rows)
    INTO chunk;
    IF chunk.n = 0 THEN
      -- Nothing left in this day: on to the next day with entries, or done.
      EXECUTE format('SELECT e.logged_at, e.id FROM auditlog.entry e WHERE e.logged_at >= %L AND e.logged_at < %L'
                     ' ORDER BY e.logged_at, e.id LIMIT 1',
                     auditlog.utc_day(greatest(b.range_start, b.after_logged_at)) + interval '1 day', b.range_end)
      INTO chunk;
      IF chunk IS NULL OR chunk.logged_at IS NULL THEN
        UPDATE auditlog.backfill bf SET status = 'done', finished_at = now() WHERE bf.backfill_id = b.backfill_id;
        RETURN;
      END IF;
      -- Resume just before that entry.
      UPDATE auditlog.backfill bf
      SET after_logged_at = chunk.logged_at, after_id = '00000000-0000-0000-0000-000000000000'
      WHERE bf.backfill_id = b.backfill_id RETURNING * INTO b;
      CONTINUE;
    END IF;
    UPDATE auditlog.backfill bf
    SET chunk_last_logged_at = chunk.last_logged_at, chunk_last_id = chunk.last_id, chunk_streams = chunk.streams
    WHERE bf.backfill_id = b.backfill_id RETURNING * INTO b;
  END LOOP;
  -- A long stretch with nothing for this sink: progress is saved; call again.
END
$$;
COMMENT ON FUNCTION auditlog.backfill_next_page IS
  'The backfill''s next page (one stream, one UTC day, NDJSON, under a key of its own), pinned until acknowledged with backfill_ack(); no row when it is done (backfill_status says so) or, rarely, when a long stretch held nothing for this sink (call again). Runs as its own transaction.';

CREATE FUNCTION auditlog.backfill_ack(backfill_id bigint, page_id uuid)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b auditlog.backfill;
  p auditlog.page;
BEGIN
  PERFORM auditlog_internal.refuse_transaction_block('auditlog.backfill_ack()');
  PERFORM set_config('synchronous_commit', 'on', true);
  b := auditlog_internal.locked_backfill(backfill_id);
  p := auditlog_internal.ack_page(page_id, NULL, b.backfill_id, NULL, b.last_sha256);
  IF p IS NULL THEN
    RETURN false;
  END IF;
  -- A gap's page moves the batch's key, as a sink's does; a window's moves
  -- its stream's key within the chunk.
  UPDATE auditlog.backfill bf
  SET after_stream = CASE WHEN bf.kind = 'gap' THEN p.stream ELSE bf.after_stream END,
      after_logged_at = CASE WHEN bf.kind = 'gap' THEN p.last_logged_at ELSE bf.after_logged_at END,
      after_id = CASE WHEN bf.kind = 'gap' THEN p.last_id ELSE bf.after_id END,
      chunk_after_logged_at = CASE WHEN bf.kind = 'window' THEN p.last_logged_at END,
      chunk_after_id = CASE WHEN bf.kind = 'window' THEN p.last_id END,
      rows_exported = bf.rows_exported + p.rows, pages_exported = bf.pages_exported + 1, last_sha256 = p.sha256
  WHERE bf.backfill_id = b.backfill_id;
  RETURN true;
END
$$;
COMMENT ON FUNCTION auditlog.backfill_ack IS
  'Acknowledges the backfill''s page in flight once its object is stored; returns false, changing nothing, for a page acknowledged already. Runs as its own transaction.';

CREATE FUNCTION auditlog.backfill_gap(sink text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s auditlog.sink := auditlog_internal.locked_sink(sink);
  gap auditlog.sink_gap;
  id bigint;
BEGIN
  SELECT * INTO gap FROM auditlog.sink_gap g WHERE g.sink = s.name ORDER BY g.from_tick LIMIT 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'sink "%" has no gap to backfill', s.name
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'A gap is left when a sink is disabled and enabled again.';
  END IF;
  -- Its time range, for status and retention: every entry of the batch lies
  -- between these (the bound of the oldest writer it can hold, and the time
  -- of the tick that closes it, plus the clock's slack of a day).
  INSERT INTO auditlog.backfill (sink, kind, lo_tick, hi_tick, range_start, range_end)
  SELECT s.name, 'gap', gap.from_tick, gap.to_tick, auditlog.time_bound(pg_snapshot_xmin(lo.snap)), hi.taken_at + interval '1 day'
  FROM auditlog.tick lo, auditlog.tick hi WHERE lo.tick_id = gap.from_tick AND hi.tick_id = gap.to_tick
  RETURNING backfill_id INTO id;
  DELETE FROM auditlog.sink_gap g WHERE g.sink = s.name AND g.from_tick = gap.from_tick;
  RETURN id;
END
$$;
COMMENT ON FUNCTION auditlog.backfill_gap IS
  'Starts exporting, exactly, the oldest gap the sink has: what was committed between the tick that disabled it and the tick that enabled it again. Page it with backfill_next_page() like any backfill. Returns its id.';

CREATE FUNCTION auditlog.waive_gaps(sink text)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s auditlog.sink := auditlog_internal.locked_sink(sink);
  waived int;
BEGIN
  DELETE FROM auditlog.sink_gap g WHERE g.sink = s.name;
  GET DIAGNOSTICS waived = ROW_COUNT;
  RETURN waived;
END
$$;
COMMENT ON FUNCTION auditlog.waive_gaps IS
  'Gives up on the sink''s gaps (their ticks can then be pruned). Returns how many.';

CREATE FUNCTION auditlog.cancel_backfill(backfill_id bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b auditlog.backfill;
BEGIN
  b := auditlog_internal.locked_backfill(backfill_id);
  IF b.status <> 'running' THEN
    RETURN false;
  END IF;
  UPDATE auditlog.backfill bf SET status = 'cancelled', finished_at = now() WHERE bf.backfill_id = b.backfill_id;
  DELETE FROM auditlog.page p WHERE p.backfill_id = b.backfill_id AND p.acked_at IS NULL;
  -- A gap being backfilled is owed again (its ticks are still kept: the
  -- running backfill held them), so backfill_gap() can start it over.
  IF b.kind = 'gap' THEN
    INSERT INTO auditlog.sink_gap (sink, from_tick, to_tick) VALUES (b.sink, b.lo_tick, b.hi_tick)
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN true;
END
$$;
COMMENT ON FUNCTION auditlog.cancel_backfill IS 'Cancels a running backfill; a cancelled gap backfill leaves its gap owed, for backfill_gap() to start again. Returns false if it had ended already.';

CREATE VIEW auditlog.backfill_status AS
SELECT b.backfill_id, b.sink, b.range_start, b.range_end, b.status,
       coalesce(b.after_logged_at, b.range_start) AS done_up_to,
       CASE WHEN b.status = 'done' THEN 100.0 ELSE
       round(100 * extract(epoch FROM least(greatest(coalesce(b.after_logged_at, b.range_start), b.range_start), b.range_end) - b.range_start)
                 / extract(epoch FROM b.range_end - b.range_start), 1) END AS percent,
       EXISTS (SELECT FROM auditlog.page p WHERE p.backfill_id = b.backfill_id AND p.acked_at IS NULL) AS page_in_flight,
       b.rows_exported, b.pages_exported, b.requested_by, b.created_at, b.finished_at
FROM auditlog.backfill b;
COMMENT ON VIEW auditlog.backfill_status IS 'Backfills: window, status, how far they got (percent of the window), pages and rows exported.';

