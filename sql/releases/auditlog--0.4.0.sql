-- auditlog: an append-only, time-partitioned audit log with exactly-once export.
-- Assembled from sql/*.sql by extension/Makefile; edit those files, not this one.
\echo Use "CREATE EXTENSION auditlog" to load this file. \quit


-- Two schemas. auditlog holds what DBAs and applications use: the log, its
-- views and tables, and the functions the README documents (\df auditlog.*).
-- auditlog_internal holds the helpers those are built from, which nobody
-- calls on their own; each one's comment starts with "Internal".
CREATE SCHEMA auditlog_internal;
COMMENT ON SCHEMA auditlog_internal IS
  'The helpers auditlog''s functions are built from; not to be called on their own. Use the functions in schema auditlog.';
-- Types.

CREATE TYPE auditlog.result AS ENUM ('success', 'error', 'timeout');
COMMENT ON TYPE auditlog.result IS
  'How an audited operation ended: success or error as its caller reported, or timeout when it was begun and never completed.';

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

-- Writing the log. The hot path is in C (extension/src/log.c); every function
-- takes named arguments so callers pass only what they have. They are
-- SECURITY DEFINER without a SET search_path clause: the C code pins the
-- search path itself, at a fraction of the clause's cost per call.

CREATE FUNCTION auditlog.record(
  operation     text,
  stream        text DEFAULT 'audit',
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
LANGUAGE C VOLATILE SECURITY DEFINER
AS 'MODULE_PATHNAME', 'auditlog_record';
COMMENT ON FUNCTION auditlog.record IS
  'Writes one finished entry straight into the log and returns its id (a UUIDv7).';

-- The extension's own records (a forced purge, a forced import) go to the
-- stream 'auditlog', which record() refuses to writers. Not SECURITY
-- DEFINER, granted to nobody: only the extension's own SECURITY DEFINER
-- functions reach it.
CREATE FUNCTION auditlog_internal.record_internal(
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

-- The one definition of a well-formed stream name (log.c): 1 to 63
-- characters of a-z, 0-9, '_', '.' and '-', starting with a letter or digit.
CREATE FUNCTION auditlog.valid_stream(name text)
RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'auditlog_valid_stream';
COMMENT ON FUNCTION auditlog.valid_stream IS
  'Whether name is a well-formed stream name (^[a-z0-9][a-z0-9_.-]{0,62}$), as record() requires; false for null. The stream ''auditlog'' is well-formed but reserved to the extension''s own records.';

CREATE FUNCTION auditlog.begin(
  operation     text,
  stream        text DEFAULT 'audit',
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
  details       jsonb DEFAULT NULL)
RETURNS uuid
LANGUAGE C VOLATILE SECURITY DEFINER
AS 'MODULE_PATHNAME', 'auditlog_begin';
COMMENT ON FUNCTION auditlog.begin IS
  'Begins an entry before the operation runs and returns its id; auditlog.complete() finishes it, or auditlog.timeout_pending() logs it as timed out. Call it in the request''s transaction: if it fails, so does the request.';

CREATE FUNCTION auditlog.complete(
  id            uuid,
  result        auditlog.result,
  http_status   int DEFAULT NULL,
  error_code    text DEFAULT NULL,
  error_message text DEFAULT NULL,
  details       jsonb DEFAULT NULL,
  resource_type text DEFAULT NULL,
  resource_id   text DEFAULT NULL)
RETURNS boolean
LANGUAGE C VOLATILE SECURITY DEFINER
AS 'MODULE_PATHNAME', 'auditlog_complete';
COMMENT ON FUNCTION auditlog.complete IS
  'Moves a begun entry into the log with its result. details are merged over those given to begin(); resource_type and resource_id, when given, replace them. Returns false, changing nothing, when the entry is no longer pending (already completed or timed out).';

CREATE FUNCTION auditlog.timeout_pending(
  older_than interval DEFAULT '4 hours',
  max_rows   int DEFAULT 1000)
RETURNS int
LANGUAGE C VOLATILE SECURITY DEFINER
AS 'MODULE_PATHNAME', 'auditlog_timeout_pending';
COMMENT ON FUNCTION auditlog.timeout_pending IS
  'Logs, with result timeout, up to max_rows entries begun before now() - older_than and never completed, oldest first. Returns how many. Safe to run concurrently with itself and with complete(): each entry is logged once.';

-- Append-only: UPDATE, DELETE and TRUNCATE of the log fail for every role.
-- The row trigger is cloned onto each partition when it is attached; TRUNCATE
-- triggers are not, so ensure_partitions() gives each new partition its own.
-- ENABLE ALWAYS: the triggers fire even under session_replication_role =
-- replica, which would otherwise silence them.

CREATE FUNCTION auditlog_internal.forbid_change()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'auditlog_forbid_change';
COMMENT ON FUNCTION auditlog_internal.forbid_change IS
  'Internal: the trigger that keeps auditlog.entry append-only.';

CREATE TRIGGER entry_append_only
  BEFORE UPDATE OR DELETE ON auditlog.entry
  FOR EACH ROW EXECUTE FUNCTION auditlog_internal.forbid_change();
CREATE TRIGGER entry_no_truncate
  BEFORE TRUNCATE ON auditlog.entry
  FOR EACH STATEMENT EXECUTE FUNCTION auditlog_internal.forbid_change();
CREATE TRIGGER entry_no_truncate
  BEFORE TRUNCATE ON auditlog.entry_default
  FOR EACH STATEMENT EXECUTE FUNCTION auditlog_internal.forbid_change();
ALTER TABLE auditlog.entry ENABLE ALWAYS TRIGGER entry_append_only;
ALTER TABLE auditlog.entry ENABLE ALWAYS TRIGGER entry_no_truncate;
ALTER TABLE auditlog.entry_default ENABLE ALWAYS TRIGGER entry_no_truncate;

CREATE FUNCTION auditlog_internal.move_default_rows(range_start timestamptz, range_end timestamptz, target regclass)
RETURNS bigint
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'auditlog_move_default_rows';
COMMENT ON FUNCTION auditlog_internal.move_default_rows IS
  'Internal to ensure_partitions(): moves the DEFAULT partition''s rows in [range_start, range_end) into target, every column preserved.';

-- Partitions: one per UTC day, made ahead by ensure_partitions(), dropped
-- whole by purge().
--
-- CREATE TABLE ... PARTITION OF and DROP of a partition lock the whole log
-- (ACCESS EXCLUSIVE), queueing behind any long reader and then blocking every
-- writer. So a day is made as a standalone table with a CHECK constraint that
-- proves its range and then ATTACHed (SHARE UPDATE EXCLUSIVE on the log:
-- writers go on), and detach and drop, which cannot avoid locking the log,
-- wait for that lock at most 100 ms: a busy day is skipped with a warning and
-- taken again on the next run, and writers queued behind the request wait no
-- longer than that.

-- The range of a day partition, read from its bound as Postgres prints it,
-- which depends on the session's DateStyle and TimeZone: printed and read
-- back under settings of its own, so the answer never does.
CREATE FUNCTION auditlog_internal.partition_range(partition regclass, OUT range_start timestamptz, OUT range_end timestamptz)
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

CREATE VIEW auditlog.partitions AS
SELECT c.relname::text AS partition_name,
       c.oid::regclass AS partition,
       bound.range_start,
       bound.range_end,
       pg_catalog.pg_total_relation_size(c.oid) AS total_bytes
FROM pg_catalog.pg_inherits i
JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
CROSS JOIN LATERAL auditlog_internal.partition_range(c.oid) AS bound
WHERE i.inhparent = 'auditlog.entry'::regclass
  AND bound.range_start IS NOT NULL;
COMMENT ON VIEW auditlog.partitions IS
  'The day partitions of auditlog.entry (the DEFAULT partition excluded) with their UTC range and size.';

-- Start of the UTC day holding ts.
CREATE FUNCTION auditlog.utc_day(ts timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.timezone('UTC', pg_catalog.date_trunc('day', pg_catalog.timezone('UTC', ts)));
COMMENT ON FUNCTION auditlog.utc_day IS 'Start of the UTC day that holds ts, whatever the session''s TimeZone.';

-- Make the partition for the UTC day starting at day. Returns false when the
-- log was too busy to attach it now.
CREATE FUNCTION auditlog_internal.attach_day(day timestamptz)
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

CREATE FUNCTION auditlog.ensure_partitions(premake int DEFAULT 7)
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
COMMENT ON FUNCTION auditlog.ensure_partitions IS
  'Makes the missing day partitions from today (UTC) to premake days ahead, and for any day whose entries landed in the DEFAULT partition, moving them in. Returns how many partitions it made. Run it daily; auditlogctl run does.';

-- Ticks: the snapshots that cut the log into batches (the PgQ way).
--
-- Batch k holds the entries whose writing transaction is visible in tick k's
-- snapshot and not in tick k-1's. A committed transaction becomes visible in
-- exactly one such interval, so each entry lands in exactly one batch,
-- whatever the shape of the transactions: long, prepared, with savepoints.
--
-- A tick records, in this order: the time t (never below the clock floor,
-- which it raises to t), the mark x (the next xid to be assigned), and, in a
-- later statement, the snapshot s. Every writer with xid w >= x stamps its
-- entries with logged_at >= t (stamp.c), so bound(w), the t of the latest
-- tick with x <= w, is a lower time bound for all of w's entries: batches
-- look only at partitions from there on.

CREATE SEQUENCE auditlog.tick_id_seq;

CREATE TABLE auditlog.tick (
  tick_id  bigint PRIMARY KEY DEFAULT nextval('auditlog.tick_id_seq'),
  taken_at timestamptz NOT NULL,
  mark     xid8 NOT NULL,
  snap     pg_snapshot NOT NULL
);
ALTER SEQUENCE auditlog.tick_id_seq OWNED BY auditlog.tick.tick_id;
CREATE INDEX tick_mark ON auditlog.tick (mark);
COMMENT ON TABLE auditlog.tick IS
  'Snapshots that cut the log into export batches. Meaningful only in the cluster that took them; never dumped.';

CREATE FUNCTION auditlog_internal.tick_time_and_mark(OUT taken_at timestamptz, OUT mark xid8)
RETURNS record
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'auditlog_tick_time_and_mark';
COMMENT ON FUNCTION auditlog_internal.tick_time_and_mark IS
  'Internal to tick(): reads the time, raises the clock floor to it, then reads the next xid to be assigned.';

-- The extension's advisory locks, by name, in one place. (auditlogctl's
-- per-sink and per-backfill locks are hashtext() of a text: int4 keys, which
-- never meet these.)
CREATE FUNCTION auditlog_internal.lock_key(name text)
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

-- Ticks are serialized by this session-level advisory lock (not a
-- transaction-level one, which a tick inside a long or prepared transaction
-- would hold until it ends, stalling every other tick). Whatever ends the
-- tick early, an error or a cancel (statement_timeout), releases it: a
-- session that kept it would stall every other session's ticks, pages and
-- sink changes for as long as it stays connected.
CREATE FUNCTION auditlog.tick()
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
COMMENT ON FUNCTION auditlog.tick() IS
  'Records a tick (time, next xid, snapshot) and returns its id. Whatever needs a fresh tick takes one; a scheduler may also call it.';

-- The installation: which CREATE EXTENSION made this log's export state.
-- Not dumped, so a restore (which runs CREATE EXTENSION again) makes a new
-- one, while pg_upgrade keeps it with the ticks and cursors it goes with.
-- A sink row records the installation that created it: a row carrying
-- another installation's id was restored from a dump, and is anchored on its
-- first use, once the whole log is back, not while the restore inserts it.
CREATE TABLE auditlog.installation (
  singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  id           uuid NOT NULL DEFAULT gen_random_uuid(),
  -- the start of the installing transaction: a sink created in that same
  -- transaction (a migration) is this installation's
  installed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO auditlog.installation DEFAULT VALUES;
COMMENT ON TABLE auditlog.installation IS
  'This installation of the log: an id that a restore from a dump does not carry over, and when it was made.';

CREATE FUNCTION auditlog_internal.installation_id()
RETURNS uuid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT id FROM auditlog.installation);
COMMENT ON FUNCTION auditlog_internal.installation_id IS 'Internal: the id of this installation of the log (see auditlog.installation).';

-- The export epoch: no batch reaches below it. It is when the extension was
-- installed: the restored copy of a log starts afresh (the table is not
-- dumped), and a transaction that writes entries and is still in progress at
-- the first tick wrote them after it. It is never raised over entries of this
-- cluster (a writer in flight would be lost): restored entries, which carry
-- another cluster's xids, are kept below every tick instead, by the first tick
-- raising the clock floor above them.
CREATE TABLE auditlog.export_epoch (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  epoch timestamptz NOT NULL
);
INSERT INTO auditlog.export_epoch (epoch) VALUES (clock_timestamp());
COMMENT ON TABLE auditlog.export_epoch IS
  'The time below which no export batch reaches: when the extension was installed.';

-- Before the first tick of a log (a new install, or a restored copy: ticks
-- are never dumped), raise the clock floor above every entry already there,
-- so that the first tick, and every later one, lies above them: restored
-- entries carry another cluster's xids and, below every tick's time, can
-- never be taken for this cluster's, even if the old host's clock was ahead.
-- Writers in flight are not harmed: the floor only lifts times stamped from
-- now on. (A transaction of this cluster already in progress at the first
-- tick is bounded by the epoch, the install time: a restored entry whose xid
-- equals such a transaction's and whose time is after the restore, which
-- takes an old host's clock ahead by more than the time from dump to
-- restore, could be exported again, never lost.)
CREATE FUNCTION auditlog_internal.raise_floor_above_log()
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

-- bound(w): the time of the latest tick whose mark is at or below w (never
-- below the epoch). Every entry written by transaction w has logged_at at or
-- after it.
CREATE FUNCTION auditlog.time_bound(w xid8)
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT greatest((SELECT taken_at FROM auditlog.tick WHERE mark <= w ORDER BY mark DESC LIMIT 1),
                  (SELECT epoch FROM auditlog.export_epoch))
$$;
COMMENT ON FUNCTION auditlog.time_bound IS
  'The time of the latest tick whose mark is at or below w: a lower bound of logged_at for every entry written by transaction w.';

CREATE FUNCTION auditlog.settled_horizon()
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
COMMENT ON FUNCTION auditlog.settled_horizon IS
  'Every entry logged before this time is committed: a window ending at or before it never changes (retention aside). Lags by up to the interval between ticks; a long or prepared transaction, or an import being written, holds it back.';

-- Ticks still needed: those a sink's cursor, batch, segments, gaps or page in
-- flight names, or a gap being backfilled, and below the oldest of them the latest tick whose mark is at
-- or below the xmin of its snapshot or of the current one, so that bound()
-- keeps answering for every xid a batch or settled_horizon() may ask about.
CREATE FUNCTION auditlog_internal.prune_ticks()
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

-- The condition selecting the entries of batch (lo, hi]: written by a
-- transaction visible in tick hi and not in tick lo, each part with the time
-- bound that prunes partitions. Literal values, so the plan is a custom one
-- and EXPLAIN shows the pruning.
CREATE FUNCTION auditlog_internal.batch_condition(lo bigint, hi bigint)
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

-- Guards: what the functions that export, and those that read a past
-- window, check before they start: the shape of the transaction they run in
-- (in C, extension/src/export.c), the server they run on, the size of a page
-- and the window asked for.

CREATE FUNCTION auditlog_internal.refuse_transaction_block(what text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'auditlog_refuse_transaction_block';
COMMENT ON FUNCTION auditlog_internal.refuse_transaction_block IS
  'Internal: raises an error when called inside a transaction block.';

CREATE FUNCTION auditlog_internal.commit_promptly(what text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'auditlog_commit_promptly';
COMMENT ON FUNCTION auditlog_internal.commit_promptly IS
  'Internal: the current transaction fails at commit unless it commits within 250 ms of this call (and cannot be prepared).';

-- Refuse what the export cannot do correctly here.
CREATE FUNCTION auditlog_internal.check_exportable(what text)
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

-- Every page and listing is at most this many entries (a page's bytes are
-- bounded on their own: max_page_bytes(), 75_pages.sql).
CREATE FUNCTION auditlog_internal.check_max_rows(max_rows int)
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

-- A past window [from, to) to read: it must end no later than the settled
-- horizon (after it, entries may still be committed) and start no earlier
-- than the oldest partition kept (say so, rather than export nothing).
CREATE FUNCTION auditlog_internal.check_past_window("from" timestamptz, "to" timestamptz)
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
-- Sinks: where entries are exported, and how far each has got.
--
-- auditlog.sink holds definitions and is dumped; the export state is not,
-- because it is made of ticks, which mean something only in the cluster that
-- took them. A sink restored without its state is re-anchored (next_page()).
--
-- A sink owes the batches of its segments: each segment runs from the tick
-- that enabled the sink (its anchor) to the tick that disabled it (its closing
-- tick), or is open while the sink is enabled. Enabling never rescans history:
-- it opens a segment at a fresh tick. Disabling closes the open segment at a
-- fresh tick; the sink still exports what it owes up to there, and a page in
-- flight stays pinned. What was written between a closing tick and the next
-- anchor is exported only by an explicit backfill.

CREATE TABLE auditlog.sink (
  name             text PRIMARY KEY,
  url              text NOT NULL,
  stream           text,
  tenant_id        text,
  operation_prefix text,
  format           text NOT NULL DEFAULT 'ndjson.gz',
  enabled          boolean NOT NULL DEFAULT true,
  created_at       timestamptz NOT NULL DEFAULT now(),
  -- the installation that created it (auditlog.installation): a sink restored
  -- from a dump carries another one's
  installation     uuid NOT NULL DEFAULT auditlog_internal.installation_id()
);
COMMENT ON TABLE auditlog.sink IS
  'Export destinations: a URL (file:// or s3://, gs://), filters (stream, tenant, operation prefix) and whether the sink is enabled. Managed by create_sink(), enable_sink(), disable_sink(), drop_sink().';
SELECT pg_catalog.pg_extension_config_dump('auditlog.sink', '');

CREATE TABLE auditlog.sink_state (
  sink            text PRIMARY KEY REFERENCES auditlog.sink ON DELETE CASCADE,
  -- Every entry the sink owes that is visible in cursor_tick is exported.
  cursor_tick     bigint NOT NULL,
  -- The batch being exported, (cursor_tick, batch_tick], and the key
  -- (stream, logged_at, id) of the last entry acknowledged in it.
  batch_tick      bigint,
  after_stream    text,
  after_logged_at timestamptz,
  after_id        uuid,
  last_sha256     text,
  last_ack_at     timestamptz,
  pages_acked     bigint NOT NULL DEFAULT 0,
  rows_acked      bigint NOT NULL DEFAULT 0,
  anchored_at     timestamptz NOT NULL DEFAULT now(),
  anchor_reason   text NOT NULL,
  -- the tick that last disabled the sink, until it is enabled again
  closed_tick     bigint
);
COMMENT ON TABLE auditlog.sink_state IS 'Export position of each sink. Not dumped: it is made of this cluster''s ticks.';

CREATE TABLE auditlog.sink_segment (
  sink      text NOT NULL REFERENCES auditlog.sink ON DELETE CASCADE,
  from_tick bigint NOT NULL,
  to_tick   bigint,
  PRIMARY KEY (sink, from_tick),
  CHECK (to_tick IS NULL OR to_tick > from_tick)
);
CREATE UNIQUE INDEX sink_segment_one_open ON auditlog.sink_segment (sink) WHERE to_tick IS NULL;
COMMENT ON TABLE auditlog.sink_segment IS
  'The tick ranges a sink owes: from each enabling tick to the matching closing tick, open while enabled.';


-- What a sink missed while disabled: the batch between its closing tick and
-- the tick that enabled it again. The gap is defined by snapshots, not by
-- time, so only backfill_gap() fills it exactly; its ticks are kept until it
-- is filled or waived.
CREATE TABLE auditlog.sink_gap (
  sink      text NOT NULL REFERENCES auditlog.sink ON DELETE CASCADE,
  from_tick bigint NOT NULL,
  to_tick   bigint NOT NULL,
  PRIMARY KEY (sink, from_tick)
);
COMMENT ON TABLE auditlog.sink_gap IS
  'The batches a sink missed while disabled, from its closing tick to the tick that enabled it again; filled by backfill_gap() or waived by waive_gaps().';

-- Input checks shared by create_sink() and the rest.
CREATE FUNCTION auditlog_internal.check_sink_name(name text)
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

-- The sink row, locked, or a clear error.
CREATE FUNCTION auditlog_internal.locked_sink(name text)
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

-- Anchor a sink at a fresh tick: open a segment there and, for a sink with no
-- state (new, or restored from a dump), start its cursor there.
CREATE FUNCTION auditlog_internal.anchor_sink(name text, reason text)
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

-- The trigger that re-anchors: a sink created enabled, or going from disabled
-- to enabled, resumes from a fresh tick and never rescans history; a sink
-- being disabled closes its open segment at a fresh tick.
CREATE FUNCTION auditlog_internal.sink_anchor_trigger()
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

CREATE TRIGGER sink_anchor
  AFTER INSERT OR UPDATE OF enabled ON auditlog.sink
  FOR EACH ROW EXECUTE FUNCTION auditlog_internal.sink_anchor_trigger();

CREATE FUNCTION auditlog.create_sink(
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
COMMENT ON FUNCTION auditlog.create_sink IS
  'Creates an export sink. Created enabled, it exports every entry committed from now on; history is exported only by an explicit backfill.';

CREATE FUNCTION auditlog.enable_sink(name text)
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
COMMENT ON FUNCTION auditlog.enable_sink IS
  'Enables a sink; it resumes from a fresh tick after exporting what it still owed. Returns false if it was enabled already.';

CREATE FUNCTION auditlog.disable_sink(name text)
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
COMMENT ON FUNCTION auditlog.disable_sink IS
  'Disables a sink at a closing tick. Entries committed before it are still exported exactly once; a page in flight stays pinned. Returns false if it was disabled already. Runs as its own transaction: refuses inside a transaction block, and fails if its statement goes on long after the closing tick.';

CREATE FUNCTION auditlog.drop_sink(name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM auditlog_internal.locked_sink(name);
  DELETE FROM auditlog.sink s WHERE s.name = drop_sink.name;
END
$$;
COMMENT ON FUNCTION auditlog.drop_sink IS
  'Drops a sink and its export state. Objects already in storage stay there.';

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
COMMENT ON FUNCTION auditlog_internal.render_step IS 'Internal: the transition function of render_entries().';

CREATE FUNCTION auditlog_internal.render_final(state internal)
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

-- On-demand exports: "everything of my organization from March" as one
-- object and a time-limited download link.
--
-- A job is a window of one stream, optionally one tenant, in (logged_at, id)
-- order. Workers claim jobs with FOR UPDATE SKIP LOCKED under a lease with a
-- fencing token: a claim, or a takeover after the lease expired, issues a
-- fresh token, and every later call must carry the current one, so a worker
-- that lost its job can no longer acknowledge, finish or fail it. The job's
-- pages (in auditlog.page) are the parts of its object, each pinned like a
-- sink's page, so a worker taking over is handed the same page again.

CREATE TABLE auditlog.export_job (
  job_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stream           text NOT NULL,
  range_start      timestamptz NOT NULL,
  range_end        timestamptz NOT NULL,
  tenant_id        text,
  requested_by     text NOT NULL,
  format           text NOT NULL CHECK (format IN ('ndjson.gz', 'csv')),
  status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')),
  attempts         int NOT NULL DEFAULT 0,
  max_attempts     int NOT NULL DEFAULT 3,
  lease_token      uuid,
  lease_owner      text,
  lease_expires_at timestamptz,
  heartbeat_at     timestamptz,
  -- the key of the last entry acknowledged
  after_logged_at  timestamptz,
  after_id         uuid,
  rows_exported    bigint NOT NULL DEFAULT 0,
  parts_exported   int NOT NULL DEFAULT 0,
  object_url       text,
  download_url     text,
  link_expires_at  timestamptz,
  bytes            bigint,
  sha256           text,
  error            text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz
);
CREATE INDEX export_job_claimable ON auditlog.export_job (created_at) WHERE status IN ('pending', 'running');
COMMENT ON TABLE auditlog.export_job IS
  'On-demand exports of a window of one stream (optionally one tenant): requested, claimed by a worker under a fenced lease, paged, finished with one object and a download link.';

ALTER TABLE auditlog.page ADD CONSTRAINT page_job_id_fkey
  FOREIGN KEY (job_id) REFERENCES auditlog.export_job ON DELETE CASCADE;

CREATE FUNCTION auditlog.request_export(
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
COMMENT ON FUNCTION auditlog.request_export IS
  'Requests an on-demand export of one stream (optionally one tenant) for ["from", "to"), at most 92 days, ending no later than the settled horizon, as ndjson.gz or spreadsheet-safe csv. Returns the job id.';

CREATE TYPE auditlog.export_claim AS (
  job_id           bigint,
  lease_token      uuid,
  lease_expires_at timestamptz,
  stream           text,
  range_start      timestamptz,
  range_end        timestamptz,
  tenant_id        text,
  format           text,
  attempt          int
);
COMMENT ON TYPE auditlog.export_claim IS 'A claimed export job, with the fencing token its worker must pass to every later call.';

-- A worker's lease on a job: positive, at most a day.
CREATE FUNCTION auditlog_internal.check_lease(lease interval)
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

CREATE FUNCTION auditlog.claim_export(worker text, lease interval DEFAULT '5 minutes')
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
COMMENT ON FUNCTION auditlog.claim_export IS
  'Claims the oldest pending export job, or one whose worker''s lease expired, for worker; returns it with a fresh fencing token, or no row. Concurrent claims never get the same job (FOR UPDATE SKIP LOCKED).';

CREATE FUNCTION auditlog_internal.locked_job(job_id bigint)
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

-- The job, locked, if token is its current fencing token; an error otherwise.
CREATE FUNCTION auditlog_internal.fenced_job(job_id bigint, token uuid)
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

CREATE FUNCTION auditlog.heartbeat_export(job_id bigint, token uuid, lease interval DEFAULT '5 minutes')
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

CREATE TYPE auditlog.export_page AS (
  page_id     uuid,
  part_number int,
  rows        int,
  final       boolean,
  sha256      text,
  body        text,
  object_key  text
);
COMMENT ON TYPE auditlog.export_page IS 'A part of an export job''s object: its body (NDJSON or CSV text, to compress as the format says), whether it is the last, and the key to stage it under.';

CREATE FUNCTION auditlog.export_next_page(job_id bigint, token uuid, max_rows int DEFAULT 10000)
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
COMMENT ON FUNCTION auditlog.export_next_page IS
  'The next part of a claimed export job (at most max_rows entries and 16 MiB, in (logged_at, id) order), pinned until acknowledged; final says it is the last. Needs the job''s current fencing token. Runs as its own transaction.';

CREATE FUNCTION auditlog.ack_export_page(job_id bigint, token uuid, page_id uuid)
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

CREATE FUNCTION auditlog.finish_export(job_id bigint, token uuid, object_url text, bytes bigint, sha256 text,
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
COMMENT ON FUNCTION auditlog.finish_export IS
  'Marks a claimed export job done once its last page is acknowledged and the object completed: its URL, size, SHA-256 and download link. Needs the job''s current fencing token.';

CREATE FUNCTION auditlog.fail_export(job_id bigint, token uuid, error text)
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
COMMENT ON FUNCTION auditlog.fail_export IS
  'Reports that a claimed export job failed: it is retried (status pending, resuming after its last acknowledged page) until it has used max_attempts, then failed. Returns the new status. Needs the job''s current fencing token.';

CREATE FUNCTION auditlog.cancel_export(job_id bigint)
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
COMMENT ON FUNCTION auditlog.cancel_export IS
  'Cancels a pending or running export job (its worker is fenced off). Returns false if it had ended already.';

CREATE VIEW auditlog.export_status AS
SELECT job_id, status, stream, range_start, range_end, tenant_id, requested_by, format,
       attempts, max_attempts, lease_owner, lease_expires_at, heartbeat_at,
       rows_exported, parts_exported,
       EXISTS (SELECT FROM auditlog.page p WHERE p.job_id = j.job_id AND p.acked_at IS NULL) AS page_in_flight,
       object_url, download_url, link_expires_at, bytes, sha256, error,
       created_at, started_at, finished_at
FROM auditlog.export_job j;
COMMENT ON VIEW auditlog.export_status IS 'On-demand export jobs: status, progress, lease, result and download link.';

-- Importing history: entries from an existing audit table, with their
-- original ids and times, for teams adopting auditlog (and for benchmarks at
-- scale), without breaking any invariant.
--
-- An import writes old logged_at values, which no tick's time bound covers.
-- So it is done in two steps:
--   1. import_begin(range_start, range_end) registers the span of times it
--      will write and commits on its own. While a span is open,
--      settled_horizon() stops at its start, so no window the import may
--      change is declared stable. A span starting before a horizon that may
--      have been handed out (the clock floor bounds them all) is refused
--      unless forced, and a forced import is recorded in the log; a span
--      overlapping a running backfill or an unfinished export job is refused
--      even forced (their pinned pages would change).
--   2. import_rows(span, source) writes the rows, in the caller's
--      transaction, and records that transaction's xid on the span. Batches
--      add the spans whose xid they hold, so sinks enabled before the import
--      committed export its rows exactly once; purge() keeps the span's days
--      until every sink has. If the transaction rolls back, import_abandon()
--      closes the span.
--
-- The source is the caller's: a view over functions, a table with rules.
-- It is read with the caller's rights only (import_rows() is SECURITY
-- INVOKER), into the extension's staging table; then import_staged_rows(), a
-- SECURITY DEFINER function that reads nothing the caller controls, checks
-- the staged rows as record() checks its arguments and moves them into the
-- log.
--
-- A span belongs to its importer's session: import_begin() takes a
-- session-level advisory lock keyed by the span, import_rows() takes it too
-- (so another session may write the rows of a span whose importer is gone).
-- tick() sweeps the open spans whose lock no session holds: their importer
-- died, so they are marked abandoned and the horizon moves on.

CREATE TABLE auditlog.import_span (
  span_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  range_start timestamptz NOT NULL,
  range_end   timestamptz NOT NULL,
  status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'written', 'abandoned')),
  writer_xid  xid8,
  rows        bigint,
  forced      boolean NOT NULL DEFAULT false,
  created_by  text NOT NULL DEFAULT session_user,
  created_at  timestamptz NOT NULL DEFAULT now(),
  written_at  timestamptz,
  abandoned_at timestamptz,
  CHECK (range_start <= range_end)
);
COMMENT ON TABLE auditlog.import_span IS
  'Imports of history: the span of logged_at each one writes, and the xid of the transaction that wrote it.';


-- Rows on their way from a caller's source into the log: written with the
-- caller's rights by import_rows(), moved out by import_staged_rows() in the
-- same transaction. Unlogged: a row here never outlives its transaction but
-- for rows a caller inserted directly and committed, which nothing moves and
-- tick() deletes.
CREATE UNLOGGED TABLE auditlog.import_stage (
  span_id       bigint NOT NULL,
  staged_xid    xid8 NOT NULL DEFAULT pg_current_xact_id(),
  ord           bigint GENERATED ALWAYS AS IDENTITY,
  id            uuid,
  stream        text,
  logged_at     timestamptz,
  started_at    timestamptz,
  operation     text,
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
  result        auditlog.result,
  http_status   int,
  error_code    text,
  error_message text,
  details       jsonb
);
COMMENT ON TABLE auditlog.import_stage IS
  'Internal to import_rows(): rows read from a source with the caller''s rights, tagged with the staging transaction, until they are checked and moved into the log.';

-- The first key of the two-int advisory lock that ties an open span to its
-- importer's session; the second is the span id.
CREATE FUNCTION auditlog_internal.import_lock_class()
RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 73106010 $$;  -- 'auditlog import span'
COMMENT ON FUNCTION auditlog_internal.import_lock_class IS
  'Internal: the first key of the session-level advisory lock (two-int form; the second is the span id) that ties an open import span to its importer''s session.';

CREATE FUNCTION auditlog_internal.import_lock_key(span_id bigint)
RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT (span_id % 2147483648)::int $$;
COMMENT ON FUNCTION auditlog_internal.import_lock_key IS
  'Internal: the second key of an import span''s advisory lock (the span id, which wraps past 2^31: two spans sharing a key only keep each other from being swept).';

-- The import spans' advisory locks granted in this database, by key (the
-- span id, see import_lock_key()) and by the session holding them: whether a
-- span's importer is still there is asked of this, never of pg_stat_activity.
CREATE FUNCTION auditlog_internal.import_span_locks()
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

-- Whether this session holds the span's lock. (pg_try_advisory_lock() would
-- succeed on a lock the session already holds, and count it once more.)
CREATE FUNCTION auditlog_internal.holds_import_span(span_id bigint)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT EXISTS (SELECT FROM auditlog_internal.import_span_locks() l
                 WHERE l.key = auditlog_internal.import_lock_key(span_id) AND l.pid = pg_backend_pid())
$$;
COMMENT ON FUNCTION auditlog_internal.holds_import_span IS
  'Internal: whether this session holds the advisory lock of import span span_id.';

-- Gives up this session's locks on spans that are no longer open (written or
-- abandoned, and committed): they tie nothing to the session any more.
CREATE FUNCTION auditlog_internal.release_import_locks()
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

-- import_begin() and the start of anything that pins pages of a past window
-- (start_backfill(), request_export()) are serialised: the latter call this
-- before they check their window, so either the span is committed and holds
-- the settled horizon back, or their backfill or job is committed and
-- import_begin() sees it.
CREATE FUNCTION auditlog_internal.import_window_lock()
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_advisory_xact_lock_shared(auditlog_internal.lock_key('import windows')) $$;
COMMENT ON FUNCTION auditlog_internal.import_window_lock IS
  'Internal: the shared side of the lock import_begin() takes exclusively; start_backfill() and request_export() take it before checking their window.';

CREATE FUNCTION auditlog.import_begin(range_start timestamptz, range_end timestamptz,
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
COMMENT ON FUNCTION auditlog.import_begin IS
  'Registers the span of logged_at an import will write, committing on its own; until the import is written, settled_horizon() stops at its start. The span is tied to this session (an advisory lock): if the session ends before the rows are written, the next tick() marks it abandoned. Refuses a span in the future, older than retain, overlapping a running backfill or unfinished export job, or (unless force, which is recorded in the log) starting before a settled horizon that may have been handed out. Returns the span id for import_rows().';

-- The checks of one imported row (log.c): those of record(), then the id,
-- the times within the span, and the key.
CREATE FUNCTION auditlog_internal.check_import_entry(
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

-- The span an import writes: it must be open, and this session holds it
-- from now on (unless another live session does). Its row stays locked until
-- the transaction ends, which keeps tick()'s sweep off it.
CREATE FUNCTION auditlog_internal.claim_import_span(span_id bigint)
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

-- The step with the extension's rights: it reads only the staging table (of
-- built-in types and auditlog.result), never the caller's source.
CREATE FUNCTION auditlog_internal.import_staged_rows(span_id bigint)
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

-- The step with the caller's rights: whatever the source runs (functions of
-- a view, rules) runs as the caller.
CREATE FUNCTION auditlog.import_rows(span_id bigint, source regclass)
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
COMMENT ON FUNCTION auditlog.import_rows IS
  'Writes the rows of source (a table or view with the columns of auditlog.entry but writer_xid) into the log with their own ids and times, all within the span registered by import_begin(), in the caller''s transaction. Reads source with the caller''s rights (SECURITY INVOKER); refuses the whole import at the first row record() would refuse, or with a time outside the span or a key already logged. Makes the partitions needed. Returns how many rows it wrote.';

CREATE FUNCTION auditlog.import_abandon(span_id bigint)
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
COMMENT ON FUNCTION auditlog.import_abandon IS
  'Closes an import span whose rows were never written (its transaction rolled back), so settled_horizon() moves on, and releases this session''s lock on it. Returns false if it was not open.';

-- Called by tick(): open spans whose importer's session is gone (no session
-- holds their lock) are marked abandoned, so the settled horizon moves on.
-- SKIP LOCKED: a span whose rows are being written (import_staged_rows()
-- holds its row until its transaction ends) is never swept. Whether a lock is
-- held is asked of the lock manager itself, never of pg_stat_activity.
CREATE FUNCTION auditlog_internal.sweep_import_spans()
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

-- Both steps in one call, for a DBA at psql: CALL auditlog.import('legacy').
-- A procedure, so it can commit the span before it writes the rows; call it
-- on its own, outside a transaction block. (A procedure that commits can have
-- no SET clause: every name in it is qualified instead.)
CREATE PROCEDURE auditlog.import(source regclass, retain interval DEFAULT '90 days', force boolean DEFAULT false)
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
COMMENT ON PROCEDURE auditlog.import IS
  'Imports the rows of source (a table or view with the columns of auditlog.entry but writer_xid) with their own ids and times: registers their span, commits, writes them, commits, and releases the span''s lock. CALL it outside a transaction block.';
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

-- Reading the log.

-- A stable listing: entries of a window in (logged_at, id) order, keyset
-- paged, never past the settled horizon, so a page that ends before it never
-- changes (retention aside).
CREATE FUNCTION auditlog.list(
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
COMMENT ON FUNCTION auditlog.list IS
  'Entries of stream (all streams when null) logged in ["from", "to"), optionally of one tenant, in (logged_at, id) order, at most max_rows, after the key (after_logged_at, after_id) of the previous page. Never past settled_horizon(): a page that ends before it never changes.';

-- Status.

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
-- Roles. Roles belong to the cluster, not to a database, so they may already
-- exist (the extension installed in another database).

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'auditlog_writer') THEN
    CREATE ROLE auditlog_writer NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'auditlog_reader') THEN
    CREATE ROLE auditlog_reader NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'auditlog_admin') THEN
    CREATE ROLE auditlog_admin NOLOGIN;
  END IF;
END
$$;
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
