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

