-- Tables: the log, its DEFAULT partition, begun entries and the clock floor.
--
-- Day partitions are made at run time by ensure_partitions(), never here:
-- objects made by this script belong to the extension, and pg_dump would skip
-- them and their rows.

-- The monotonic clock floor, in microseconds since 2000-01-01 (a timestamptz's
-- internal value). tick() raises it; writers stamp logged_at no lower. A
-- sequence because setval is non-transactional and WAL-logged.
CREATE SEQUENCE auditlog.clock_floor AS bigint MINVALUE 0 START 0 NO CYCLE;
SELECT setval('auditlog.clock_floor', 0);
COMMENT ON SEQUENCE auditlog.clock_floor IS
  'Monotonic floor for logged_at (microseconds since 2000-01-01 UTC), raised by tick().';

-- The floor's encoding, each way, in one place (extension/src/stamp.c reads
-- the value as the timestamptz it is).
CREATE FUNCTION auditlog_internal.clock_floor_value(at timestamptz)
RETURNS bigint
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN (extract(epoch FROM at - timestamptz '2000-01-01 00:00:00+00') * 1000000)::bigint;
COMMENT ON FUNCTION auditlog_internal.clock_floor_value IS
  'Internal: a time as auditlog.clock_floor holds it, microseconds since 2000-01-01 UTC.';

-- The clock floor as a time: tick() raises it to each tick's time and it is
-- never lowered, and every settled horizon is at most the time of the latest
-- tick, so no horizon ever handed out (from the first tick on) lies after it.
CREATE FUNCTION auditlog_internal.clock_floor_time()
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

CREATE TABLE auditlog.entry (
  id            uuid NOT NULL,
  stream        text NOT NULL DEFAULT 'audit',
  logged_at     timestamptz NOT NULL,
  started_at    timestamptz NOT NULL,
  operation     text NOT NULL,
  actor_type    text,
  actor_id      text,
  tenant_id     text,
  resource_type text,
  resource_id   text,
  request_id    text,
  request_uri   text,
  source_ip     inet,
  user_agent    text,
  auth_method   text,
  credential_id text,
  result        auditlog.result NOT NULL,
  http_status   int,
  error_code    text,
  error_message text,
  details       jsonb CONSTRAINT entry_details_is_object
                  CHECK (details IS NULL OR jsonb_typeof(details) = 'object'),
  writer_xid    xid8 NOT NULL
) PARTITION BY RANGE (logged_at);
COMMENT ON TABLE auditlog.entry IS
  'The audit log: append-only, one partition per UTC day. Written only through auditlog.record(), auditlog.complete() and auditlog.timeout_pending().';
COMMENT ON COLUMN auditlog.entry.logged_at IS
  'When the entry entered the log: read after the writer''s xid was assigned, never below the clock floor.';
COMMENT ON COLUMN auditlog.entry.writer_xid IS
  'Top-level xid of the transaction that inserted the entry; meaningful only in this cluster.';

-- Keys and indexes live on each partition, not on the log itself: the log
-- belongs to the extension, so pg_restore makes it (with any index it had)
-- before it attaches the dumped day partitions, and ATTACH would then build
-- the partitions' copies of those indexes, which the dump creates again a
-- step later ("multiple primary keys" and a failed restore). A primary key
-- (logged_at, id) on every partition is the log's primary key all the same:
-- logged_at is the partition key, so equal keys always meet in one partition.
CREATE FUNCTION auditlog_internal.index_partition(partition regclass)
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

-- Strays land here when their day has no partition yet; ensure_partitions()
-- moves them out. Registered for pg_dump so a dump keeps them.
CREATE TABLE auditlog.entry_default PARTITION OF auditlog.entry DEFAULT;
SELECT auditlog_internal.index_partition('auditlog.entry_default');
COMMENT ON TABLE auditlog.entry_default IS
  'Entries whose day had no partition yet; kept empty by auditlog.ensure_partitions().';
SELECT pg_catalog.pg_extension_config_dump('auditlog.entry_default', '');

CREATE TABLE auditlog.pending (
  id            uuid PRIMARY KEY,
  stream        text NOT NULL,
  started_at    timestamptz NOT NULL,
  operation     text NOT NULL,
  actor_type    text,
  actor_id      text,
  tenant_id     text,
  resource_type text,
  resource_id   text,
  request_id    text,
  request_uri   text,
  source_ip     inet,
  user_agent    text,
  auth_method   text,
  credential_id text,
  details       jsonb CONSTRAINT pending_details_is_object
                  CHECK (details IS NULL OR jsonb_typeof(details) = 'object')
);
COMMENT ON TABLE auditlog.pending IS
  'Entries begun by auditlog.begin() and not yet completed or timed out.';
CREATE INDEX pending_started_at ON auditlog.pending (started_at, id);
SELECT pg_catalog.pg_extension_config_dump('auditlog.pending', '');

