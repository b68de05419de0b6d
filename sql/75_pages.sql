-- Pages: bounded, exact slices of a sink's batches, handed out by next_page()
-- and acknowledged by ack() once their object is stored.
--
-- A page holds entries of one stream and one UTC day, in (logged_at, id)
-- order, at most max_rows of them and at most 16 MiB of NDJSON (at least one
-- entry). It is pinned when first handed out (its batch and its first and
-- last keys are stored), so until it is acknowledged next_page() returns it
-- again, identical and under the same object key, whatever max_rows,
-- TimeZone or new ticks say: a retried upload overwrites, never duplicates.

CREATE TABLE auditlog.page (
  page_id         uuid PRIMARY KEY,
  sink            text NOT NULL REFERENCES auditlog.sink ON DELETE CASCADE,
  lo_tick         bigint NOT NULL,
  hi_tick         bigint NOT NULL,
  stream          text NOT NULL,
  -- the key (stream, logged_at, id) after which the page starts, if any
  after_stream    text,
  after_logged_at timestamptz,
  after_id        uuid,
  -- the key of its last entry
  last_logged_at  timestamptz NOT NULL,
  last_id         uuid NOT NULL,
  first_logged_at timestamptz NOT NULL,
  rows            int NOT NULL,
  object_key      text NOT NULL,
  sha256          text NOT NULL,
  prev_sha256     text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  acked_at        timestamptz
);
CREATE UNIQUE INDEX page_one_in_flight ON auditlog.page (sink) WHERE acked_at IS NULL;
CREATE INDEX page_sink_acked ON auditlog.page (sink, acked_at);
COMMENT ON TABLE auditlog.page IS
  'Pages handed out to sinks: the one in flight per sink (acked_at null) and the acknowledged ones, each with its SHA-256 and its predecessor''s, a chain auditlogctl verify checks.';

-- Pages are NDJSON: one entry a line, the columns of auditlog.entry by name,
-- in table order, writer_xid left out, times in UTC (extension/src/export.c).
CREATE FUNCTION auditlog.ndjson_line(e auditlog.entry)
RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'auditlog_ndjson_line';
COMMENT ON FUNCTION auditlog.ndjson_line IS 'One entry as a line of the export''s NDJSON.';

-- The SHA-256 (hex) of a page body as stored: the NDJSON text's UTF-8 bytes.
CREATE FUNCTION auditlog.body_sha256(body text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN encode(sha256(convert_to(body, 'UTF8')), 'hex');
COMMENT ON FUNCTION auditlog.body_sha256 IS 'The SHA-256, in hex, of a page body.';

-- One renderer for every kind of page (a sink's, a backfill's, an export
-- job's part), and for a pinned page rendered again: the aggregate
-- render_entries(e, format, max_bytes, head) renders the entries it is given
-- as NDJSON (ndjson_line) or CSV (entry_csv) lines, after head (the CSV
-- header, or nothing), each line ending in a newline, and keeps the longest
-- prefix of them in (logged_at, id) order whose body is at most max_bytes
-- (null: no bound), never less than the first. Its result depends only on
-- the set of rows it is given, never on the order the plan feeds them in, so
-- the same rows always render to the same bytes (extension/src/render.c).
CREATE TYPE auditlog.rendered_page AS (
  rows            int,
  first_logged_at timestamptz,
  last_logged_at  timestamptz,
  last_id         uuid,
  body            text
);
COMMENT ON TYPE auditlog.rendered_page IS
  'Entries rendered as a page body: how many, the keys of the first and the last, and the body (null when there were none).';

CREATE FUNCTION auditlog.render_step(state internal, e auditlog.entry, format text, max_bytes int, head text)
RETURNS internal
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'auditlog_render_step';
COMMENT ON FUNCTION auditlog.render_step IS 'Internal: the transition function of render_entries().';

CREATE FUNCTION auditlog.render_final(state internal)
RETURNS auditlog.rendered_page
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'auditlog_render_final';
COMMENT ON FUNCTION auditlog.render_final IS 'Internal: the final function of render_entries().';

CREATE AGGREGATE auditlog.render_entries(e auditlog.entry, format text, max_bytes int, head text) (
  SFUNC = auditlog.render_step,
  STYPE = internal,
  FINALFUNC = auditlog.render_final,
  FINALFUNC_MODIFY = READ_ONLY,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE auditlog.render_entries(auditlog.entry, text, int, text) IS
  'Internal: the entries as a page body in format ndjson or csv, after head: the longest prefix in (logged_at, id) order of at most max_bytes (at least one entry), whatever order they come in.';

-- The query that renders the entries another query selects, as one row of
-- auditlog.rendered_page: every page, of every kind, is rendered by it.
CREATE FUNCTION auditlog.render_query(query text, format text, max_bytes int, head text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
RETURN format('SELECT (p.r).* FROM (SELECT auditlog.render_entries(e, %L, %L, %L) AS r FROM (%s) e) p',
              format, max_bytes, head, query);
COMMENT ON FUNCTION auditlog.render_query IS
  'Internal: the query that renders the entries of query as a page body (auditlog.rendered_page), bounded by max_bytes.';

-- A pinned page rendered again: the same aggregate over the same rows (those
-- query selects, from the key after which the page starts up to its last
-- key; no query for a page of no entries), checked against the SHA-256
-- recorded when it was handed out. Unbounded: those rows fitted the bound
-- they were handed out under.
CREATE FUNCTION auditlog.render_again(query text, format text, head text, sha256 text, page_id uuid, owner text)
RETURNS auditlog.rendered_page
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  page auditlog.rendered_page;
BEGIN
  IF query IS NOT NULL THEN
    EXECUTE auditlog.render_query(query, format, NULL, head) INTO page;
  END IF;
  page.rows := coalesce(page.rows, 0);
  page.body := coalesce(page.body, head, '');
  IF auditlog.body_sha256(page.body) IS DISTINCT FROM sha256 THEN
    RAISE EXCEPTION 'auditlog: page % of % no longer matches what was handed out', page_id, owner
      USING ERRCODE = 'data_corrupted',
            DETAIL = 'Its entries were changed or dropped since: see auditlog.purge() with force.';
  END IF;
  RETURN page;
END
$$;
COMMENT ON FUNCTION auditlog.render_again IS
  'Internal: a pinned page rendered again from its rows, checked against the SHA-256 it was handed out with.';

-- The condition on auditlog.entry e for a sink's filters.
CREATE FUNCTION auditlog.sink_filter(s auditlog.sink)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
RETURN concat(
  CASE WHEN s.stream IS NOT NULL THEN format(' AND e.stream = %L', s.stream) END,
  CASE WHEN s.tenant_id IS NOT NULL THEN format(' AND e.tenant_id = %L', s.tenant_id) END,
  CASE WHEN s.operation_prefix IS NOT NULL THEN format(' AND starts_with(e.operation, %L)', s.operation_prefix) END);
COMMENT ON FUNCTION auditlog.sink_filter IS 'Internal: SQL condition on auditlog.entry e for the sink''s filters.';

-- The query for the entries of a page, in order: those of the sink's batch
-- (lo, hi] in stream `stream`, within the UTC day starting at `day`, after
-- key `after` (if any) and up to key `last` (if any), at most `max_rows`.
CREATE FUNCTION auditlog.page_query(s auditlog.sink, lo bigint, hi bigint, stream text, day timestamptz,
                                    after_stream text, after_logged_at timestamptz, after_id uuid,
                                    last_logged_at timestamptz, last_id uuid, max_rows int)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
RETURN format(
  'SELECT e.* FROM auditlog.entry e WHERE %s%s AND e.stream = %L AND e.logged_at >= %L AND e.logged_at < %L%s%s'
  ' ORDER BY e.logged_at, e.id%s',
  auditlog.batch_condition(lo, hi), auditlog.sink_filter(s), stream, day, day + interval '1 day',
  CASE WHEN after_stream = stream THEN format(' AND (e.logged_at, e.id) > (%L::timestamptz, %L::uuid)', after_logged_at, after_id) END,
  CASE WHEN last_id IS NOT NULL THEN format(' AND (e.logged_at, e.id) <= (%L::timestamptz, %L::uuid)', last_logged_at, last_id) END,
  CASE WHEN max_rows IS NOT NULL THEN format(' LIMIT %s', max_rows) END);
COMMENT ON FUNCTION auditlog.page_query IS 'Internal: the query for the entries of one page.';

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
COMMENT ON TYPE auditlog.page_out IS 'A page as next_page() hands it out.';

-- A pinned page, rendered again from its bounds: the same rows, so the same
-- text.
CREATE FUNCTION auditlog.render_page(p auditlog.page)
RETURNS auditlog.page_out
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  s auditlog.sink := (SELECT s FROM auditlog.sink s WHERE s.name = p.sink);
  page auditlog.rendered_page;
BEGIN
  page := auditlog.render_again(auditlog.page_query(s, p.lo_tick, p.hi_tick, p.stream, auditlog.utc_day(p.first_logged_at),
                                                    p.after_stream, p.after_logged_at, p.after_id, p.last_logged_at, p.last_id, NULL),
                                'ndjson', NULL, p.sha256, p.page_id, format('sink "%s"', p.sink));
  RETURN (p.page_id, p.object_key, p.stream, auditlog.utc_day(p.first_logged_at)::date, p.rows,
          p.first_logged_at, p.last_logged_at, p.sha256, page.body)::auditlog.page_out;
END
$$;
COMMENT ON FUNCTION auditlog.render_page IS 'Internal: the body of a pinned page, checked against its recorded SHA-256.';

-- A sink whose export state is missing (restored from a dump: the state is
-- made of ticks, never dumped) or not this cluster's (its cursor tick is gone,
-- or its snapshot is ahead of this cluster's) is anchored afresh, and says so
-- in sink_status. Restored entries are never taken for this cluster's: the
-- first tick of a restored log lifted the clock floor above every one of
-- them, so every tick, and every batch's time bound, lies above them.
CREATE FUNCTION auditlog.reanchor_if_foreign(s auditlog.sink)
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
    PERFORM auditlog.anchor_sink(s.name, 're-anchored: ' || reason);
  END IF;
  RAISE WARNING 'auditlog: sink "%" re-anchored at a fresh tick: %; entries logged before it are exported only by a backfill',
    s.name, reason;
END
$$;
COMMENT ON FUNCTION auditlog.reanchor_if_foreign IS 'Internal: re-anchors a sink whose export state is missing or not this cluster''s.';

-- The most bytes in a page body, of every kind, whatever max_rows says, so
-- that a page of large entries stays small enough to render, hold and upload.
CREATE FUNCTION auditlog.max_page_bytes()
RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 16 * 1024 * 1024;
COMMENT ON FUNCTION auditlog.max_page_bytes IS 'Internal: the most bytes in a page body, of every kind (16 MiB); a page holds at least one entry.';

-- The next page of batch (lo, hi] for a sink after the key (after_stream,
-- after_logged_at, after_id): the first entry after the key decides the
-- stream and the UTC day; the page is at most max_rows entries of those, in
-- (logged_at, id) order, and at most max_page_bytes() of NDJSON (at least
-- one entry). All null when the batch has nothing more.
CREATE FUNCTION auditlog.batch_page(s auditlog.sink, lo bigint, hi bigint,
                                    after_stream text, after_logged_at timestamptz, after_id uuid, max_rows int,
                                    OUT stream text, OUT rows int, OUT first_logged_at timestamptz,
                                    OUT last_logged_at timestamptz, OUT last_id uuid, OUT body text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
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
  EXECUTE auditlog.render_query(query, 'ndjson', auditlog.max_page_bytes(), NULL)
  INTO rows, first_logged_at, last_logged_at, last_id, body;
END
$$;
COMMENT ON FUNCTION auditlog.batch_page IS 'Internal: the next page of a batch for a sink after a key, or nulls when the batch is done.';

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
  slice record;
  day timestamptz;
  page auditlog.page;
  body text;
BEGIN
  PERFORM auditlog.refuse_transaction_block('auditlog.next_page()');
  PERFORM auditlog.check_exportable('auditlog.next_page()');
  PERFORM auditlog.check_max_rows(max_rows);
  PERFORM set_config('synchronous_commit', 'on', true);
  s := auditlog.locked_sink(sink);
  PERFORM auditlog.reanchor_if_foreign(s);

  SELECT * INTO pinned FROM auditlog.page p WHERE p.sink = s.name AND p.acked_at IS NULL;
  IF FOUND THEN
    RETURN NEXT auditlog.render_page(pinned);
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

    slice := auditlog.batch_page(s, state.cursor_tick, state.batch_tick,
                                 state.after_stream, state.after_logged_at, state.after_id, max_rows);
    IF slice.stream IS NULL THEN
      -- The batch is done.
      UPDATE auditlog.sink_state st SET cursor_tick = st.batch_tick, batch_tick = NULL,
             after_stream = NULL, after_logged_at = NULL, after_id = NULL
      WHERE st.sink = s.name;
      IF took_fresh_tick THEN
        RETURN;
      END IF;
      CONTINUE;
    END IF;

    day := auditlog.utc_day(slice.first_logged_at);
    page.page_id := auditlog.new_page_id();
    page.rows := slice.rows;
    page.first_logged_at := slice.first_logged_at;
    page.last_logged_at := slice.last_logged_at;
    page.last_id := slice.last_id;
    body := slice.body;
    page.sink := s.name;
    page.lo_tick := state.cursor_tick;
    page.hi_tick := state.batch_tick;
    page.stream := slice.stream;
    page.after_stream := state.after_stream;
    page.after_logged_at := state.after_logged_at;
    page.after_id := state.after_id;
    page.object_key := format('%s/dt=%s/%s-%s.ndjson.gz', page.stream, to_char(day, 'YYYY-MM-DD'), s.name, page.page_id);
    page.sha256 := auditlog.body_sha256(body);
    page.created_at := now();
    INSERT INTO auditlog.page VALUES (page.*);
    RETURN NEXT (page.page_id, page.object_key, page.stream, day::date, page.rows,
                 page.first_logged_at, page.last_logged_at, page.sha256, body)::auditlog.page_out;
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

CREATE FUNCTION auditlog.new_page_id()
RETURNS uuid
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'auditlog_new_page_id';
COMMENT ON FUNCTION auditlog.new_page_id IS
  'Internal: a UUIDv7 for a page. Never a sequence or a counter: it must not repeat after a restore, a point-in-time recovery or a failover.';


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
  PERFORM auditlog.refuse_transaction_block('auditlog.unpin_page()');
  IF reason IS NULL OR btrim(reason) = '' THEN
    RAISE EXCEPTION 'unpinning a page needs a reason, recorded in the log' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM set_config('synchronous_commit', 'on', true);
  s := auditlog.locked_sink(sink);
  SELECT * INTO p FROM auditlog.page pg WHERE pg.page_id = unpin_page.page_id AND pg.sink = s.name AND pg.acked_at IS NULL;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'page % is not the page in flight of sink "%"', page_id, s.name
      USING ERRCODE = 'invalid_parameter_value', HINT = 'sink_status shows the page in flight.';
  END IF;
  BEGIN
    PERFORM auditlog.render_page(p);
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
  PERFORM auditlog.record_internal(operation => 'auditlog.page.unpinned', stream => 'auditlog',
                          actor_type => 'database_role', actor_id => session_user::text,
                          resource_type => 'page', resource_id => p.page_id::text,
                          details => jsonb_build_object('sink', s.name, 'object_key', p.object_key, 'rows', p.rows,
                                                        'sha256', p.sha256, 'reason', reason));
  RETURN true;
END
$$;
COMMENT ON FUNCTION auditlog.unpin_page IS
  'Forgets the page in flight of a sink when its entries are gone (a forced purge dropped its day), so the sink goes on after its last acknowledged page; records that in the log (operation auditlog.page.unpinned). Refuses a page that still renders as handed out. Runs as its own transaction.';
