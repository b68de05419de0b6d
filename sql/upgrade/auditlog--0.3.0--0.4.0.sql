-- auditlog 0.3.0 to 0.4.0: one page model.
--
-- Sinks', backfills' and export jobs' pages were three implementations: a
-- sink's in auditlog.page, a backfill's and a job's in page_* columns of its
-- own row (and a job's acknowledged parts in auditlog.export_part). Now every
-- page is a row of auditlog.page with its owner and the bounds of its
-- entries (stream, filters, batch, first and last key), cut, rendered,
-- pinned, rendered again and acknowledged by the same functions. The pages
-- in flight move into it unchanged: each is handed out again with the same
-- id, the same body and the same SHA-256 (extension/test/upgrade.sh).
-- Gone: export_job.upload_id and heartbeat_export()'s upload_id, and the
-- "etag" of ack_export_page(), which nothing used.
\echo Use "ALTER EXTENSION auditlog UPDATE TO '0.4.0'" to load this file. \quit

-- Every page gets an owner and the bounds of its entries.
ALTER TABLE auditlog.page
  ADD COLUMN backfill_id bigint,
  ADD COLUMN job_id bigint,
  ADD COLUMN part_number int,
  ADD COLUMN tenant_id text,
  ADD COLUMN operation_prefix text,
  ADD COLUMN first_id uuid,
  ADD COLUMN format text NOT NULL DEFAULT 'ndjson' CHECK (format IN ('ndjson', 'csv')),
  ADD COLUMN final boolean,
  ALTER COLUMN sink DROP NOT NULL,
  ALTER COLUMN lo_tick DROP NOT NULL,
  ALTER COLUMN hi_tick DROP NOT NULL,
  ALTER COLUMN first_logged_at DROP NOT NULL,
  ALTER COLUMN last_logged_at DROP NOT NULL,
  ALTER COLUMN last_id DROP NOT NULL;
ALTER TABLE auditlog.page ALTER COLUMN format DROP DEFAULT;

-- A sink's pages carry its filters (only sinks with filters have any to copy).
UPDATE auditlog.page p SET tenant_id = s.tenant_id, operation_prefix = s.operation_prefix
FROM auditlog.sink s
WHERE s.name = p.sink AND (s.tenant_id IS NOT NULL OR s.operation_prefix IS NOT NULL);

-- The pages in flight, their entries' first and last keys read with the
-- queries 0.3.0 rendered them from (before those go, below); a job's
-- acknowledged parts. The first key of a page acknowledged before is not
-- known, nor needed: it is never rendered again.
DO $$
DECLARE
  p auditlog.page;
  b auditlog.backfill;
  j auditlog.export_job;
  s auditlog.sink;
  query text;
  first_key record;
  last_key record;
BEGIN
  FOR p IN SELECT * FROM auditlog.page pg WHERE pg.acked_at IS NULL LOOP
    s := (SELECT sk FROM auditlog.sink sk WHERE sk.name = p.sink);
    query := auditlog.page_query(s, p.lo_tick, p.hi_tick, p.stream, auditlog.utc_day(p.first_logged_at),
                                 p.after_stream, p.after_logged_at, p.after_id, p.last_logged_at, p.last_id, NULL);
    EXECUTE format('SELECT x.logged_at, x.id FROM (%s) x ORDER BY x.logged_at, x.id LIMIT 1', query) INTO first_key;
    UPDATE auditlog.page pg SET first_logged_at = coalesce(first_key.logged_at, pg.first_logged_at), first_id = first_key.id
    WHERE pg.page_id = p.page_id;
  END LOOP;

  FOR b IN SELECT * FROM auditlog.backfill bf WHERE bf.page_id IS NOT NULL LOOP
    s := (SELECT sk FROM auditlog.sink sk WHERE sk.name = b.sink);
    query := CASE b.kind
      WHEN 'gap' THEN auditlog.page_query(s, b.lo_tick, b.hi_tick, b.page_stream, auditlog.utc_day(b.page_first_logged_at),
                                          b.after_stream, b.after_logged_at, b.after_id, b.page_last_logged_at, b.page_last_id, NULL)
      ELSE auditlog.backfill_query(b, s, 'e.*', b.page_stream, NULL) END;
    EXECUTE format('SELECT x.logged_at, x.id FROM (%s) x ORDER BY x.logged_at, x.id LIMIT 1', query) INTO first_key;
    EXECUTE format('SELECT x.logged_at, x.id FROM (%s) x ORDER BY x.logged_at DESC, x.id DESC LIMIT 1', query) INTO last_key;
    INSERT INTO auditlog.page (page_id, backfill_id, stream, tenant_id, operation_prefix, lo_tick, hi_tick,
                               first_logged_at, first_id, last_logged_at, last_id, rows, format, object_key, sha256)
    VALUES (b.page_id, b.backfill_id, b.page_stream, s.tenant_id, s.operation_prefix, b.lo_tick, b.hi_tick,
            coalesce(first_key.logged_at, b.page_first_logged_at), first_key.id,
            coalesce(last_key.logged_at, b.page_last_logged_at), coalesce(last_key.id, b.page_last_id), b.page_rows, 'ndjson',
            format('%s/dt=%s/%s-backfill-%s-%s.ndjson.gz', b.page_stream,
                   to_char(auditlog.utc_day(b.page_first_logged_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD'), b.sink, b.backfill_id, b.page_id),
            b.page_sha256);
  END LOOP;

  INSERT INTO auditlog.page (page_id, job_id, part_number, stream, tenant_id, rows, format, final, object_key,
                             sha256, prev_sha256, acked_at)
  SELECT x.page_id, x.job_id, x.part_number, ej.stream, ej.tenant_id, x.rows,
         CASE ej.format WHEN 'csv' THEN 'csv' ELSE 'ndjson' END,
         x.part_number = ej.parts_exported AND ej.page_id IS NULL AND coalesce(ej.page_final, false),
         format('exports/job-%s/parts/%s-%s.%s', x.job_id, lpad(x.part_number::text, greatest(5, length(x.part_number::text)), '0'),
                x.page_id, CASE ej.format WHEN 'csv' THEN 'csv' ELSE 'ndjson.gz' END),
         x.sha256, lag(x.sha256) OVER (PARTITION BY x.job_id ORDER BY x.part_number), coalesce(ej.heartbeat_at, ej.created_at)
  FROM auditlog.export_part x JOIN auditlog.export_job ej ON ej.job_id = x.job_id;

  FOR j IN SELECT * FROM auditlog.export_job ej WHERE ej.page_id IS NOT NULL LOOP
    first_key := NULL;
    IF j.page_last_id IS NOT NULL THEN
      query := auditlog.export_query(j, j.page_last_logged_at, j.page_last_id, NULL);
      EXECUTE format('SELECT x.logged_at, x.id FROM (%s) x ORDER BY x.logged_at, x.id LIMIT 1', query) INTO first_key;
    END IF;
    INSERT INTO auditlog.page (page_id, job_id, part_number, stream, tenant_id, first_logged_at, first_id,
                               last_logged_at, last_id, rows, format, final, object_key, sha256, prev_sha256)
    VALUES (j.page_id, j.job_id, j.parts_exported + 1, j.stream, j.tenant_id, first_key.logged_at, first_key.id,
            j.page_last_logged_at, j.page_last_id, j.page_rows, CASE j.format WHEN 'csv' THEN 'csv' ELSE 'ndjson' END,
            j.page_final,
            format('exports/job-%s/parts/%s-%s.%s', j.job_id,
                   lpad((j.parts_exported + 1)::text, greatest(5, length((j.parts_exported + 1)::text)), '0'),
                   j.page_id, CASE j.format WHEN 'csv' THEN 'csv' ELSE 'ndjson.gz' END),
            j.page_sha256, NULL);
  END LOOP;
END
$$;

-- Gone, or made again with another signature or result type.
DROP FUNCTION auditlog.backfill_body(auditlog.backfill, auditlog.sink);
DROP FUNCTION auditlog.backfill_query(auditlog.backfill, auditlog.sink, text, text, int);
DROP FUNCTION auditlog.page_query(auditlog.sink, bigint, bigint, text, timestamptz, text, timestamptz, uuid, timestamptz, uuid, int);
DROP FUNCTION auditlog.sink_filter(auditlog.sink);
DROP FUNCTION auditlog.render_again(text, text, text, text, uuid, text);
DROP FUNCTION auditlog.render_page(auditlog.page);
DROP FUNCTION auditlog.batch_page(auditlog.sink, bigint, bigint, text, timestamptz, uuid, int);
DROP FUNCTION auditlog.export_query(auditlog.export_job, timestamptz, uuid, int);
DROP FUNCTION auditlog.export_format(auditlog.export_job);
DROP FUNCTION auditlog.export_head(auditlog.export_job, int);
DROP FUNCTION auditlog.heartbeat_export(bigint, uuid, interval, text);
DROP FUNCTION auditlog.ack_export_page(bigint, uuid, uuid, text);
DROP AGGREGATE auditlog.render_entries(auditlog.entry, text, int, text);
DROP FUNCTION auditlog.render_final(internal);
DROP TYPE auditlog.rendered_page;

-- The views read a page in flight from auditlog.page.
CREATE OR REPLACE VIEW auditlog.backfill_status AS
SELECT b.backfill_id, b.sink, b.range_start, b.range_end, b.status,
       coalesce(b.after_logged_at, b.range_start) AS done_up_to,
       CASE WHEN b.status = 'done' THEN 100.0 ELSE
       round(100 * extract(epoch FROM least(greatest(coalesce(b.after_logged_at, b.range_start), b.range_start), b.range_end) - b.range_start)
                 / extract(epoch FROM b.range_end - b.range_start), 1) END AS percent,
       EXISTS (SELECT FROM auditlog.page p WHERE p.backfill_id = b.backfill_id AND p.acked_at IS NULL) AS page_in_flight,
       b.rows_exported, b.pages_exported, b.requested_by, b.created_at, b.finished_at
FROM auditlog.backfill b;
CREATE OR REPLACE VIEW auditlog.export_status AS
SELECT job_id, status, stream, range_start, range_end, tenant_id, requested_by, format,
       attempts, max_attempts, lease_owner, lease_expires_at, heartbeat_at,
       rows_exported, parts_exported,
       EXISTS (SELECT FROM auditlog.page p WHERE p.job_id = j.job_id AND p.acked_at IS NULL) AS page_in_flight,
       object_url, download_url, link_expires_at, bytes, sha256, error,
       created_at, started_at, finished_at
FROM auditlog.export_job j;

-- The page table's new shape: one owner each, one page in flight per owner.
ALTER TABLE auditlog.page
  DROP COLUMN after_stream,
  DROP COLUMN after_logged_at,
  DROP COLUMN after_id,
  ADD CONSTRAINT page_one_owner CHECK (num_nonnulls(sink, backfill_id, job_id) = 1),
  ADD CONSTRAINT page_backfill_id_fkey FOREIGN KEY (backfill_id) REFERENCES auditlog.backfill ON DELETE CASCADE,
  ADD CONSTRAINT page_job_id_fkey FOREIGN KEY (job_id) REFERENCES auditlog.export_job ON DELETE CASCADE;
DROP INDEX auditlog.page_one_in_flight;
CREATE UNIQUE INDEX page_one_in_flight ON auditlog.page (sink, backfill_id, job_id) NULLS NOT DISTINCT
  WHERE acked_at IS NULL;
CREATE INDEX page_backfill_acked ON auditlog.page (backfill_id, acked_at) WHERE backfill_id IS NOT NULL;
CREATE INDEX page_job_acked ON auditlog.page (job_id, acked_at) WHERE job_id IS NOT NULL;
COMMENT ON TABLE auditlog.page IS
  'Pages handed out to sinks, backfills and export jobs: the one in flight per owner (acked_at null) and the acknowledged ones, each with the bounds of its entries, its SHA-256 and its predecessor''s, a chain auditlogctl verify checks.';

ALTER TABLE auditlog.backfill
  DROP COLUMN page_id, DROP COLUMN page_stream, DROP COLUMN page_first_logged_at, DROP COLUMN page_last_logged_at,
  DROP COLUMN page_last_id, DROP COLUMN page_rows, DROP COLUMN page_sha256;
ALTER TABLE auditlog.export_job
  DROP COLUMN upload_id, DROP COLUMN page_id, DROP COLUMN page_last_logged_at, DROP COLUMN page_last_id,
  DROP COLUMN page_rows, DROP COLUMN page_sha256, DROP COLUMN page_final;
DROP TABLE auditlog.export_part;

-- Types.
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
ALTER TYPE auditlog.export_claim DROP ATTRIBUTE upload_id;
ALTER TYPE auditlog.export_page ADD ATTRIBUTE object_key text;
COMMENT ON TYPE auditlog.export_page IS 'A part of an export job''s object: its body (NDJSON or CSV text, to compress as the format says), whether it is the last, and the key to stage it under.';
COMMENT ON TYPE auditlog.page_out IS 'A page as next_page() and backfill_next_page() hand it out.';

-- Functions new and changed, as a fresh install makes them.

CREATE OR REPLACE FUNCTION auditlog.render_final(state internal)
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

CREATE OR REPLACE FUNCTION auditlog.entry_filter(stream text, tenant_id text, operation_prefix text)
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

COMMENT ON FUNCTION auditlog.entry_filter IS
  'Internal: SQL condition on auditlog.entry e for a stream, a tenant and an operation prefix, each when not null.';

CREATE OR REPLACE FUNCTION auditlog.page_query(p auditlog.page, after_logged_at timestamptz, after_id uuid,
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
  auditlog.entry_filter(p.stream, p.tenant_id, p.operation_prefix),
  CASE WHEN p.lo_tick IS NOT NULL THEN ' AND ' || auditlog.batch_condition(p.lo_tick, p.hi_tick) END,
  CASE WHEN greatest(since, after_logged_at, p.first_logged_at) IS NOT NULL
       THEN format(' AND e.logged_at >= %L', greatest(since, after_logged_at, p.first_logged_at)) END,
  CASE WHEN before IS NOT NULL THEN format(' AND e.logged_at < %L', before) END,
  CASE WHEN p.last_id IS NOT NULL THEN format(' AND e.logged_at <= %L', p.last_logged_at) END,
  CASE WHEN after_id IS NOT NULL THEN format(' AND (e.logged_at, e.id) > (%L::timestamptz, %L::uuid)', after_logged_at, after_id) END,
  CASE WHEN p.first_id IS NOT NULL THEN format(' AND (e.logged_at, e.id) >= (%L::timestamptz, %L::uuid)', p.first_logged_at, p.first_id) END,
  CASE WHEN p.last_id IS NOT NULL THEN format(' AND (e.logged_at, e.id) <= (%L::timestamptz, %L::uuid)', p.last_logged_at, p.last_id) END,
  CASE WHEN max_rows IS NOT NULL THEN format(' LIMIT %s', max_rows) END);

COMMENT ON FUNCTION auditlog.page_query IS 'Internal: the query for the entries of a page, or of a page being cut.';

COMMENT ON FUNCTION auditlog.max_page_bytes IS 'Internal: the most bytes in a page body (16 MiB); a page holds at least one entry.';

CREATE OR REPLACE FUNCTION auditlog.page_head(p auditlog.page)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN p.format = 'csv' AND p.part_number = 1 THEN auditlog.csv_header() || E'\n' END;

COMMENT ON FUNCTION auditlog.page_head IS 'Internal: what opens a page''s body: the CSV header for the first part of a CSV export, else nothing.';

CREATE OR REPLACE FUNCTION auditlog.page_owner(sink text, backfill_id bigint, job_id bigint)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN sink IS NOT NULL THEN format('sink "%s"', sink)
            WHEN backfill_id IS NOT NULL THEN format('backfill %s', backfill_id)
            ELSE format('export job %s', job_id) END;

COMMENT ON FUNCTION auditlog.page_owner IS 'Internal: a page''s owner as messages name it: sink "name", backfill id or export job id.';

CREATE OR REPLACE FUNCTION auditlog.page_object_key(p auditlog.page)
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

COMMENT ON FUNCTION auditlog.page_object_key IS 'Internal: the object key a page is stored under.';

CREATE OR REPLACE FUNCTION auditlog.pin_page(p auditlog.page, after_logged_at timestamptz, after_id uuid,
                                  since timestamptz, before timestamptz, max_rows int,
                                  OUT page auditlog.page, OUT body text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  rendered auditlog.rendered_page;
  rest auditlog.page := p;
BEGIN
  EXECUTE auditlog.render_query(auditlog.page_query(p, after_logged_at, after_id, since, before, max_rows),
                                p.format, auditlog.max_page_bytes(), auditlog.page_head(p))
  INTO rendered;
  IF rendered.rows = 0 AND p.job_id IS NULL THEN
    RETURN;
  END IF;
  page := p;
  page.page_id := auditlog.new_page_id();
  page.rows := rendered.rows;
  page.first_logged_at := rendered.first_logged_at;
  page.first_id := rendered.first_id;
  page.last_logged_at := rendered.last_logged_at;
  page.last_id := rendered.last_id;
  body := coalesce(rendered.body, auditlog.page_head(p), '');
  page.sha256 := auditlog.body_sha256(body);
  IF p.job_id IS NOT NULL THEN
    -- An export job's part is its last when nothing is left after it.
    EXECUTE format('SELECT NOT EXISTS (%s)',
                   auditlog.page_query(rest, coalesce(page.last_logged_at, after_logged_at), coalesce(page.last_id, after_id),
                                       since, before, 1))
    INTO page.final;
  END IF;
  page.object_key := auditlog.page_object_key(page);
  page.created_at := now();
  page.acked_at := NULL;
  INSERT INTO auditlog.page VALUES (page.*);
END
$$;

COMMENT ON FUNCTION auditlog.pin_page IS
  'Internal: cuts, renders, bounds and pins the next page of an owner; returns it with its body.';

CREATE OR REPLACE FUNCTION auditlog.pinned_body(p auditlog.page)
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
    EXECUTE auditlog.render_query(auditlog.page_query(p, NULL, NULL, NULL, NULL, NULL), p.format, NULL, auditlog.page_head(p))
    INTO rendered;
  END IF;
  body := coalesce(rendered.body, auditlog.page_head(p), '');
  IF auditlog.body_sha256(body) IS DISTINCT FROM p.sha256 THEN
    RAISE EXCEPTION 'auditlog: page % of % no longer matches what was handed out', p.page_id,
      auditlog.page_owner(p.sink, p.backfill_id, p.job_id)
      USING ERRCODE = 'data_corrupted',
            DETAIL = 'Its entries were changed or dropped since: see auditlog.purge() with force.';
  END IF;
  RETURN body;
END
$$;

COMMENT ON FUNCTION auditlog.pinned_body IS
  'Internal: a pinned page''s body rendered again from its entries, checked against the SHA-256 it was handed out with.';

CREATE OR REPLACE FUNCTION auditlog.ack_page(page_id uuid, sink text, backfill_id bigint, job_id bigint, prev_sha256 text)
RETURNS auditlog.page
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  owner text := auditlog.page_owner(sink, backfill_id, job_id);
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

COMMENT ON FUNCTION auditlog.ack_page IS
  'Internal: marks an owner''s page in flight acknowledged, chained to the page before it; nothing when it was already.';

CREATE OR REPLACE FUNCTION auditlog.page_out(p auditlog.page, body text)
RETURNS auditlog.page_out
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
RETURN (p.page_id, p.object_key, p.stream, auditlog.utc_day(p.first_logged_at)::date, p.rows,
        p.first_logged_at, p.last_logged_at, p.sha256, body)::auditlog.page_out;

COMMENT ON FUNCTION auditlog.page_out IS 'Internal: a pinned page and its body as next_page() hands them out.';

CREATE OR REPLACE FUNCTION auditlog.pin_batch_page(p auditlog.page, s auditlog.sink, lo bigint, hi bigint,
                                        after_stream text, after_logged_at timestamptz, after_id uuid, max_rows int,
                                        OUT page auditlog.page, OUT body text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
AS $$
DECLARE
  condition text := auditlog.batch_condition(lo, hi) || auditlog.entry_filter(s.stream, s.tenant_id, s.operation_prefix);
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
  FROM auditlog.pin_page(p, CASE WHEN same_stream THEN after_logged_at END, CASE WHEN same_stream THEN after_id END,
                         auditlog.utc_day(first_row.logged_at), auditlog.utc_day(first_row.logged_at) + interval '1 day',
                         max_rows);
  page := cut.page;
  body := cut.body;
END
$$;

COMMENT ON FUNCTION auditlog.pin_batch_page IS
  'Internal: cuts and pins the next page of a batch with a sink''s filters after a key, or nothing when the batch is done.';

CREATE OR REPLACE FUNCTION auditlog.next_page(sink text, max_rows int DEFAULT 10000)
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
  PERFORM auditlog.refuse_transaction_block('auditlog.next_page()');
  PERFORM auditlog.check_exportable('auditlog.next_page()');
  PERFORM auditlog.check_max_rows(max_rows);
  PERFORM set_config('synchronous_commit', 'on', true);
  s := auditlog.locked_sink(sink);
  PERFORM auditlog.reanchor_if_foreign(s);

  SELECT * INTO pinned FROM auditlog.page p WHERE p.sink = s.name AND p.acked_at IS NULL;
  IF FOUND THEN
    RETURN NEXT auditlog.page_out(pinned, auditlog.pinned_body(pinned));
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

    owner.sink := s.name;
    SELECT * INTO cut FROM auditlog.pin_batch_page(owner, s, state.cursor_tick, state.batch_tick,
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
    RETURN NEXT auditlog.page_out(cut.page, cut.body);
    RETURN;
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION auditlog.ack(sink text, page_id uuid)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s auditlog.sink;
  p auditlog.page;
BEGIN
  PERFORM auditlog.refuse_transaction_block('auditlog.ack()');
  PERFORM auditlog.check_exportable('auditlog.ack()');
  PERFORM set_config('synchronous_commit', 'on', true);
  s := auditlog.locked_sink(sink);
  p := auditlog.ack_page(page_id, s.name, NULL, NULL, (SELECT st.last_sha256 FROM auditlog.sink_state st WHERE st.sink = s.name));
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

CREATE OR REPLACE FUNCTION auditlog.unpin_page(sink text, page_id uuid, reason text)
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
    PERFORM auditlog.pinned_body(p);
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

CREATE OR REPLACE FUNCTION auditlog.backfill_next_page(backfill_id bigint, max_rows int DEFAULT 10000)
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
  PERFORM auditlog.refuse_transaction_block('auditlog.backfill_next_page()');
  PERFORM auditlog.check_max_rows(max_rows);
  PERFORM set_config('synchronous_commit', 'on', true);
  SELECT * INTO b FROM auditlog.backfill bf WHERE bf.backfill_id = backfill_next_page.backfill_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'backfill % does not exist', backfill_id USING ERRCODE = 'undefined_object';
  END IF;
  s := (SELECT sk FROM auditlog.sink sk WHERE sk.name = b.sink);
  SELECT * INTO pinned FROM auditlog.page p WHERE p.backfill_id = b.backfill_id AND p.acked_at IS NULL;
  IF FOUND THEN
    RETURN NEXT auditlog.page_out(pinned, auditlog.pinned_body(pinned));
    RETURN;
  END IF;
  owner.backfill_id := b.backfill_id;

  -- Each turn pins a page, or finishes a chunk, or reads the next one; a
  -- chunk with nothing for this sink is passed over in the same call.
  FOR turn IN 1..100 LOOP
    IF b.status <> 'running' THEN
      RETURN;
    END IF;

    IF b.kind = 'gap' THEN
      -- A gap is a batch, paged as a sink pages its own.
      SELECT * INTO cut FROM auditlog.pin_batch_page(owner, s, b.lo_tick, b.hi_tick,
                                                     b.after_stream, b.after_logged_at, b.after_id, max_rows);
      IF cut.page IS NULL THEN
        UPDATE auditlog.backfill bf SET status = 'done', finished_at = now() WHERE bf.backfill_id = b.backfill_id;
        RETURN;
      END IF;
      RETURN NEXT auditlog.page_out(cut.page, cut.body);
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
      owner.tenant_id := s.tenant_id;
      owner.operation_prefix := s.operation_prefix;
      owner.format := 'ndjson';
      owner.last_logged_at := b.chunk_last_logged_at;
      owner.last_id := b.chunk_last_id;
      SELECT * INTO cut
      FROM auditlog.pin_page(owner,
                             CASE WHEN b.chunk_after_id IS NOT NULL THEN b.chunk_after_logged_at ELSE b.after_logged_at END,
                             CASE WHEN b.chunk_after_id IS NOT NULL THEN b.chunk_after_id ELSE b.after_id END,
                             b.range_start, b.range_end, NULL);
      IF cut.page IS NULL THEN
        UPDATE auditlog.backfill bf
        SET chunk_streams = bf.chunk_streams[2:], chunk_after_logged_at = NULL, chunk_after_id = NULL
        WHERE bf.backfill_id = b.backfill_id RETURNING * INTO b;
        CONTINUE;
      END IF;
      RETURN NEXT auditlog.page_out(cut.page, cut.body);
      RETURN;
    END IF;

    -- The next chunk: up to max_rows entries of the day of the next one.
    EXECUTE format('SELECT count(*) AS n, (array_agg(c.logged_at ORDER BY c.logged_at DESC, c.id DESC))[1] AS last_logged_at,'
                   ' (array_agg(c.id ORDER BY c.logged_at DESC, c.id DESC))[1] AS last_id,'
                   ' coalesce(array_agg(DISTINCT c.stream ORDER BY c.stream) FILTER (WHERE c.wanted), ''{}'') AS streams'
                   ' FROM (SELECT e.logged_at, e.id, e.stream, true%s AS wanted FROM auditlog.entry e'
                   ' WHERE e.logged_at >= %L AND e.logged_at < %L%s ORDER BY e.logged_at, e.id LIMIT %s) c',
                   auditlog.entry_filter(s.stream, s.tenant_id, s.operation_prefix),
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

CREATE OR REPLACE FUNCTION auditlog.backfill_ack(backfill_id bigint, page_id uuid)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b auditlog.backfill;
  p auditlog.page;
BEGIN
  PERFORM auditlog.refuse_transaction_block('auditlog.backfill_ack()');
  PERFORM set_config('synchronous_commit', 'on', true);
  SELECT * INTO b FROM auditlog.backfill bf WHERE bf.backfill_id = backfill_ack.backfill_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'backfill % does not exist', backfill_id USING ERRCODE = 'undefined_object';
  END IF;
  p := auditlog.ack_page(page_id, NULL, b.backfill_id, NULL, b.last_sha256);
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

CREATE OR REPLACE FUNCTION auditlog.cancel_backfill(backfill_id bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b auditlog.backfill;
BEGIN
  SELECT * INTO b FROM auditlog.backfill bf WHERE bf.backfill_id = cancel_backfill.backfill_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'backfill % does not exist', backfill_id USING ERRCODE = 'undefined_object';
  END IF;
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

CREATE OR REPLACE FUNCTION auditlog.claim_export(worker text, lease interval DEFAULT '5 minutes')
RETURNS SETOF auditlog.export_claim
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job auditlog.export_job;
BEGIN
  IF worker IS NULL OR btrim(worker) = '' THEN
    RAISE EXCEPTION 'worker must name the worker claiming a job' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM auditlog.check_lease(lease);
  -- Jobs whose worker used up their attempts fail rather than run again.
  UPDATE auditlog.export_job SET status = 'failed', finished_at = now(),
         error = coalesce(error, 'lease expired') || format(' (gave up after %s attempts)', attempts),
         lease_token = NULL
  WHERE status = 'running' AND lease_expires_at < now() AND attempts >= max_attempts;

  SELECT * INTO job FROM auditlog.export_job j
  WHERE j.status = 'pending' OR (j.status = 'running' AND j.lease_expires_at < now())
  ORDER BY j.created_at, j.job_id
  LIMIT 1
  FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  UPDATE auditlog.export_job j
  SET status = 'running', attempts = j.attempts + 1, lease_token = gen_random_uuid(), lease_owner = worker,
      lease_expires_at = now() + lease, heartbeat_at = now(), started_at = coalesce(j.started_at, now())
  WHERE j.job_id = job.job_id
  RETURNING * INTO job;
  RETURN NEXT (job.job_id, job.lease_token, job.lease_expires_at, job.stream, job.range_start, job.range_end,
               job.tenant_id, job.format, job.attempts)::auditlog.export_claim;
END
$$;

CREATE OR REPLACE FUNCTION auditlog.heartbeat_export(job_id bigint, token uuid, lease interval DEFAULT '5 minutes')
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job auditlog.export_job := auditlog.fenced_job(job_id, token);
BEGIN
  PERFORM auditlog.check_lease(lease);
  UPDATE auditlog.export_job j
  SET lease_expires_at = now() + lease, heartbeat_at = now()
  WHERE j.job_id = job.job_id
  RETURNING lease_expires_at INTO job.lease_expires_at;
  RETURN job.lease_expires_at;
END
$$;

COMMENT ON FUNCTION auditlog.heartbeat_export IS
  'Extends the lease of a claimed export job. Fails when the token is no longer the job''s.';

CREATE OR REPLACE FUNCTION auditlog.export_next_page(job_id bigint, token uuid, max_rows int DEFAULT 10000)
RETURNS SETOF auditlog.export_page
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET work_mem = '64MB'  -- a page's body is megabytes: keep it off disk
SET max_parallel_workers_per_gather = 0  -- a page reads a few thousand rows: no workers to start
AS $$
DECLARE
  job auditlog.export_job;
  owner auditlog.page;
  page auditlog.page;
  body text;
  cut record;
BEGIN
  PERFORM auditlog.refuse_transaction_block('auditlog.export_next_page()');
  PERFORM auditlog.check_max_rows(max_rows);
  PERFORM set_config('synchronous_commit', 'on', true);
  job := auditlog.fenced_job(job_id, token);
  SELECT * INTO page FROM auditlog.page p WHERE p.job_id = job.job_id AND p.acked_at IS NULL;
  IF FOUND THEN
    -- Pinned: the same page again, for a retry or a worker taking over.
    body := auditlog.pinned_body(page);
  ELSE
    owner.job_id := job.job_id;
    owner.part_number := job.parts_exported + 1;
    owner.stream := job.stream;
    owner.tenant_id := job.tenant_id;
    owner.format := CASE job.format WHEN 'csv' THEN 'csv' ELSE 'ndjson' END;
    SELECT * INTO cut FROM auditlog.pin_page(owner, job.after_logged_at, job.after_id, job.range_start, job.range_end, max_rows);
    page := cut.page;
    body := cut.body;
  END IF;
  RETURN NEXT (page.page_id, page.part_number, page.rows, page.final, page.sha256, body, page.object_key)::auditlog.export_page;
END
$$;

CREATE OR REPLACE FUNCTION auditlog.ack_export_page(job_id bigint, token uuid, page_id uuid)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job auditlog.export_job;
  p auditlog.page;
BEGIN
  PERFORM auditlog.refuse_transaction_block('auditlog.ack_export_page()');
  PERFORM set_config('synchronous_commit', 'on', true);
  job := auditlog.fenced_job(job_id, token);
  p := auditlog.ack_page(page_id, NULL, NULL, job.job_id,
                         (SELECT q.sha256 FROM auditlog.page q WHERE q.job_id = job.job_id AND q.acked_at IS NOT NULL
                          ORDER BY q.part_number DESC LIMIT 1));
  IF p IS NULL THEN
    RETURN false;
  END IF;
  UPDATE auditlog.export_job j
  SET after_logged_at = coalesce(p.last_logged_at, j.after_logged_at), after_id = coalesce(p.last_id, j.after_id),
      parts_exported = j.parts_exported + 1, rows_exported = j.rows_exported + p.rows, heartbeat_at = now()
  WHERE j.job_id = job.job_id;
  RETURN true;
END
$$;

COMMENT ON FUNCTION auditlog.ack_export_page IS
  'Acknowledges the page in flight of a claimed export job once its part is stored. Returns false for a page acknowledged already. Needs the job''s current fencing token.';

CREATE OR REPLACE FUNCTION auditlog.finish_export(job_id bigint, token uuid, object_url text, bytes bigint, sha256 text,
                                       download_url text DEFAULT NULL, link_expires_at timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job auditlog.export_job := auditlog.fenced_job(job_id, token);
  last_part auditlog.page := (SELECT p FROM auditlog.page p WHERE p.job_id = job.job_id ORDER BY p.part_number DESC LIMIT 1);
BEGIN
  IF last_part.acked_at IS NULL OR last_part.final IS NOT TRUE THEN
    RAISE EXCEPTION 'export job % is not finished: %', job.job_id,
      CASE WHEN last_part.page_id IS NOT NULL AND last_part.acked_at IS NULL THEN 'a page is in flight'
           ELSE 'its last page was not acknowledged' END
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF object_url IS NULL OR bytes IS NULL OR bytes < 0 OR sha256 IS NULL OR sha256 !~ '^[0-9a-f]{64}$' THEN
    RAISE EXCEPTION 'finish_export() needs the object''s url, its size in bytes and its SHA-256 in hex'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE auditlog.export_job j
  SET status = 'done', object_url = finish_export.object_url, bytes = finish_export.bytes, sha256 = finish_export.sha256,
      download_url = finish_export.download_url, link_expires_at = finish_export.link_expires_at,
      finished_at = now(), lease_token = NULL, error = NULL
  WHERE j.job_id = job.job_id;
END
$$;

CREATE OR REPLACE FUNCTION auditlog.sink_lag_rows(sink text, cap int DEFAULT 1000000)
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
                   auditlog.batch_condition(lo, hi), auditlog.entry_filter(s.stream, s.tenant_id, s.operation_prefix), cap - lag)
    INTO owed;
    lag := lag + owed;
    EXIT WHEN lag >= cap;
  END LOOP;
  RETURN lag;
END
$$;

-- Privileges, as a fresh install grants them (new functions start with none).
GRANT auditlog_writer, auditlog_reader TO auditlog_admin;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA auditlog FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA auditlog FROM PUBLIC;
GRANT USAGE ON SCHEMA auditlog TO auditlog_writer, auditlog_reader, auditlog_admin;

GRANT EXECUTE ON FUNCTION auditlog.record, auditlog.begin, auditlog.complete
  TO auditlog_writer;
GRANT SELECT ON auditlog.entry, auditlog.pending, auditlog.partitions, auditlog.health,
  auditlog.sink, auditlog.sink_status, auditlog.export_status, auditlog.backfill_status,
  auditlog.page, auditlog.sink_state
  TO auditlog_reader;
-- auditlog.health shows open import spans by their lock's keys.
GRANT EXECUTE ON FUNCTION auditlog.valid_stream TO auditlog_writer, auditlog_reader;
GRANT EXECUTE ON FUNCTION auditlog.import_lock_class, auditlog.import_lock_key, auditlog.import_span_locks,
  auditlog.clock_floor_time TO auditlog_reader;
GRANT EXECUTE ON FUNCTION auditlog.utc_day, auditlog.partition_range, auditlog.settled_horizon, auditlog.list,
  auditlog.sink_exported_before, auditlog.sink_lag_rows
  TO auditlog_reader;
GRANT EXECUTE ON FUNCTION auditlog.timeout_pending, auditlog.ensure_partitions, auditlog.purge, auditlog.purge_preview,
  auditlog.tick, auditlog.create_sink, auditlog.enable_sink, auditlog.disable_sink, auditlog.drop_sink,
  auditlog.next_page, auditlog.ack, auditlog.unpin_page,
  auditlog.request_export, auditlog.claim_export, auditlog.heartbeat_export, auditlog.export_next_page,
  auditlog.ack_export_page, auditlog.finish_export, auditlog.fail_export, auditlog.cancel_export,
  auditlog.start_backfill, auditlog.backfill_next_page, auditlog.backfill_ack, auditlog.cancel_backfill,
  auditlog.backfill_gap, auditlog.waive_gaps,
  auditlog.import_begin, auditlog.import_rows, auditlog.claim_import_span, auditlog.import_staged_rows, auditlog.import_abandon
  TO auditlog_admin;
-- import_rows() runs with the caller's rights: it stages the source's rows
-- (every column but the staging transaction's xid, which is its own).
GRANT INSERT (span_id, id, stream, logged_at, started_at, operation, actor_type, actor_id, tenant_id,
              resource_type, resource_id, request_id, request_uri, source_ip, user_agent, auth_method,
              credential_id, result, http_status, error_code, error_message, details)
  ON auditlog.import_stage TO auditlog_admin;
REVOKE ALL ON PROCEDURE auditlog.import FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE auditlog.import TO auditlog_admin;
