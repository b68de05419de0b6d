-- Pages: bounded, exact slices of the log, handed out to be stored as
-- objects and acknowledged once they are. Every page has one owner: a sink
-- (its own pages, 76_sink_pages.sql), a backfill (77_backfill.sql) or an
-- export job (78_export_jobs.sql, a page is a part of its object); each owner
-- decides which entries come next, and everything else is done here, once:
--
-- * pin_page() selects a page's entries, renders them (NDJSON or CSV, one
--   renderer), bounds them by rows and by max_page_bytes(), and pins the page:
--   its entries' bounds (stream, filters, batch, first and last key) and the
--   SHA-256 of its body are stored, and its object key is formatted.
-- * pinned_body() renders a pinned page again from those bounds and checks it
--   against its SHA-256: until acknowledged, an owner hands out the same page
--   again, identical and under the same object key, whatever max_rows,
--   TimeZone or new ticks say, so a retried upload overwrites, never
--   duplicates.
-- * ack_page() acknowledges it: when, and the SHA-256 of the owner's page
--   before it (a chain auditlogctl verify checks for sinks).
--
-- A page holds entries of one stream in (logged_at, id) order, at most
-- max_rows of them and at most 16 MiB of body (at least one entry); a sink's
-- and a backfill's are of one UTC day.

CREATE TABLE auditlog.page (
  page_id          uuid PRIMARY KEY,
  -- its owner: exactly one of a sink, a backfill (foreign key in
  -- 77_backfill.sql) and an export job (78_export_jobs.sql), whose part_number
  -- it is
  sink             text REFERENCES auditlog.sink ON DELETE CASCADE,
  backfill_id      bigint,
  job_id           bigint,
  part_number      int,
  -- its entries: those of stream, of tenant_id and with operations starting
  -- with operation_prefix (when set), committed in the batch (lo_tick,
  -- hi_tick] (when set), from the key (first_logged_at, first_id) to the key
  -- (last_logged_at, last_id); none for an export job's empty part
  stream           text NOT NULL,
  tenant_id        text,
  operation_prefix text,
  lo_tick          bigint,
  hi_tick          bigint,
  first_logged_at  timestamptz,
  first_id         uuid,  -- null for pages acknowledged before 0.4.0
  last_logged_at   timestamptz,
  last_id          uuid,
  rows             int NOT NULL,
  format           text NOT NULL CHECK (format IN ('ndjson', 'csv')),
  final            boolean,  -- an export job's part: whether it is the last
  object_key       text NOT NULL,
  sha256           text NOT NULL,
  prev_sha256      text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  acked_at         timestamptz,
  CONSTRAINT page_one_owner CHECK (num_nonnulls(sink, backfill_id, job_id) = 1)
);
CREATE UNIQUE INDEX page_one_in_flight ON auditlog.page (sink, backfill_id, job_id) NULLS NOT DISTINCT
  WHERE acked_at IS NULL;
CREATE INDEX page_sink_acked ON auditlog.page (sink, acked_at);
CREATE INDEX page_backfill_acked ON auditlog.page (backfill_id, acked_at) WHERE backfill_id IS NOT NULL;
CREATE INDEX page_job_acked ON auditlog.page (job_id, acked_at) WHERE job_id IS NOT NULL;
COMMENT ON TABLE auditlog.page IS
  'Pages handed out to sinks, backfills and export jobs: the one in flight per owner (acked_at null) and the acknowledged ones, each with the bounds of its entries, its SHA-256 and its predecessor''s, a chain auditlogctl verify checks.';

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

-- A CSV cell: quoted when needed, and neutralised for spreadsheets: a cell
-- that starts with =, +, -, @, a tab or a carriage return would be read as a
-- formula, so it gets a leading apostrophe (extension/src/render.c).
CREATE FUNCTION auditlog.csv_cell(value text)
RETURNS text
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'auditlog_csv_cell';
COMMENT ON FUNCTION auditlog.csv_cell IS 'One CSV cell, quoted as needed and safe to open in a spreadsheet.';

CREATE FUNCTION auditlog.csv_header()
RETURNS text
LANGUAGE sql IMMUTABLE
RETURN 'id,stream,logged_at,started_at,operation,actor_type,actor_id,tenant_id,resource_type,resource_id,'
       'request_id,request_uri,source_ip,user_agent,auth_method,credential_id,result,http_status,error_code,'
       'error_message,details';
COMMENT ON FUNCTION auditlog.csv_header IS 'The header line of CSV exports: the columns of an entry, writer_xid left out.';

-- The columns of csv_header(), each a csv_cell(); times in UTC, inet with
-- its netmask (inet::text), written in C as the NDJSON is
-- (extension/src/render.c).
CREATE FUNCTION auditlog.entry_csv(e auditlog.entry)
RETURNS text
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'auditlog_entry_csv';
COMMENT ON FUNCTION auditlog.entry_csv IS 'One entry as a line of a CSV export.';

-- One renderer for every page: the aggregate render_entries(e, format,
-- max_bytes, head) renders the entries it is given as NDJSON (ndjson_line)
-- or CSV (entry_csv) lines, after head (the CSV header, or nothing), each
-- line ending in a newline, and keeps the longest prefix of them in
-- (logged_at, id) order whose body is at most max_bytes (null: no bound),
-- never less than the first. Its result depends only on the set of rows it
-- is given, never on the order the plan feeds them in, so the same rows
-- always render to the same bytes (extension/src/render.c).
CREATE TYPE auditlog.rendered_page AS (
  rows            int,
  first_logged_at timestamptz,
  first_id        uuid,
  last_logged_at  timestamptz,
  last_id         uuid,
  body            text
);
COMMENT ON TYPE auditlog.rendered_page IS
  'Entries rendered as a page body: how many, the keys of the first and the last, and the body (null when there were none).';

CREATE FUNCTION auditlog_internal.render_step(state internal, e auditlog.entry, format text, max_bytes int, head text)
RETURNS internal
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'auditlog_render_step';
COMMENT ON FUNCTION auditlog_internal.render_step IS 'Internal (C edition): the transition function of render_entries().';

CREATE FUNCTION auditlog_internal.render_final(state internal)
RETURNS auditlog.rendered_page
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'auditlog_render_final';
COMMENT ON FUNCTION auditlog_internal.render_final IS 'Internal (C edition): the final function of render_entries().';

CREATE AGGREGATE auditlog_internal.render_entries(e auditlog.entry, format text, max_bytes int, head text) (
  SFUNC = auditlog_internal.render_step,
  STYPE = internal,
  FINALFUNC = auditlog_internal.render_final,
  FINALFUNC_MODIFY = READ_ONLY,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE auditlog_internal.render_entries(auditlog.entry, text, int, text) IS
  'Internal (C edition): the entries as a page body in format ndjson or csv, after head: the longest prefix in (logged_at, id) order of at most max_bytes (at least one entry), whatever order they come in.';

-- The query that renders the entries another query selects, as one row of
-- auditlog.rendered_page.
CREATE FUNCTION auditlog_internal.render_query(query text, format text, max_bytes int, head text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
RETURN format('SELECT (p.r).* FROM (SELECT auditlog_internal.render_entries(e, %L, %L, %L) AS r FROM (%s) e) p',
              format, max_bytes, head, query);
COMMENT ON FUNCTION auditlog_internal.render_query IS
  'Internal: the query that renders the entries of query as a page body (auditlog.rendered_page), bounded by max_bytes.';

-- The condition on auditlog.entry e for entries of a stream, of a tenant and
-- with operations starting with a prefix, each when not null: a sink's
-- filters, and a page's.
CREATE FUNCTION auditlog_internal.entry_filter(stream text, tenant_id text, operation_prefix text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
RETURN concat(
  CASE WHEN stream IS NOT NULL THEN format(' AND e.stream = %L', stream) END,
  CASE WHEN tenant_id IS NOT NULL THEN format(' AND e.tenant_id = %L', tenant_id) END,
  CASE WHEN operation_prefix IS NOT NULL THEN format(' AND starts_with(e.operation, %L)', operation_prefix) END);
COMMENT ON FUNCTION auditlog_internal.entry_filter IS
  'Internal: SQL condition on auditlog.entry e for a stream, a tenant and an operation prefix, each when not null.';

-- The query for the entries of page p in (logged_at, id) order: those its
-- bounds name (each bound that is null is no bound), after the key
-- (after_logged_at, after_id) and logged in [since, before) when those are
-- given, at most max_rows. A pinned page's entries are those of its bounds
-- alone; a page being cut is given the rest.
CREATE FUNCTION auditlog_internal.page_query(p auditlog.page, after_logged_at timestamptz, after_id uuid,
                                    since timestamptz, before timestamptz, max_rows int)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
-- (The plain comparisons of logged_at beside the keys' let the planner skip
-- the partitions of other days.)
RETURN format('SELECT e.* FROM auditlog.entry e WHERE true%s%s%s%s%s%s%s%s ORDER BY e.logged_at, e.id%s',
  auditlog_internal.entry_filter(p.stream, p.tenant_id, p.operation_prefix),
  CASE WHEN p.lo_tick IS NOT NULL THEN ' AND ' || auditlog_internal.batch_condition(p.lo_tick, p.hi_tick) END,
  CASE WHEN greatest(since, after_logged_at, p.first_logged_at) IS NOT NULL
       THEN format(' AND e.logged_at >= %L', greatest(since, after_logged_at, p.first_logged_at)) END,
  CASE WHEN before IS NOT NULL THEN format(' AND e.logged_at < %L', before) END,
  CASE WHEN p.last_id IS NOT NULL THEN format(' AND e.logged_at <= %L', p.last_logged_at) END,
  CASE WHEN after_id IS NOT NULL THEN format(' AND (e.logged_at, e.id) > (%L::timestamptz, %L::uuid)', after_logged_at, after_id) END,
  CASE WHEN p.first_id IS NOT NULL THEN format(' AND (e.logged_at, e.id) >= (%L::timestamptz, %L::uuid)', p.first_logged_at, p.first_id) END,
  CASE WHEN p.last_id IS NOT NULL THEN format(' AND (e.logged_at, e.id) <= (%L::timestamptz, %L::uuid)', p.last_logged_at, p.last_id) END,
  CASE WHEN max_rows IS NOT NULL THEN format(' LIMIT %s', max_rows) END);
COMMENT ON FUNCTION auditlog_internal.page_query IS 'Internal: the query for the entries of a page, or of a page being cut.';

-- The most bytes in a page body, whatever max_rows says, so that a page of
-- large entries stays small enough to render, hold and upload.
CREATE FUNCTION auditlog_internal.max_page_bytes()
RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 16 * 1024 * 1024;
COMMENT ON FUNCTION auditlog_internal.max_page_bytes IS 'Internal: the most bytes in a page body (16 MiB); a page holds at least one entry.';

CREATE FUNCTION auditlog_internal.new_page_id()
RETURNS uuid
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'auditlog_new_page_id';
COMMENT ON FUNCTION auditlog_internal.new_page_id IS
  'Internal: a UUIDv7 for a page. Never a sequence or a counter: it must not repeat after a restore, a point-in-time recovery or a failover.';

-- What opens a page's body: the CSV header, for the first part of a CSV
-- export; nothing otherwise. It counts towards the page's bytes.
CREATE FUNCTION auditlog_internal.page_head(p auditlog.page)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN p.format = 'csv' AND p.part_number = 1 THEN auditlog.csv_header() || E'\n' END;
COMMENT ON FUNCTION auditlog_internal.page_head IS 'Internal: what opens a page''s body: the CSV header for the first part of a CSV export, else nothing.';

-- Who a page belongs to, as messages name it.
CREATE FUNCTION auditlog_internal.page_owner(sink text, backfill_id bigint, job_id bigint)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN sink IS NOT NULL THEN format('sink "%s"', sink)
            WHEN backfill_id IS NOT NULL THEN format('backfill %s', backfill_id)
            ELSE format('export job %s', job_id) END;
COMMENT ON FUNCTION auditlog_internal.page_owner IS 'Internal: a page''s owner as messages name it: sink "name", backfill id or export job id.';

-- Where a page's object is stored, below the sink's or the export's URL:
--   a sink's page        <stream>/dt=<day>/<sink>-<page_id>.ndjson.gz
--   a backfill's page    <stream>/dt=<day>/<sink>-backfill-<id>-<page_id>.ndjson.gz
--   an export job's part exports/job-<id>/parts/<part, 5 digits>-<page_id>.<ndjson.gz or csv>
-- (auditlogctl verify reads the first two back: Verify/SinkObjectName.swift.)
CREATE FUNCTION auditlog_internal.page_object_key(p auditlog.page)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
BEGIN
  IF p.job_id IS NOT NULL THEN
    RETURN format('exports/job-%s/parts/%s-%s.%s', p.job_id, lpad(p.part_number::text, greatest(5, length(p.part_number::text)), '0'),
                  p.page_id, CASE p.format WHEN 'csv' THEN 'csv' ELSE 'ndjson.gz' END);
  END IF;
  RETURN format('%s/dt=%s/%s-%s.ndjson.gz', p.stream, to_char(auditlog.utc_day(p.first_logged_at), 'YYYY-MM-DD'),
                coalesce(p.sink, (SELECT b.sink || '-backfill-' || b.backfill_id FROM auditlog.backfill b WHERE b.backfill_id = p.backfill_id)),
                p.page_id);
END
$$;
COMMENT ON FUNCTION auditlog_internal.page_object_key IS 'Internal: the object key a page is stored under.';

-- Cuts and pins the next page of owner p: p names its owner, its format, its
-- filters and batch (and for an export job its part number, for a bounded
-- cut its last key); the page is the entries of those after the key
-- (after_logged_at, after_id) logged in [since, before), at most max_rows of
-- them and at most max_page_bytes() of body. Returns the page pinned, with
-- its body; nothing when there is no entry, except for an export job, whose
-- object must exist even empty (then a CSV header, or nothing).
CREATE FUNCTION auditlog_internal.pin_page(p auditlog.page, after_logged_at timestamptz, after_id uuid,
                                  since timestamptz, before timestamptz, max_rows int,
                                  OUT page auditlog.page, OUT body text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  rendered auditlog.rendered_page;
BEGIN
  EXECUTE auditlog_internal.render_query(auditlog_internal.page_query(p, after_logged_at, after_id, since, before, max_rows),
                                p.format, auditlog_internal.max_page_bytes(), auditlog_internal.page_head(p))
  INTO rendered;
  IF rendered.rows = 0 AND p.job_id IS NULL THEN
    RETURN;
  END IF;
  page := p;
  page.page_id := auditlog_internal.new_page_id();
  page.rows := rendered.rows;
  page.first_logged_at := rendered.first_logged_at;
  page.first_id := rendered.first_id;
  page.last_logged_at := rendered.last_logged_at;
  page.last_id := rendered.last_id;
  body := coalesce(rendered.body, auditlog_internal.page_head(p), '');
  page.sha256 := auditlog.body_sha256(body);
  IF p.job_id IS NOT NULL THEN
    -- An export job's part is its last when nothing is left after it.
    EXECUTE format('SELECT NOT EXISTS (%s)',
                   auditlog_internal.page_query(p, coalesce(page.last_logged_at, after_logged_at), coalesce(page.last_id, after_id),
                                       since, before, 1))
    INTO page.final;
  END IF;
  page.object_key := auditlog_internal.page_object_key(page);
  page.created_at := now();
  page.acked_at := NULL;
  INSERT INTO auditlog.page VALUES (page.*);
END
$$;
COMMENT ON FUNCTION auditlog_internal.pin_page IS
  'Internal: cuts, renders, bounds and pins the next page of an owner; returns it with its body.';

-- A pinned page rendered again: the same aggregate over the same entries
-- (those of its bounds), checked against the SHA-256 it was handed out with.
-- Unbounded: those entries fitted the bound they were handed out under.
CREATE FUNCTION auditlog_internal.pinned_body(p auditlog.page)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  rendered auditlog.rendered_page;
  body text;
BEGIN
  IF p.rows > 0 THEN
    EXECUTE auditlog_internal.render_query(auditlog_internal.page_query(p, NULL, NULL, NULL, NULL, NULL), p.format, NULL, auditlog_internal.page_head(p))
    INTO rendered;
  END IF;
  body := coalesce(rendered.body, auditlog_internal.page_head(p), '');
  IF auditlog.body_sha256(body) IS DISTINCT FROM p.sha256 THEN
    RAISE EXCEPTION 'auditlog: page % of % no longer matches what was handed out', p.page_id,
      auditlog_internal.page_owner(p.sink, p.backfill_id, p.job_id)
      USING ERRCODE = 'data_corrupted',
            DETAIL = 'Its entries were changed or dropped since: see auditlog.purge() with force.';
  END IF;
  RETURN body;
END
$$;
COMMENT ON FUNCTION auditlog_internal.pinned_body IS
  'Internal: a pinned page''s body rendered again from its entries, checked against the SHA-256 it was handed out with.';

-- Acknowledges page page_id of its owner (one of sink, backfill_id, job_id)
-- once its object is stored: when (for each owner later than its page
-- before, even when the clock steps back: the chain's order), and the
-- SHA-256 of the page before it in the owner's chain. Returns the page, or
-- nothing (with a notice) when it was acknowledged already; refuses a page
-- not handed out to this owner.
CREATE FUNCTION auditlog_internal.ack_page(page_id uuid, sink text, backfill_id bigint, job_id bigint, prev_sha256 text)
RETURNS auditlog.page
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  owner text := auditlog_internal.page_owner(sink, backfill_id, job_id);
  p auditlog.page;
BEGIN
  IF page_id IS NULL THEN
    RAISE EXCEPTION 'page_id must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT * INTO p FROM auditlog.page pg
  WHERE pg.page_id = ack_page.page_id
    AND (pg.sink, pg.backfill_id, pg.job_id) IS NOT DISTINCT FROM (ack_page.sink, ack_page.backfill_id, ack_page.job_id)
  FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'page % was not handed out to %', page_id, owner
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Acknowledge the page_id that was handed out to it last.';
  END IF;
  IF p.acked_at IS NOT NULL THEN
    RAISE NOTICE 'page % of % was acknowledged already, at %', page_id, owner, p.acked_at;
    RETURN NULL;
  END IF;
  UPDATE auditlog.page pg
  SET prev_sha256 = ack_page.prev_sha256,
      acked_at = greatest(clock_timestamp(), CASE
        WHEN ack_page.sink IS NOT NULL THEN (SELECT max(q.acked_at) FROM auditlog.page q WHERE q.sink = ack_page.sink)
        WHEN ack_page.backfill_id IS NOT NULL THEN (SELECT max(q.acked_at) FROM auditlog.page q WHERE q.backfill_id = ack_page.backfill_id)
        ELSE (SELECT max(q.acked_at) FROM auditlog.page q WHERE q.job_id = ack_page.job_id) END + interval '1 microsecond')
  WHERE pg.page_id = p.page_id
  RETURNING * INTO p;
  RETURN p;
END
$$;
COMMENT ON FUNCTION auditlog_internal.ack_page IS
  'Internal: marks an owner''s page in flight acknowledged, chained to the page before it; nothing when it was already.';
