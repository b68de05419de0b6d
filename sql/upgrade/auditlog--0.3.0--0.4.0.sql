-- auditlog 0.3.0 to 0.4.0: one page model; internal helpers in a schema of
-- their own.
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

-- The helpers move out of the API's way, into a schema of their own: \df
-- auditlog.* shows what a DBA may call. (After the pages above were moved:
-- 0.3.0's functions find them by name.)
CREATE SCHEMA auditlog_internal;
COMMENT ON SCHEMA auditlog_internal IS
  'The helpers auditlog''s functions are built from; not to be called on their own. Use the functions in schema auditlog.';
ALTER FUNCTION auditlog.anchor_sink(text,text) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.attach_day(timestamp with time zone) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.batch_condition(bigint,bigint) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.check_exportable(text) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.check_import_entry(text,text,text,text,text,text,text,text,text,inet,text,text,text,auditlog.result,integer,text,text,jsonb,uuid,timestamp with time zone,timestamp with time zone,timestamp with time zone,timestamp with time zone,boolean,bigint) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.check_lease(interval) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.check_max_rows(integer) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.check_past_window(timestamp with time zone,timestamp with time zone) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.check_retain(interval) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.check_sink_name(text) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.claim_import_span(bigint) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.clock_floor_time() SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.commit_promptly(text) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.fenced_job(bigint,uuid) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.forbid_change() SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.holds_import_span(bigint) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.import_lock_class() SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.import_lock_key(bigint) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.import_span_locks() SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.import_staged_rows(bigint) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.import_window_lock() SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.index_partition(regclass) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.installation_id() SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.lock_key(text) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.locked_sink(text) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.max_page_bytes() SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.move_default_rows(timestamp with time zone,timestamp with time zone,regclass) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.new_page_id() SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.partition_range(regclass) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.prune_ticks() SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.raise_floor_above_log() SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.reanchor_if_foreign(auditlog.sink) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.record_internal(text,text,text,text,text,text,text,text,text,inet,text,text,text,auditlog.result,integer,text,text,jsonb) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.refuse_transaction_block(text) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.release_import_locks() SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.render_query(text,text,integer,text) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.render_step(internal,auditlog.entry,text,integer,text) SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.sink_anchor_trigger() SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.sweep_import_spans() SET SCHEMA auditlog_internal;
ALTER FUNCTION auditlog.tick_time_and_mark() SET SCHEMA auditlog_internal;

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

CREATE OR REPLACE FUNCTION auditlog_internal.clock_floor_value(at timestamptz)
RETURNS bigint
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN (extract(epoch FROM at - timestamptz '2000-01-01 00:00:00+00') * 1000000)::bigint;

COMMENT ON FUNCTION auditlog_internal.clock_floor_value IS
  'Internal: a time as auditlog.clock_floor holds it, microseconds since 2000-01-01 UTC.';

CREATE OR REPLACE FUNCTION auditlog_internal.clock_floor_time()
RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER  -- auditlog.health shows it to readers
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT timestamptz '2000-01-01 00:00:00+00'
         + make_interval(secs => (f.last_value / 1000000)::double precision)
         + make_interval(secs => (f.last_value % 1000000) / 1000000.0)
  FROM auditlog.clock_floor f
$$;

COMMENT ON FUNCTION auditlog_internal.clock_floor_time IS
  'Internal: the clock floor (auditlog.clock_floor, microseconds since 2000-01-01 UTC) as a time: an upper bound of every settled horizon handed out since the first tick.';

CREATE OR REPLACE FUNCTION auditlog_internal.index_partition(partition regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  name text := (SELECT relname FROM pg_class WHERE oid = partition);
BEGIN
  EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I PRIMARY KEY (logged_at, id)', partition, name || '_pkey');
  -- Batches of the export find their rows by writer.
  EXECUTE format('CREATE INDEX %I ON %s (writer_xid)', name || '_writer_xid', partition);
  -- On-demand exports for one tenant read only that tenant's entries.
  EXECUTE format('CREATE INDEX %I ON %s (tenant_id, logged_at)', name || '_tenant', partition);
END
$$;

COMMENT ON FUNCTION auditlog_internal.index_partition IS
  'Internal: gives a partition of auditlog.entry its primary key (logged_at, id) and its indexes.';

CREATE OR REPLACE FUNCTION auditlog_internal.record_internal(
  operation     text,
  stream        text DEFAULT 'auditlog',
  actor_type    text DEFAULT NULL,
  actor_id      text DEFAULT NULL,
  tenant_id     text DEFAULT NULL,
  resource_type text DEFAULT NULL,
  resource_id   text DEFAULT NULL,
  request_id    text DEFAULT NULL,
  request_uri   text DEFAULT NULL,
  source_ip     inet DEFAULT NULL,
  user_agent    text DEFAULT NULL,
  auth_method   text DEFAULT NULL,
  credential_id text DEFAULT NULL,
  result        auditlog.result DEFAULT 'success',
  http_status   int DEFAULT NULL,
  error_code    text DEFAULT NULL,
  error_message text DEFAULT NULL,
  details       jsonb DEFAULT NULL)
RETURNS uuid
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'auditlog_record_internal';

COMMENT ON FUNCTION auditlog_internal.record_internal IS
  'Internal: record() for the extension''s own records, which may use the reserved stream ''auditlog''. Granted to nobody.';

CREATE OR REPLACE FUNCTION auditlog_internal.forbid_change()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'auditlog_forbid_change';

COMMENT ON FUNCTION auditlog_internal.forbid_change IS
  'Internal: the trigger that keeps auditlog.entry append-only.';

CREATE OR REPLACE FUNCTION auditlog_internal.move_default_rows(range_start timestamptz, range_end timestamptz, target regclass)
RETURNS bigint
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'auditlog_move_default_rows';

COMMENT ON FUNCTION auditlog_internal.move_default_rows IS
  'Internal to ensure_partitions(): moves the DEFAULT partition''s rows in [range_start, range_end) into target, every column preserved.';

CREATE OR REPLACE FUNCTION auditlog_internal.partition_range(partition regclass, OUT range_start timestamptz, OUT range_end timestamptz)
RETURNS record
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
AS $$
  SELECT m[1]::timestamptz, m[2]::timestamptz
  FROM pg_catalog.pg_class c,
       pg_catalog.regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                               '^FOR VALUES FROM [(]''([^'']+)''[)] TO [(]''([^'']+)''[)]$') AS m
  WHERE c.oid = partition
$$;

COMMENT ON FUNCTION auditlog_internal.partition_range IS
  'Internal: the [range_start, range_end) of a day partition of auditlog.entry, whatever the session''s DateStyle and TimeZone.';

CREATE OR REPLACE FUNCTION auditlog_internal.attach_day(day timestamptz)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
SET lock_timeout = '100ms'
AS $$
DECLARE
  name text := 'entry_p' || to_char(day, 'YYYYMMDD');
  range_end timestamptz := day + interval '1 day';
  moved bigint;
BEGIN
  -- A writer routing an entry of this day to DEFAULT while the day is
  -- attached would fail ("violates partition constraint"). Only today (and
  -- yesterday, around midnight) can have such writers, and only when the day
  -- was not made ahead: hold them off for the moment it takes (they wait, up
  -- to lock_timeout, rather than fail). Older days get entries only from
  -- imports, which make their days first; days ahead get none yet.
  IF day BETWEEN auditlog.utc_day(now()) - interval '1 day' AND auditlog.utc_day(now()) THEN
    LOCK TABLE auditlog.entry IN SHARE MODE;
  END IF;
  EXECUTE format('CREATE TABLE auditlog.%I (LIKE auditlog.entry INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)', name);
  EXECUTE format('ALTER TABLE auditlog.%I ADD CONSTRAINT %I CHECK (logged_at >= %L AND logged_at < %L)',
                 name, name || '_range', day, range_end);
  PERFORM auditlog_internal.index_partition(format('auditlog.%I', name)::regclass);
  EXECUTE format('CREATE TRIGGER entry_no_truncate BEFORE TRUNCATE ON auditlog.%I'
                 ' FOR EACH STATEMENT EXECUTE FUNCTION auditlog_internal.forbid_change()', name);
  EXECUTE format('ALTER TABLE auditlog.%I ENABLE ALWAYS TRIGGER entry_no_truncate', name);
  moved := auditlog_internal.move_default_rows(day, range_end, format('auditlog.%I', name)::regclass);
  EXECUTE format('ALTER TABLE auditlog.entry ATTACH PARTITION auditlog.%I FOR VALUES FROM (%L) TO (%L)',
                 name, day, range_end);
  -- The range constraint only spared ATTACH a scan; kept, it would be checked
  -- again on every insert.
  EXECUTE format('ALTER TABLE auditlog.%I DROP CONSTRAINT %I', name, name || '_range');
  IF moved > 0 THEN
    RAISE NOTICE 'moved % entries from the DEFAULT partition into %', moved, name;
  END IF;
  RETURN true;
EXCEPTION WHEN lock_not_available THEN
  RAISE WARNING 'auditlog: could not attach partition % now: the log is busy; the next ensure_partitions() will retry', name;
  RETURN false;
END
$$;

COMMENT ON FUNCTION auditlog_internal.attach_day IS
  'Internal to ensure_partitions(): makes and attaches the partition for one UTC day, moving its strays out of DEFAULT.';

CREATE OR REPLACE FUNCTION auditlog.ensure_partitions(premake int DEFAULT 7)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
AS $$
DECLARE
  today timestamptz := auditlog.utc_day(now());
  day timestamptz;
  made int := 0;
BEGIN
  IF premake IS NULL OR premake < 0 OR premake > 366 THEN
    RAISE EXCEPTION 'premake must be between 0 and 366 days, not %', coalesce(premake::text, 'null')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- One maintainer at a time: two would both make the same day, and one fail.
  PERFORM pg_advisory_xact_lock(auditlog_internal.lock_key('partitions'));

  FOR day IN
    SELECT today + n * interval '1 day' FROM generate_series(0, premake) AS n
    UNION
    SELECT DISTINCT auditlog.utc_day(logged_at) FROM ONLY auditlog.entry_default
    ORDER BY 1
  LOOP
    CONTINUE WHEN EXISTS (SELECT FROM auditlog.partitions p
                          WHERE p.range_start < day + interval '1 day' AND p.range_end > day);
    IF auditlog_internal.attach_day(day) THEN
      made := made + 1;
    END IF;
  END LOOP;
  RETURN made;
END
$$;

CREATE OR REPLACE FUNCTION auditlog_internal.tick_time_and_mark(OUT taken_at timestamptz, OUT mark xid8)
RETURNS record
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'auditlog_tick_time_and_mark';

COMMENT ON FUNCTION auditlog_internal.tick_time_and_mark IS
  'Internal to tick(): reads the time, raises the clock floor to it, then reads the next xid to be assigned.';

CREATE OR REPLACE FUNCTION auditlog_internal.lock_key(name text)
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

CREATE OR REPLACE FUNCTION auditlog.tick()
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

CREATE OR REPLACE FUNCTION auditlog_internal.installation_id()
RETURNS uuid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT id FROM auditlog.installation);

COMMENT ON FUNCTION auditlog_internal.installation_id IS 'Internal: the id of this installation of the log (see auditlog.installation).';

CREATE OR REPLACE FUNCTION auditlog_internal.raise_floor_above_log()
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

CREATE OR REPLACE FUNCTION auditlog.settled_horizon()
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

CREATE OR REPLACE FUNCTION auditlog_internal.prune_ticks()
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

CREATE OR REPLACE FUNCTION auditlog_internal.batch_condition(lo bigint, hi bigint)
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

CREATE OR REPLACE FUNCTION auditlog_internal.refuse_transaction_block(what text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'auditlog_refuse_transaction_block';

COMMENT ON FUNCTION auditlog_internal.refuse_transaction_block IS
  'Internal: raises an error when called inside a transaction block.';

CREATE OR REPLACE FUNCTION auditlog_internal.commit_promptly(what text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'auditlog_commit_promptly';

COMMENT ON FUNCTION auditlog_internal.commit_promptly IS
  'Internal: the current transaction fails at commit unless it commits within 250 ms of this call (and cannot be prepared).';

CREATE OR REPLACE FUNCTION auditlog_internal.check_exportable(what text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF pg_is_in_recovery() THEN
    RAISE EXCEPTION '% cannot run on a hot standby', what
      USING ERRCODE = 'read_only_sql_transaction',
            DETAIL = 'A standby''s snapshots do not describe the primary''s transactions.',
            HINT = 'Run it on the primary.';
  END IF;
  IF EXISTS (SELECT FROM pg_catalog.pg_subscription_rel sr
             JOIN pg_catalog.pg_class c ON c.oid = sr.srrelid
             WHERE c.relnamespace = 'auditlog'::regnamespace AND c.relname LIKE 'entry%') THEN
    RAISE EXCEPTION '% cannot run where auditlog.entry is received by logical replication', what
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'The replicated entries carry the publisher''s xids, which mean nothing here.',
            HINT = 'Export from the publisher.';
  END IF;
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION '% needs READ COMMITTED, not %', what, upper(current_setting('transaction_isolation'))
      USING ERRCODE = 'invalid_transaction_state',
            DETAIL = 'Each of its statements must see a fresh snapshot.';
  END IF;
END
$$;

COMMENT ON FUNCTION auditlog_internal.check_exportable IS
  'Internal: refuses to tick or page on a hot standby, on a subscriber that receives the log by logical replication, or above READ COMMITTED.';

CREATE OR REPLACE FUNCTION auditlog_internal.check_max_rows(max_rows int)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF max_rows IS NULL OR max_rows < 1 OR max_rows > 100000 THEN
    RAISE EXCEPTION 'max_rows must be between 1 and 100000, not %', coalesce(max_rows::text, 'null')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END
$$;

COMMENT ON FUNCTION auditlog_internal.check_max_rows IS 'Internal: refuses a page size outside 1 to 100000.';

CREATE OR REPLACE FUNCTION auditlog_internal.check_past_window("from" timestamptz, "to" timestamptz)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  horizon timestamptz := auditlog.settled_horizon();
  oldest timestamptz := (SELECT min(range_start) FROM auditlog.partitions);
BEGIN
  IF "from" IS NULL OR "to" IS NULL OR "from" >= "to" THEN
    RAISE EXCEPTION 'the window needs "from" before "to"' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF "to" > horizon THEN
    RAISE EXCEPTION 'the window ends after the settled horizon'
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('It ends at %s; the settled horizon is %s. Entries logged after it may still be committed.', "to", horizon),
            HINT = 'End the window earlier, or wait: auditlog.tick() then auditlog.settled_horizon() shows how far is stable.';
  END IF;
  IF oldest IS NULL OR "from" < oldest THEN
    RAISE EXCEPTION 'the window starts before the oldest entries kept'
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('It starts at %s; the oldest partition starts at %s: older days were dropped by retention (or never held entries).',
                            "from", coalesce(oldest::text, 'none'));
  END IF;
END
$$;

COMMENT ON FUNCTION auditlog_internal.check_past_window IS 'Internal: refuses a window that is empty, not settled yet, or reaches below the oldest partition.';

CREATE OR REPLACE FUNCTION auditlog_internal.check_sink_name(name text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF name IS NULL OR name !~ '^[a-z0-9][a-z0-9_-]{0,62}$' THEN
    RAISE EXCEPTION 'invalid sink name %', coalesce(quote_literal(name), 'null')
      USING ERRCODE = 'invalid_name',
            DETAIL = 'A sink name is 1 to 63 characters of a-z, 0-9, ''_'' and ''-'', starting with a letter or digit; it becomes part of object keys.';
  END IF;
END
$$;

COMMENT ON FUNCTION auditlog_internal.check_sink_name IS 'Internal: refuses a sink name that could not be part of an object key.';

CREATE OR REPLACE FUNCTION auditlog_internal.locked_sink(name text)
RETURNS auditlog.sink
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  found_sink auditlog.sink;
BEGIN
  PERFORM auditlog_internal.check_sink_name(name);
  SELECT * INTO found_sink FROM auditlog.sink s WHERE s.name = locked_sink.name FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'sink "%" does not exist', name
      USING ERRCODE = 'undefined_object', HINT = 'auditlog.sink lists the sinks; create one with auditlog.create_sink().';
  END IF;
  RETURN found_sink;
END
$$;

COMMENT ON FUNCTION auditlog_internal.locked_sink IS 'Internal: the named sink''s row, locked for update; an error if there is none.';

CREATE OR REPLACE FUNCTION auditlog_internal.anchor_sink(name text, reason text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  anchor bigint := auditlog.tick();
BEGIN
  INSERT INTO auditlog.sink_segment (sink, from_tick) VALUES (name, anchor);
  -- A sink enabled again keeps its cursor: it first exports what it still
  -- owes from before.
  INSERT INTO auditlog.sink_state (sink, cursor_tick, anchor_reason) VALUES (name, anchor, reason)
  ON CONFLICT (sink) DO UPDATE SET anchored_at = now(), anchor_reason = excluded.anchor_reason;
  -- Enabled again after a closing tick: what came between is a gap.
  INSERT INTO auditlog.sink_gap (sink, from_tick, to_tick)
  SELECT st.sink, st.closed_tick, anchor FROM auditlog.sink_state st
  WHERE st.sink = name AND st.closed_tick IS NOT NULL;
  UPDATE auditlog.sink_state st SET closed_tick = NULL WHERE st.sink = name;
  RETURN anchor;
END
$$;

COMMENT ON FUNCTION auditlog_internal.anchor_sink IS 'Internal: opens a segment for the sink at a fresh tick.';

CREATE OR REPLACE FUNCTION auditlog_internal.sink_anchor_trigger()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  closing bigint;
BEGIN
  IF TG_OP = 'INSERT' AND NEW.enabled THEN
    -- A row of another installation, or made before this one, comes from a
    -- dump being restored: it is anchored on its first next_page(), once the
    -- whole log is back. A sink created in the transaction that installed
    -- the extension (a migration) is this installation's.
    IF NEW.installation = auditlog_internal.installation_id()
       AND NEW.created_at >= (SELECT installed_at FROM auditlog.installation) THEN
      PERFORM auditlog_internal.anchor_sink(NEW.name, 'created');
    END IF;
  ELSIF TG_OP = 'UPDATE' AND NEW.enabled AND NOT OLD.enabled THEN
    PERFORM auditlog_internal.anchor_sink(NEW.name, 'enabled');
  ELSIF TG_OP = 'UPDATE' AND OLD.enabled AND NOT NEW.enabled THEN
    -- While the disabling transaction stays open, writers still see the sink
    -- enabled; an entry committed then would fall behind the closing tick.
    -- So it must commit on its own, and promptly after the closing tick.
    PERFORM auditlog_internal.refuse_transaction_block('disabling a sink');
    closing := auditlog.tick();
    UPDATE auditlog.sink_segment SET to_tick = closing WHERE sink = NEW.name AND to_tick IS NULL;
    UPDATE auditlog.sink_state SET closed_tick = closing WHERE sink = NEW.name;
    PERFORM auditlog_internal.commit_promptly(format('disabling sink "%s"', NEW.name));
  END IF;
  RETURN NULL;
END
$$;

COMMENT ON FUNCTION auditlog_internal.sink_anchor_trigger IS 'Internal: re-anchors a sink when it is created enabled or enabled again, closes its segment when it is disabled.';

CREATE OR REPLACE FUNCTION auditlog.create_sink(
  name             text,
  url              text,
  stream           text DEFAULT NULL,
  tenant_id        text DEFAULT NULL,
  operation_prefix text DEFAULT NULL,
  format           text DEFAULT 'ndjson.gz',
  enabled          boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM auditlog_internal.check_sink_name(name);
  -- Bucket names: 3 to 63 characters for S3 (auditlogctl checks the same),
  -- 3 to 222 for Cloud Storage.
  IF url IS NULL OR url !~ '^(file:///|s3://[a-z0-9][a-z0-9.-]{2,62}(/|$)|gs://[a-z0-9][a-z0-9._-]{2,221}(/|$))' THEN
    RAISE EXCEPTION 'unsupported sink url %', coalesce(quote_literal(url), 'null')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use file:///absolute/path, s3://bucket/prefix or gs://bucket/prefix.';
  END IF;
  IF stream IS NOT NULL AND NOT auditlog.valid_stream(stream) THEN
    RAISE EXCEPTION 'invalid stream filter %', quote_literal(stream) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF operation_prefix = '' OR tenant_id = '' THEN
    RAISE EXCEPTION 'an empty filter matches nothing; pass NULL to not filter'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF format IS DISTINCT FROM 'ndjson.gz' THEN
    RAISE EXCEPTION 'unsupported sink format %', coalesce(quote_literal(format), 'null')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Sinks export ndjson.gz.';
  END IF;
  IF enabled IS NULL THEN
    RAISE EXCEPTION 'enabled must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF EXISTS (SELECT FROM auditlog.sink s WHERE s.name = create_sink.name) THEN
    RAISE EXCEPTION 'sink "%" already exists', name USING ERRCODE = 'duplicate_object';
  END IF;
  INSERT INTO auditlog.sink (name, url, stream, tenant_id, operation_prefix, format, enabled)
  VALUES (name, url, stream, tenant_id, operation_prefix, format, enabled);
END
$$;

CREATE OR REPLACE FUNCTION auditlog.enable_sink(name text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  found_sink auditlog.sink := auditlog_internal.locked_sink(name);
BEGIN
  IF found_sink.enabled THEN
    RETURN false;
  END IF;
  UPDATE auditlog.sink s SET enabled = true WHERE s.name = enable_sink.name;
  RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION auditlog.disable_sink(name text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  found_sink auditlog.sink;
BEGIN
  PERFORM auditlog_internal.refuse_transaction_block('auditlog.disable_sink()');
  found_sink := auditlog_internal.locked_sink(name);
  IF NOT found_sink.enabled THEN
    RETURN false;
  END IF;
  UPDATE auditlog.sink s SET enabled = false WHERE s.name = disable_sink.name;
  RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION auditlog.drop_sink(name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM auditlog_internal.locked_sink(name);
  DELETE FROM auditlog.sink s WHERE s.name = drop_sink.name;
END
$$;

CREATE OR REPLACE FUNCTION auditlog_internal.render_step(state internal, e auditlog.entry, format text, max_bytes int, head text)
RETURNS internal
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'auditlog_render_step';

COMMENT ON FUNCTION auditlog_internal.render_step IS 'Internal: the transition function of render_entries().';

CREATE OR REPLACE FUNCTION auditlog_internal.render_final(state internal)
RETURNS auditlog.rendered_page
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'auditlog_render_final';

COMMENT ON FUNCTION auditlog_internal.render_final IS 'Internal: the final function of render_entries().';
CREATE AGGREGATE auditlog_internal.render_entries(e auditlog.entry, format text, max_bytes int, head text) (
  SFUNC = auditlog_internal.render_step,
  STYPE = internal,
  FINALFUNC = auditlog_internal.render_final,
  FINALFUNC_MODIFY = READ_ONLY,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE auditlog_internal.render_entries(auditlog.entry, text, int, text) IS
  'Internal: the entries as a page body in format ndjson or csv, after head: the longest prefix in (logged_at, id) order of at most max_bytes (at least one entry), whatever order they come in.';

CREATE OR REPLACE FUNCTION auditlog_internal.render_query(query text, format text, max_bytes int, head text)
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

CREATE OR REPLACE FUNCTION auditlog_internal.entry_filter(stream text, tenant_id text, operation_prefix text)
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

CREATE OR REPLACE FUNCTION auditlog_internal.page_query(p auditlog.page, after_logged_at timestamptz, after_id uuid,
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

CREATE OR REPLACE FUNCTION auditlog_internal.max_page_bytes()
RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 16 * 1024 * 1024;

COMMENT ON FUNCTION auditlog_internal.max_page_bytes IS 'Internal: the most bytes in a page body (16 MiB); a page holds at least one entry.';

CREATE OR REPLACE FUNCTION auditlog_internal.new_page_id()
RETURNS uuid
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'auditlog_new_page_id';

COMMENT ON FUNCTION auditlog_internal.new_page_id IS
  'Internal: a UUIDv7 for a page. Never a sequence or a counter: it must not repeat after a restore, a point-in-time recovery or a failover.';

CREATE OR REPLACE FUNCTION auditlog_internal.page_head(p auditlog.page)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN p.format = 'csv' AND p.part_number = 1 THEN auditlog.csv_header() || E'\n' END;

COMMENT ON FUNCTION auditlog_internal.page_head IS 'Internal: what opens a page''s body: the CSV header for the first part of a CSV export, else nothing.';

CREATE OR REPLACE FUNCTION auditlog_internal.page_owner(sink text, backfill_id bigint, job_id bigint)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN sink IS NOT NULL THEN format('sink "%s"', sink)
            WHEN backfill_id IS NOT NULL THEN format('backfill %s', backfill_id)
            ELSE format('export job %s', job_id) END;

COMMENT ON FUNCTION auditlog_internal.page_owner IS 'Internal: a page''s owner as messages name it: sink "name", backfill id or export job id.';

CREATE OR REPLACE FUNCTION auditlog_internal.page_object_key(p auditlog.page)
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

CREATE OR REPLACE FUNCTION auditlog_internal.pin_page(p auditlog.page, after_logged_at timestamptz, after_id uuid,
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

CREATE OR REPLACE FUNCTION auditlog_internal.pinned_body(p auditlog.page)
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

CREATE OR REPLACE FUNCTION auditlog_internal.ack_page(page_id uuid, sink text, backfill_id bigint, job_id bigint, prev_sha256 text)
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

CREATE OR REPLACE FUNCTION auditlog_internal.page_out(p auditlog.page, body text)
RETURNS auditlog.page_out
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
RETURN (p.page_id, p.object_key, p.stream, auditlog.utc_day(p.first_logged_at)::date, p.rows,
        p.first_logged_at, p.last_logged_at, p.sha256, body)::auditlog.page_out;

COMMENT ON FUNCTION auditlog_internal.page_out IS 'Internal: a pinned page and its body as next_page() hands them out.';

CREATE OR REPLACE FUNCTION auditlog_internal.reanchor_if_foreign(s auditlog.sink)
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

CREATE OR REPLACE FUNCTION auditlog_internal.pin_batch_page(p auditlog.page, s auditlog.sink, lo bigint, hi bigint,
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

CREATE OR REPLACE FUNCTION auditlog.ack(sink text, page_id uuid)
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

CREATE OR REPLACE FUNCTION auditlog_internal.locked_backfill(backfill_id bigint)
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

CREATE OR REPLACE FUNCTION auditlog.start_backfill(sink text, "from" timestamptz, "to" timestamptz)
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

CREATE OR REPLACE FUNCTION auditlog.backfill_ack(backfill_id bigint, page_id uuid)
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

CREATE OR REPLACE FUNCTION auditlog.backfill_gap(sink text)
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

CREATE OR REPLACE FUNCTION auditlog.waive_gaps(sink text)
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

CREATE OR REPLACE FUNCTION auditlog.cancel_backfill(backfill_id bigint)
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
  IF NOT auditlog.valid_stream(stream) THEN
    RAISE EXCEPTION 'invalid stream %', coalesce(quote_literal(stream), 'null') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- (An infinite bound has no length: check_past_window refuses it.)
  IF isfinite("from") AND isfinite("to") AND "to" - "from" > max_window THEN
    RAISE EXCEPTION 'an export window is at most 92 days'
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('This one is %s.', "to" - "from"),
            HINT = 'Request several exports.';
  END IF;
  PERFORM auditlog_internal.import_window_lock();  -- serialised with import_begin(): see 79_import.sql
  PERFORM auditlog_internal.check_past_window("from", "to");
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

CREATE OR REPLACE FUNCTION auditlog_internal.check_lease(lease interval)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF lease IS NULL OR lease <= interval '0' OR lease > interval '1 day' THEN
    RAISE EXCEPTION 'lease must be a positive interval of at most a day' USING ERRCODE = 'invalid_parameter_value';
  END IF;
END
$$;

COMMENT ON FUNCTION auditlog_internal.check_lease IS 'Internal: refuses a lease that is not a positive interval of at most a day.';

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
  PERFORM auditlog_internal.check_lease(lease);
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

CREATE OR REPLACE FUNCTION auditlog_internal.locked_job(job_id bigint)
RETURNS auditlog.export_job
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job auditlog.export_job;
BEGIN
  SELECT * INTO job FROM auditlog.export_job j WHERE j.job_id = locked_job.job_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'export job % does not exist', job_id
      USING ERRCODE = 'undefined_object', HINT = 'auditlog.export_status lists the export jobs.';
  END IF;
  RETURN job;
END
$$;

COMMENT ON FUNCTION auditlog_internal.locked_job IS 'Internal: the export job''s row, locked for update; an error if there is none.';

CREATE OR REPLACE FUNCTION auditlog_internal.fenced_job(job_id bigint, token uuid)
RETURNS auditlog.export_job
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job auditlog.export_job := auditlog_internal.locked_job(job_id);
BEGIN
  IF job.status <> 'running' OR job.lease_token IS DISTINCT FROM token THEN
    RAISE EXCEPTION 'export job % is not leased with this token', job_id
      USING ERRCODE = 'lock_not_available',
            DETAIL = format('The job is %s; its lease was taken over, or it ended.', job.status),
            HINT = 'Stop working on it: another worker holds it, or it is finished.';
  END IF;
  RETURN job;
END
$$;

COMMENT ON FUNCTION auditlog_internal.fenced_job IS 'Internal: the export job, locked, provided the token is its current fencing token.';

CREATE OR REPLACE FUNCTION auditlog.heartbeat_export(job_id bigint, token uuid, lease interval DEFAULT '5 minutes')
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job auditlog.export_job := auditlog_internal.fenced_job(job_id, token);
BEGIN
  PERFORM auditlog_internal.check_lease(lease);
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
  PERFORM auditlog_internal.refuse_transaction_block('auditlog.export_next_page()');
  PERFORM auditlog_internal.check_max_rows(max_rows);
  PERFORM set_config('synchronous_commit', 'on', true);
  job := auditlog_internal.fenced_job(job_id, token);
  SELECT * INTO page FROM auditlog.page p WHERE p.job_id = job.job_id AND p.acked_at IS NULL;
  IF FOUND THEN
    -- Pinned: the same page again, for a retry or a worker taking over.
    body := auditlog_internal.pinned_body(page);
  ELSE
    owner.job_id := job.job_id;
    owner.part_number := job.parts_exported + 1;
    owner.stream := job.stream;
    owner.tenant_id := job.tenant_id;
    owner.format := CASE job.format WHEN 'csv' THEN 'csv' ELSE 'ndjson' END;
    SELECT * INTO cut FROM auditlog_internal.pin_page(owner, job.after_logged_at, job.after_id, job.range_start, job.range_end, max_rows);
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
  PERFORM auditlog_internal.refuse_transaction_block('auditlog.ack_export_page()');
  PERFORM set_config('synchronous_commit', 'on', true);
  job := auditlog_internal.fenced_job(job_id, token);
  p := auditlog_internal.ack_page(page_id, NULL, NULL, job.job_id,
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
  job auditlog.export_job := auditlog_internal.fenced_job(job_id, token);
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

CREATE OR REPLACE FUNCTION auditlog.fail_export(job_id bigint, token uuid, error text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job auditlog.export_job := auditlog_internal.fenced_job(job_id, token);
  next_status text := CASE WHEN job.attempts >= job.max_attempts THEN 'failed' ELSE 'pending' END;
BEGIN
  UPDATE auditlog.export_job j
  SET status = next_status, error = coalesce(fail_export.error, 'failed'), lease_token = NULL, lease_expires_at = NULL,
      finished_at = CASE WHEN next_status = 'failed' THEN now() END
  WHERE j.job_id = job.job_id;
  RETURN next_status;
END
$$;

CREATE OR REPLACE FUNCTION auditlog.cancel_export(job_id bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM auditlog_internal.locked_job(job_id);
  UPDATE auditlog.export_job j SET status = 'cancelled', lease_token = NULL, finished_at = now()
  WHERE j.job_id = cancel_export.job_id AND j.status IN ('pending', 'running');
  RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION auditlog_internal.import_lock_class()
RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 73106010 $$;

COMMENT ON FUNCTION auditlog_internal.import_lock_class IS
  'Internal: the first key of the session-level advisory lock (two-int form; the second is the span id) that ties an open import span to its importer''s session.';

CREATE OR REPLACE FUNCTION auditlog_internal.import_lock_key(span_id bigint)
RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT (span_id % 2147483648)::int $$;

COMMENT ON FUNCTION auditlog_internal.import_lock_key IS
  'Internal: the second key of an import span''s advisory lock (the span id, which wraps past 2^31: two spans sharing a key only keep each other from being swept).';

CREATE OR REPLACE FUNCTION auditlog_internal.import_span_locks()
RETURNS TABLE (key int, pid int)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT l.objid::bigint::int, l.pid
  FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid = auditlog_internal.import_lock_class()::oid
$$;

COMMENT ON FUNCTION auditlog_internal.import_span_locks IS
  'Internal: the advisory locks of import spans granted in this database: the span''s key and the session (pid) holding it.';

CREATE OR REPLACE FUNCTION auditlog_internal.holds_import_span(span_id bigint)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT EXISTS (SELECT FROM auditlog_internal.import_span_locks() l
                 WHERE l.key = auditlog_internal.import_lock_key(span_id) AND l.pid = pg_backend_pid())
$$;

COMMENT ON FUNCTION auditlog_internal.holds_import_span IS
  'Internal: whether this session holds the advisory lock of import span span_id.';

CREATE OR REPLACE FUNCTION auditlog_internal.release_import_locks()
RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  held record;
  released int := 0;
BEGIN
  FOR held IN SELECT l.key
              FROM auditlog_internal.import_span_locks() l
              WHERE l.pid = pg_backend_pid()
                AND NOT EXISTS (SELECT FROM auditlog.import_span s
                                WHERE auditlog_internal.import_lock_key(s.span_id) = l.key AND s.status = 'open') LOOP
    -- As many times as it was taken (each unlock when none is held would warn).
    WHILE EXISTS (SELECT FROM auditlog_internal.import_span_locks() l WHERE l.key = held.key AND l.pid = pg_backend_pid()) LOOP
      PERFORM pg_advisory_unlock(auditlog_internal.import_lock_class(), held.key);
      released := released + 1;
    END LOOP;
  END LOOP;
  RETURN released;
END
$$;

COMMENT ON FUNCTION auditlog_internal.release_import_locks IS
  'Internal: releases this session''s advisory locks on import spans that are no longer open. Returns how many lock counts it released.';

CREATE OR REPLACE FUNCTION auditlog_internal.import_window_lock()
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_advisory_xact_lock_shared(auditlog_internal.lock_key('import windows')) $$;

COMMENT ON FUNCTION auditlog_internal.import_window_lock IS
  'Internal: the shared side of the lock import_begin() takes exclusively; start_backfill() and request_export() take it before checking their window.';

CREATE OR REPLACE FUNCTION auditlog.import_begin(range_start timestamptz, range_end timestamptz,
                                      retain interval DEFAULT '90 days', force boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
SET DateStyle = 'ISO'
SET IntervalStyle = 'postgres'
AS $$
DECLARE
  span bigint;
  handed_out timestamptz;
  pinned text;
BEGIN
  PERFORM auditlog_internal.refuse_transaction_block('auditlog.import_begin()');
  IF range_start IS NULL OR range_end IS NULL OR range_start > range_end THEN
    RAISE EXCEPTION 'an import needs a span with range_start at or before range_end' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF force IS NULL OR retain IS NULL OR retain <= interval '0' THEN
    RAISE EXCEPTION 'retain must be a positive interval and force true or false' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF range_end > now() THEN
    RAISE EXCEPTION 'an import cannot write entries logged in the future' USING ERRCODE = 'invalid_parameter_value',
      DETAIL = format('The span ends at %s.', range_end);
  END IF;
  IF range_start < now() - retain THEN
    RAISE EXCEPTION 'the span starts before the retention period' USING ERRCODE = 'invalid_parameter_value',
      DETAIL = format('It starts at %s, more than %s ago: purge() would drop it.', range_start, retain),
      HINT = 'Import only what is to be kept, or pass the retention period in force as retain.';
  END IF;
  -- No tick while the span is checked and committed (tick() holds this
  -- lock while it raises the clock floor; this transaction holds it until it
  -- commits): a tick either raised the floor already, or is seen only with
  -- the span. Nor a backfill or export job starting meanwhile.
  PERFORM pg_advisory_xact_lock(auditlog_internal.lock_key('tick'));
  PERFORM pg_advisory_xact_lock(auditlog_internal.lock_key('import windows'));
  PERFORM auditlog_internal.release_import_locks();
  -- Pinned pages of a past window would change: refused even forced.
  SELECT string_agg(what, '; ') INTO pinned
  FROM (SELECT format('backfill %s of sink %L (%s to %s)', b.backfill_id, b.sink, b.range_start, b.range_end) AS what
        FROM auditlog.backfill b
        WHERE b.status = 'running' AND import_begin.range_start < b.range_end AND import_begin.range_end >= b.range_start
        UNION ALL
        SELECT format('export job %s (%s to %s)', j.job_id, j.range_start, j.range_end)
        FROM auditlog.export_job j
        WHERE j.status IN ('pending', 'running') AND import_begin.range_start < j.range_end AND import_begin.range_end >= j.range_start) AS o;
  IF pinned IS NOT NULL THEN
    RAISE EXCEPTION 'the span overlaps the window of a running backfill or an unfinished export job'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = format('Their pages are pinned when handed out, and the import would change them: %s.', pinned),
            HINT = 'Wait until they finish, or cancel them (cancel_backfill(), cancel_export()), then import.';
  END IF;
  handed_out := auditlog_internal.clock_floor_time();
  IF range_start < handed_out AND NOT force THEN
    RAISE EXCEPTION 'the span starts before a settled horizon that may have been handed out'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = format('The log was read or exported up to %s (the clock floor): a window declared stable up to then may have been read, and this import, from %s, would change it.', handed_out, range_start),
            HINT = 'Import only entries logged after that time; or import history before reading or exporting the log; or pass force => true (it is recorded in the log).';
  END IF;
  INSERT INTO auditlog.import_span (range_start, range_end, forced) VALUES (range_start, range_end, force)
  RETURNING span_id INTO span;
  IF force AND range_start < handed_out THEN
    RAISE WARNING 'auditlog: forced import into a window that may already have been declared stable';
    PERFORM auditlog_internal.record_internal(operation => 'auditlog.import.forced', stream => 'auditlog',
                                     actor_type => 'database_role', actor_id => session_user::text,
                                     resource_type => 'import_span', resource_id => span::text,
                                     details => jsonb_build_object('range_start', range_start, 'range_end', range_end,
                                                                   'horizon_bound', handed_out));
  END IF;
  -- Last: a session-level lock outlives an error of this transaction.
  PERFORM pg_advisory_lock(auditlog_internal.import_lock_class(), auditlog_internal.import_lock_key(span));
  RETURN span;
END
$$;

CREATE OR REPLACE FUNCTION auditlog_internal.check_import_entry(
  operation text, stream text, actor_type text, actor_id text, tenant_id text, resource_type text,
  resource_id text, request_id text, request_uri text, source_ip inet, user_agent text, auth_method text,
  credential_id text, result auditlog.result, http_status int, error_code text, error_message text, details jsonb,
  id uuid, logged_at timestamptz, started_at timestamptz, range_start timestamptz, range_end timestamptz,
  duplicate boolean, "row" bigint)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'auditlog_check_import_entry';

COMMENT ON FUNCTION auditlog_internal.check_import_entry IS
  'Internal to import_staged_rows(): raises the first rule an imported row breaks (those record() applies to its arguments, then a non-null id, finite started_at at or before logged_at, logged_at within the span, a new (logged_at, id)), naming the row; SQLSTATE 22023, or 54000 for an entry too large.';

CREATE OR REPLACE FUNCTION auditlog_internal.claim_import_span(span_id bigint)
RETURNS auditlog.import_span
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  span auditlog.import_span;
BEGIN
  IF span_id IS NULL THEN
    RAISE EXCEPTION 'span_id must not be null' USING ERRCODE = 'null_value_not_allowed',
      HINT = 'Pass the id import_begin() returned.';
  END IF;
  -- The row lock keeps tick()'s sweep off the span until this transaction ends.
  SELECT * INTO span FROM auditlog.import_span s WHERE s.span_id = claim_import_span.span_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'import span % does not exist', span_id USING ERRCODE = 'undefined_object';
  END IF;
  IF span.status <> 'open' THEN
    RAISE EXCEPTION 'import span % is %, not open', span_id, span.status
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = CASE span.status WHEN 'abandoned'
                        THEN 'Its importer''s session ended (or import_abandon() closed it) before the rows were written: register the span again with import_begin().'
                        ELSE 'Its rows are written already.' END;
  END IF;
  IF NOT auditlog_internal.holds_import_span(span.span_id)
     AND NOT pg_try_advisory_lock(auditlog_internal.import_lock_class(), auditlog_internal.import_lock_key(span.span_id)) THEN
    RAISE EXCEPTION 'import span % is held by another session', span_id
      USING ERRCODE = 'lock_not_available',
            DETAIL = 'The session that registered it (or that writes its rows) is still connected.',
            HINT = 'Write the rows from that session, or end it: its span is then free to be written here.';
  END IF;
  RETURN span;
END
$$;

COMMENT ON FUNCTION auditlog_internal.claim_import_span IS
  'Internal to import_rows(): locks the import span, refuses it unless it is open and free of any other live session, and takes its advisory lock for this session. Returns the span.';

CREATE OR REPLACE FUNCTION auditlog_internal.import_staged_rows(span_id bigint)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
SET DateStyle = 'ISO'
SET IntervalStyle = 'postgres'
AS $$
DECLARE
  span auditlog.import_span;
  day timestamptz;
  written bigint;
BEGIN
  span := auditlog_internal.claim_import_span(span_id);
  -- Every staged row, in the order it was staged: the first bad one refuses
  -- the whole import.
  PERFORM count(auditlog_internal.check_import_entry(
            st.operation, st.stream, st.actor_type, st.actor_id, st.tenant_id, st.resource_type,
            st.resource_id, st.request_id, st.request_uri, st.source_ip, st.user_agent, st.auth_method,
            st.credential_id, st.result, st.http_status, st.error_code, st.error_message, st.details,
            st.id, st.logged_at, st.started_at, span.range_start, span.range_end, st.duplicate, st.row))
  FROM (SELECT s.*, row_number() OVER (ORDER BY s.ord) AS row,
               row_number() OVER (PARTITION BY s.logged_at, s.id ORDER BY s.ord) > 1
               OR EXISTS (SELECT FROM auditlog.entry e WHERE e.logged_at = s.logged_at AND e.id = s.id) AS duplicate
        FROM auditlog.import_stage s
        WHERE s.staged_xid = pg_current_xact_id() AND s.span_id = span.span_id
        ORDER BY s.ord OFFSET 0) AS st;
  -- Every day of the span gets its partition first (one maintainer at a
  -- time, as in ensure_partitions()).
  PERFORM pg_advisory_xact_lock(auditlog_internal.lock_key('partitions'));
  FOR day IN SELECT generate_series(auditlog.utc_day(span.range_start), auditlog.utc_day(span.range_end), interval '1 day') LOOP
    IF NOT EXISTS (SELECT FROM auditlog.partitions p WHERE p.range_start <= day AND p.range_end > day) THEN
      IF NOT auditlog_internal.attach_day(day) THEN
        RAISE EXCEPTION 'could not make the partition for % now: the log is busy', day::date
          USING ERRCODE = 'lock_not_available', HINT = 'Try again.';
      END IF;
    END IF;
  END LOOP;
  WITH moved AS (
    DELETE FROM auditlog.import_stage s
    WHERE s.staged_xid = pg_current_xact_id() AND s.span_id = span.span_id
    RETURNING s.*)
  INSERT INTO auditlog.entry (id, stream, logged_at, started_at, operation, actor_type, actor_id, tenant_id,
                              resource_type, resource_id, request_id, request_uri, source_ip, user_agent,
                              auth_method, credential_id, result, http_status, error_code, error_message,
                              details, writer_xid)
  SELECT m.id, m.stream, m.logged_at, m.started_at, m.operation, m.actor_type, m.actor_id, m.tenant_id,
         m.resource_type, m.resource_id, m.request_id, m.request_uri, m.source_ip, m.user_agent,
         m.auth_method, m.credential_id, m.result, m.http_status, m.error_code, m.error_message,
         m.details, pg_current_xact_id()
  FROM moved m;
  GET DIAGNOSTICS written = ROW_COUNT;
  UPDATE auditlog.import_span s SET status = 'written', writer_xid = pg_current_xact_id(), rows = written, written_at = now()
  WHERE s.span_id = span.span_id;
  RETURN written;
END
$$;

COMMENT ON FUNCTION auditlog_internal.import_staged_rows IS
  'Internal to import_rows(): checks the rows this transaction staged for the span (as record() checks its arguments, plus times within the span and new keys) and moves them into the log, marking the span written; refuses the whole import, writing nothing, at the first bad row. Takes the span''s lock for this session.';

CREATE OR REPLACE FUNCTION auditlog.import_rows(span_id bigint, source regclass)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
SET DateStyle = 'ISO'
SET IntervalStyle = 'postgres'
AS $$
BEGIN
  IF span_id IS NULL OR source IS NULL THEN
    RAISE EXCEPTION 'import_rows() needs a span id and a source' USING ERRCODE = 'null_value_not_allowed',
      HINT = 'Pass the id import_begin() returned and the table or view to import.';
  END IF;
  -- Refuse a span that is not open before reading the source.
  PERFORM auditlog_internal.claim_import_span(span_id);
  EXECUTE format('INSERT INTO auditlog.import_stage (span_id, id, stream, logged_at, started_at, operation, actor_type,'
                 ' actor_id, tenant_id, resource_type, resource_id, request_id, request_uri, source_ip, user_agent,'
                 ' auth_method, credential_id, result, http_status, error_code, error_message, details)'
                 ' SELECT $1, id, stream, logged_at, started_at, operation, actor_type,'
                 ' actor_id, tenant_id, resource_type, resource_id, request_id, request_uri, source_ip, user_agent,'
                 ' auth_method, credential_id, result, http_status, error_code, error_message, details FROM %s', source)
  USING span_id;
  RETURN auditlog_internal.import_staged_rows(span_id);
END
$$;

CREATE OR REPLACE FUNCTION auditlog.import_abandon(span_id bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  closed boolean;
BEGIN
  IF NOT EXISTS (SELECT FROM auditlog.import_span s WHERE s.span_id = import_abandon.span_id) THEN
    RAISE EXCEPTION 'import span % does not exist', span_id USING ERRCODE = 'undefined_object';
  END IF;
  UPDATE auditlog.import_span s SET status = 'abandoned', abandoned_at = now()
  WHERE s.span_id = import_abandon.span_id AND s.status = 'open';
  closed := FOUND;
  -- This session no longer holds the span (if it did).
  WHILE auditlog_internal.holds_import_span(import_abandon.span_id) LOOP
    PERFORM pg_advisory_unlock(auditlog_internal.import_lock_class(), auditlog_internal.import_lock_key(import_abandon.span_id));
  END LOOP;
  RETURN closed;
END
$$;

CREATE OR REPLACE FUNCTION auditlog_internal.sweep_import_spans()
RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  span auditlog.import_span;
  swept int := 0;
BEGIN
  FOR span IN SELECT * FROM auditlog.import_span s WHERE s.status = 'open' ORDER BY s.span_id FOR UPDATE SKIP LOCKED LOOP
    -- This session's own span is alive (and a try-lock would just count it again).
    CONTINUE WHEN auditlog_internal.holds_import_span(span.span_id);
    CONTINUE WHEN NOT pg_try_advisory_lock(auditlog_internal.import_lock_class(), auditlog_internal.import_lock_key(span.span_id));
    PERFORM pg_advisory_unlock(auditlog_internal.import_lock_class(), auditlog_internal.import_lock_key(span.span_id));
    UPDATE auditlog.import_span s SET status = 'abandoned', abandoned_at = now() WHERE s.span_id = span.span_id;
    RAISE WARNING 'auditlog: import span % (% to %) was abandoned: the session that registered it ended before its rows were written',
      span.span_id, span.range_start, span.range_end;
    swept := swept + 1;
  END LOOP;
  -- Rows staged by a transaction that ended and were not moved (a caller
  -- inserted them directly and committed): nothing will ever move them.
  DELETE FROM auditlog.import_stage s WHERE s.staged_xid < pg_snapshot_xmin(pg_current_snapshot());
  RETURN swept;
END
$$;

COMMENT ON FUNCTION auditlog_internal.sweep_import_spans IS
  'Internal to tick(): marks abandoned the open import spans whose importer''s session ended (no session holds their advisory lock) and deletes staged rows no transaction will move. Returns how many spans it marked.';

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
    -- Nothing was written: close the span (releasing its lock) so the
    -- settled horizon moves on.
    PERFORM auditlog.import_abandon(span);
    COMMIT;
    RAISE;
  END;
  COMMIT;
  -- The span is written: it no longer needs this session (import_begin()
  -- took its lock once; import_rows() found it held and took it no more).
  PERFORM pg_catalog.pg_advisory_unlock(auditlog_internal.import_lock_class(), auditlog_internal.import_lock_key(span));
  RAISE NOTICE 'auditlog: imported % entries from % (span %)', written, source, span;
END
$$;

CREATE OR REPLACE FUNCTION auditlog_internal.check_retain(retain interval)
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

CREATE OR REPLACE FUNCTION auditlog.purge_preview(retain interval DEFAULT '90 days')
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

CREATE OR REPLACE FUNCTION auditlog.purge(retain interval DEFAULT '90 days', force boolean DEFAULT false)
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

CREATE OR REPLACE FUNCTION auditlog.list(
  stream          text,
  "from"          timestamptz,
  "to"            timestamptz,
  after_logged_at timestamptz DEFAULT NULL,
  after_id        uuid DEFAULT NULL,
  max_rows        int DEFAULT 1000,
  tenant_id       text DEFAULT NULL)
RETURNS SETOF auditlog.entry
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
AS $$
DECLARE
  upper_bound timestamptz;
BEGIN
  IF "from" IS NULL OR "to" IS NULL OR "from" >= "to" THEN
    RAISE EXCEPTION 'list() needs a window with "from" before "to"'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM auditlog_internal.check_max_rows(max_rows);
  IF (after_logged_at IS NULL) <> (after_id IS NULL) THEN
    RAISE EXCEPTION 'after_logged_at and after_id go together: pass both (the last entry of the previous page) or neither'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  upper_bound := least("to", auditlog.settled_horizon());
  RETURN QUERY EXECUTE format(
    'SELECT e.* FROM auditlog.entry e WHERE e.logged_at >= %L AND e.logged_at < %L%s%s%s ORDER BY e.logged_at, e.id LIMIT %s',
    greatest("from", after_logged_at), upper_bound,
    CASE WHEN stream IS NOT NULL THEN format(' AND e.stream = %L', stream) END,
    CASE WHEN tenant_id IS NOT NULL THEN format(' AND e.tenant_id = %L', tenant_id) END,
    CASE WHEN after_id IS NOT NULL THEN format(' AND (e.logged_at, e.id) > (%L::timestamptz, %L::uuid)', after_logged_at, after_id) END,
    max_rows);
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
                   auditlog_internal.batch_condition(lo, hi), auditlog_internal.entry_filter(s.stream, s.tenant_id, s.operation_prefix), cap - lag)
    INTO owed;
    lag := lag + owed;
    EXIT WHEN lag >= cap;
  END LOOP;
  RETURN lag;
END
$$;

-- Privileges, as a fresh install grants them (new functions start with none).
GRANT auditlog_writer, auditlog_reader TO auditlog_admin;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA auditlog, auditlog_internal FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA auditlog FROM PUBLIC;
-- (auditlog_internal too: its functions are refused one by one, with a
-- message that names the function, unless granted below.)
GRANT USAGE ON SCHEMA auditlog, auditlog_internal TO auditlog_writer, auditlog_reader, auditlog_admin;

GRANT EXECUTE ON FUNCTION auditlog.record, auditlog.begin, auditlog.complete
  TO auditlog_writer;
GRANT SELECT ON auditlog.entry, auditlog.pending, auditlog.partitions, auditlog.health,
  auditlog.sink, auditlog.sink_status, auditlog.export_status, auditlog.backfill_status,
  auditlog.page, auditlog.sink_state
  TO auditlog_reader;
-- auditlog.health shows open import spans by their lock's keys.
GRANT EXECUTE ON FUNCTION auditlog.valid_stream TO auditlog_writer, auditlog_reader;
GRANT EXECUTE ON FUNCTION auditlog_internal.import_lock_class, auditlog_internal.import_lock_key, auditlog_internal.import_span_locks,
  auditlog_internal.clock_floor_time TO auditlog_reader;
GRANT EXECUTE ON FUNCTION auditlog.utc_day, auditlog_internal.partition_range, auditlog.settled_horizon, auditlog.list,
  auditlog.sink_exported_before, auditlog.sink_lag_rows
  TO auditlog_reader;
GRANT EXECUTE ON FUNCTION auditlog.timeout_pending, auditlog.ensure_partitions, auditlog.purge, auditlog.purge_preview,
  auditlog.tick, auditlog.create_sink, auditlog.enable_sink, auditlog.disable_sink, auditlog.drop_sink,
  auditlog.next_page, auditlog.ack, auditlog.unpin_page,
  auditlog.request_export, auditlog.claim_export, auditlog.heartbeat_export, auditlog.export_next_page,
  auditlog.ack_export_page, auditlog.finish_export, auditlog.fail_export, auditlog.cancel_export,
  auditlog.start_backfill, auditlog.backfill_next_page, auditlog.backfill_ack, auditlog.cancel_backfill,
  auditlog.backfill_gap, auditlog.waive_gaps,
  auditlog.import_begin, auditlog.import_rows, auditlog_internal.claim_import_span, auditlog_internal.import_staged_rows, auditlog.import_abandon
  TO auditlog_admin;
-- import_rows() runs with the caller's rights: it stages the source's rows
-- (every column but the staging transaction's xid, which is its own).
GRANT INSERT (span_id, id, stream, logged_at, started_at, operation, actor_type, actor_id, tenant_id,
              resource_type, resource_id, request_id, request_uri, source_ip, user_agent, auth_method,
              credential_id, result, http_status, error_code, error_message, details)
  ON auditlog.import_stage TO auditlog_admin;
REVOKE ALL ON PROCEDURE auditlog.import FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE auditlog.import TO auditlog_admin;
