-- auditlog 0.2.0 to 0.3.0: trust at the edges.
--
-- The first tick lifts the clock floor above the log instead of raising the
-- export epoch over entries in flight; sinks record the installation that
-- made them (a restore is told apart by it, not by timestamps); the export
-- functions refuse subtransactions and pipelines and commit as soon as their
-- statement ends; one bounded renderer for every page kind; imports read
-- their source with the caller's rights, check every row and are tied to
-- their importer's session; functions that write values into SQL text pin
-- the settings that print them. Pages in flight are handed out again,
-- identical (extension/test/upgrade.sh).
\echo Use "ALTER EXTENSION auditlog UPDATE TO '0.3.0'" to load this file. \quit

-- New tables, columns and types.

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

CREATE FUNCTION auditlog.installation_id()
RETURNS uuid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT id FROM auditlog.installation);

-- Functions whose SQL bodies use the row types of tables that gain columns
-- (Postgres refuses the ALTER while they do); they are made again below.
DROP FUNCTION auditlog.page_query(auditlog.sink, bigint, bigint, text, timestamptz, text, timestamptz, uuid, timestamptz, uuid, int);
DROP FUNCTION auditlog.backfill_query(auditlog.backfill, auditlog.sink, text, text, int);
DROP FUNCTION auditlog.sink_filter(auditlog.sink);

-- Sinks record the installation that made them (those already here: this one).
ALTER TABLE auditlog.sink ADD COLUMN installation uuid NOT NULL DEFAULT auditlog.installation_id();
ALTER TABLE auditlog.import_span ADD COLUMN abandoned_at timestamptz;
ALTER TABLE auditlog.backfill ADD COLUMN chunk_after_logged_at timestamptz, ADD COLUMN chunk_after_id uuid;

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

CREATE TYPE auditlog.rendered_page AS (
  rows            int,
  first_logged_at timestamptz,
  last_logged_at  timestamptz,
  last_id         uuid,
  body            text
);
COMMENT ON TYPE auditlog.rendered_page IS
  'Entries rendered as a page body: how many, the keys of the first and the last, and the body (null when there were none).';

COMMENT ON TABLE auditlog.export_epoch IS
  'The time below which no export batch reaches: when the extension was installed.';

-- Gone, or replaced with another result type.
DROP FUNCTION auditlog.raise_epoch_above_log();
DROP FUNCTION auditlog.ndjson_body(text);
DROP FUNCTION auditlog.export_body(auditlog.export_job, timestamptz, uuid, int);
DROP FUNCTION auditlog.backfill_body(auditlog.backfill, auditlog.sink);

-- Functions new and changed, as a fresh install makes them.

CREATE OR REPLACE FUNCTION auditlog.record_internal(
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

COMMENT ON FUNCTION auditlog.record_internal IS
  'Internal: record() for the extension''s own records, which may use the reserved stream ''auditlog''. Granted to nobody.';

CREATE OR REPLACE FUNCTION auditlog.valid_stream(name text)
RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'auditlog_valid_stream';

COMMENT ON FUNCTION auditlog.valid_stream IS
  'Whether name is a well-formed stream name (^[a-z0-9][a-z0-9_.-]{0,62}$), as record() requires; false for null. The stream ''auditlog'' is well-formed but reserved to the extension''s own records.';

CREATE OR REPLACE FUNCTION auditlog.partition_range(partition regclass, OUT range_start timestamptz, OUT range_end timestamptz)
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

COMMENT ON FUNCTION auditlog.partition_range IS
  'Internal: the [range_start, range_end) of a day partition of auditlog.entry, whatever the session''s DateStyle and TimeZone.';

CREATE OR REPLACE FUNCTION auditlog.attach_day(day timestamptz)
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
  PERFORM auditlog.index_partition(format('auditlog.%I', name)::regclass);
  EXECUTE format('CREATE TRIGGER entry_no_truncate BEFORE TRUNCATE ON auditlog.%I'
                 ' FOR EACH STATEMENT EXECUTE FUNCTION auditlog.forbid_change()', name);
  EXECUTE format('ALTER TABLE auditlog.%I ENABLE ALWAYS TRIGGER entry_no_truncate', name);
  moved := auditlog.move_default_rows(day, range_end, format('auditlog.%I', name)::regclass);
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
  PERFORM pg_advisory_xact_lock(auditlog.lock_key('partitions'));

  FOR day IN
    SELECT today + n * interval '1 day' FROM generate_series(0, premake) AS n
    UNION
    SELECT DISTINCT auditlog.utc_day(logged_at) FROM ONLY auditlog.entry_default
    ORDER BY 1
  LOOP
    CONTINUE WHEN EXISTS (SELECT FROM auditlog.partitions p
                          WHERE p.range_start < day + interval '1 day' AND p.range_end > day);
    IF auditlog.attach_day(day) THEN
      made := made + 1;
    END IF;
  END LOOP;
  RETURN made;
END
$$;

CREATE OR REPLACE FUNCTION auditlog.commit_promptly(what text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'auditlog_commit_promptly';

COMMENT ON FUNCTION auditlog.commit_promptly IS
  'Internal: the current transaction fails at commit unless it commits within 250 ms of this call (and cannot be prepared).';

CREATE OR REPLACE FUNCTION auditlog.lock_key(name text)
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

COMMENT ON FUNCTION auditlog.lock_key IS
  'Internal: the key of one of the extension''s advisory locks, by name: tick, partitions, import windows.';

CREATE OR REPLACE FUNCTION auditlog.tick()
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  lock_key constant bigint := auditlog.lock_key('tick');
  locked boolean := false;
  stamp record;
  snap pg_snapshot;
  own xid8;
  previous auditlog.tick;
  id bigint;
BEGIN
  PERFORM auditlog.check_exportable('auditlog.tick()');
  PERFORM set_config('synchronous_commit', 'on', true);
  BEGIN
    PERFORM pg_advisory_lock(lock_key);
    locked := true;
    IF NOT EXISTS (SELECT FROM auditlog.tick) THEN
      PERFORM auditlog.raise_floor_above_log();
    END IF;
    SELECT * INTO stamp FROM auditlog.tick_time_and_mark();
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
    PERFORM auditlog.prune_ticks();
    PERFORM auditlog.sweep_import_spans();
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

CREATE OR REPLACE FUNCTION auditlog.installation_id()
RETURNS uuid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT id FROM auditlog.installation);

COMMENT ON FUNCTION auditlog.installation_id IS 'Internal: the id of this installation of the log (see auditlog.installation).';

CREATE OR REPLACE FUNCTION auditlog.raise_floor_above_log()
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
  above := (extract(epoch FROM newest + interval '1 microsecond' - '2000-01-01 00:00:00+00') * 1000000)::bigint;
  IF (SELECT last_value FROM auditlog.clock_floor) < above THEN
    PERFORM setval('auditlog.clock_floor', above);
  END IF;
END
$$;

COMMENT ON FUNCTION auditlog.raise_floor_above_log IS
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
               auditlog.clock_floor_time())
$$;

CREATE OR REPLACE FUNCTION auditlog.batch_condition(lo bigint, hi bigint)
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

CREATE OR REPLACE FUNCTION auditlog.sink_anchor_trigger()
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
    IF NEW.installation = auditlog.installation_id()
       AND NEW.created_at >= (SELECT installed_at FROM auditlog.installation) THEN
      PERFORM auditlog.anchor_sink(NEW.name, 'created');
    END IF;
  ELSIF TG_OP = 'UPDATE' AND NEW.enabled AND NOT OLD.enabled THEN
    PERFORM auditlog.anchor_sink(NEW.name, 'enabled');
  ELSIF TG_OP = 'UPDATE' AND OLD.enabled AND NOT NEW.enabled THEN
    -- While the disabling transaction stays open, writers still see the sink
    -- enabled; an entry committed then would fall behind the closing tick.
    -- So it must commit on its own, and promptly after the closing tick.
    PERFORM auditlog.refuse_transaction_block('disabling a sink');
    closing := auditlog.tick();
    UPDATE auditlog.sink_segment SET to_tick = closing WHERE sink = NEW.name AND to_tick IS NULL;
    UPDATE auditlog.sink_state SET closed_tick = closing WHERE sink = NEW.name;
    PERFORM auditlog.commit_promptly(format('disabling sink "%s"', NEW.name));
  END IF;
  RETURN NULL;
END
$$;

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
  PERFORM auditlog.check_sink_name(name);
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

COMMENT ON FUNCTION auditlog.disable_sink IS
  'Disables a sink at a closing tick. Entries committed before it are still exported exactly once; a page in flight stays pinned. Returns false if it was disabled already. Runs as its own transaction: refuses inside a transaction block, and fails if its statement goes on long after the closing tick.';

CREATE OR REPLACE FUNCTION auditlog.render_step(state internal, e auditlog.entry, format text, max_bytes int, head text)
RETURNS internal
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'auditlog_render_step';

COMMENT ON FUNCTION auditlog.render_step IS 'Internal: the transition function of render_entries().';

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

CREATE OR REPLACE FUNCTION auditlog.render_query(query text, format text, max_bytes int, head text)
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

CREATE OR REPLACE FUNCTION auditlog.render_again(query text, format text, head text, sha256 text, page_id uuid, owner text)
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

CREATE OR REPLACE FUNCTION auditlog.sink_filter(s auditlog.sink)
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

CREATE OR REPLACE FUNCTION auditlog.page_query(s auditlog.sink, lo bigint, hi bigint, stream text, day timestamptz,
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

CREATE OR REPLACE FUNCTION auditlog.render_page(p auditlog.page)
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

COMMENT ON FUNCTION auditlog.max_page_bytes IS 'Internal: the most bytes in a page body, of every kind (16 MiB); a page holds at least one entry.';

CREATE OR REPLACE FUNCTION auditlog.batch_page(s auditlog.sink, lo bigint, hi bigint,
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

CREATE OR REPLACE FUNCTION auditlog.start_backfill(sink text, "from" timestamptz, "to" timestamptz)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s auditlog.sink := auditlog.locked_sink(sink);
  id bigint;
BEGIN
  PERFORM auditlog.import_window_lock();  -- serialised with import_begin(): see 79_import.sql
  PERFORM auditlog.check_past_window("from", "to");
  INSERT INTO auditlog.backfill (sink, range_start, range_end) VALUES (s.name, "from", "to")
  RETURNING backfill_id INTO id;
  RETURN id;
END
$$;

CREATE OR REPLACE FUNCTION auditlog.backfill_query(b auditlog.backfill, s auditlog.sink, columns text, stream text, max_rows int)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
RETURN format('SELECT %s FROM auditlog.entry e WHERE e.logged_at >= %L AND e.logged_at < %L%s%s%s ORDER BY e.logged_at, e.id%s',
  columns,
  greatest(b.range_start, b.after_logged_at, CASE WHEN stream IS NOT NULL THEN b.chunk_after_logged_at END),
  least(b.range_end, auditlog.utc_day(greatest(b.range_start, b.after_logged_at, b.chunk_last_logged_at)) + interval '1 day'),
  CASE WHEN b.after_id IS NOT NULL THEN format(' AND (e.logged_at, e.id) > (%L::timestamptz, %L::uuid)', b.after_logged_at, b.after_id) END,
  CASE WHEN b.chunk_last_id IS NOT NULL THEN format(' AND (e.logged_at, e.id) <= (%L::timestamptz, %L::uuid)', b.chunk_last_logged_at, b.chunk_last_id) END,
  CASE WHEN stream IS NOT NULL THEN concat(format(' AND e.stream = %L', stream), auditlog.sink_filter(s),
    CASE WHEN b.chunk_after_id IS NOT NULL THEN format(' AND (e.logged_at, e.id) > (%L::timestamptz, %L::uuid)', b.chunk_after_logged_at, b.chunk_after_id) END,
    CASE WHEN b.page_id IS NOT NULL AND b.page_last_id IS NOT NULL THEN format(' AND (e.logged_at, e.id) <= (%L::timestamptz, %L::uuid)', b.page_last_logged_at, b.page_last_id) END) END,
  CASE WHEN max_rows IS NOT NULL THEN format(' LIMIT %s', max_rows) END);

COMMENT ON FUNCTION auditlog.backfill_query IS 'Internal: the query for a backfill''s chunk, or for one stream of it.';

CREATE OR REPLACE FUNCTION auditlog.backfill_body(b auditlog.backfill, s auditlog.sink)
RETURNS auditlog.rendered_page
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
RETURN auditlog.render_again(CASE b.kind
    WHEN 'gap' THEN auditlog.page_query(s, b.lo_tick, b.hi_tick, b.page_stream, auditlog.utc_day(b.page_first_logged_at),
                                        b.after_stream, b.after_logged_at, b.after_id, b.page_last_logged_at, b.page_last_id, NULL)
    ELSE auditlog.backfill_query(b, s, 'e.*', b.page_stream, NULL) END,
  'ndjson', NULL, b.page_sha256, b.page_id, format('backfill %s', b.backfill_id));

COMMENT ON FUNCTION auditlog.backfill_body IS 'Internal: the backfill''s page in flight, rendered again and checked against its SHA-256.';

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
  chunk record;
  slice record;
  page auditlog.rendered_page;
  rendered boolean := false;  -- page holds the page in flight, just rendered
  day timestamptz;
BEGIN
  PERFORM auditlog.refuse_transaction_block('auditlog.backfill_next_page()');
  PERFORM auditlog.check_max_rows(max_rows);
  PERFORM set_config('synchronous_commit', 'on', true);
  SELECT * INTO b FROM auditlog.backfill bf WHERE bf.backfill_id = backfill_next_page.backfill_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'backfill % does not exist', backfill_id USING ERRCODE = 'undefined_object';
  END IF;
  s := (SELECT sk FROM auditlog.sink sk WHERE sk.name = b.sink);

  -- Each turn pins a page, or finishes a chunk, or reads the next one; a
  -- chunk with nothing for this sink is passed over in the same call.
  FOR turn IN 1..100 LOOP
    IF b.status <> 'running' THEN
      RETURN;
    END IF;
    IF b.page_id IS NOT NULL THEN
      IF NOT rendered THEN
        page := auditlog.backfill_body(b, s);
      END IF;
      day := auditlog.utc_day(b.page_first_logged_at);
      RETURN NEXT (b.page_id,
                   format('%s/dt=%s/%s-backfill-%s-%s.ndjson.gz', b.page_stream, to_char(day, 'YYYY-MM-DD'), b.sink, b.backfill_id, b.page_id),
                   b.page_stream, day::date, b.page_rows, b.page_first_logged_at,
                   coalesce(b.page_last_logged_at, page.last_logged_at), b.page_sha256, page.body)::auditlog.page_out;
      RETURN;
    END IF;

    IF b.kind = 'gap' THEN
      -- A gap is a batch, paged as a sink pages its own.
      slice := auditlog.batch_page(s, b.lo_tick, b.hi_tick, b.after_stream, b.after_logged_at, b.after_id, max_rows);
      IF slice.stream IS NULL THEN
        UPDATE auditlog.backfill bf SET status = 'done', finished_at = now() WHERE bf.backfill_id = b.backfill_id;
        RETURN;
      END IF;
      UPDATE auditlog.backfill bf
      SET page_id = auditlog.new_page_id(), page_stream = slice.stream, page_rows = slice.rows,
          page_first_logged_at = slice.first_logged_at, page_last_logged_at = slice.last_logged_at,
          page_last_id = slice.last_id, page_sha256 = auditlog.body_sha256(slice.body)
      WHERE bf.backfill_id = b.backfill_id RETURNING * INTO b;
      page.body := slice.body;
      rendered := true;
      CONTINUE;  -- hands it out above
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
      -- left of it.
      EXECUTE auditlog.render_query(auditlog.backfill_query(b, s, 'e.*', b.chunk_streams[1], NULL),
                                    'ndjson', auditlog.max_page_bytes(), NULL)
      INTO page;
      IF page.rows = 0 THEN
        UPDATE auditlog.backfill bf
        SET chunk_streams = bf.chunk_streams[2:], chunk_after_logged_at = NULL, chunk_after_id = NULL
        WHERE bf.backfill_id = b.backfill_id RETURNING * INTO b;
        CONTINUE;
      END IF;
      UPDATE auditlog.backfill bf
      SET page_id = auditlog.new_page_id(), page_stream = bf.chunk_streams[1], page_rows = page.rows,
          page_first_logged_at = page.first_logged_at, page_last_logged_at = page.last_logged_at,
          page_last_id = page.last_id, page_sha256 = auditlog.body_sha256(page.body)
      WHERE bf.backfill_id = b.backfill_id RETURNING * INTO b;
      rendered := true;
      CONTINUE;  -- hands it out above
    END IF;

    -- The next chunk: up to max_rows entries of the day of the next one.
    EXECUTE format('SELECT count(*) AS n, (array_agg(c.logged_at ORDER BY c.logged_at DESC, c.id DESC))[1] AS last_logged_at,'
                   ' (array_agg(c.id ORDER BY c.logged_at DESC, c.id DESC))[1] AS last_id,'
                   ' coalesce(array_agg(DISTINCT c.stream ORDER BY c.stream) FILTER (WHERE c.wanted), ''{}'') AS streams'
                   ' FROM (%s) c',
                   auditlog.backfill_query(b, s, format('e.logged_at, e.id, e.stream, true%s AS wanted',
                                                        auditlog.sink_filter(s)), NULL, max_rows))
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
BEGIN
  PERFORM auditlog.refuse_transaction_block('auditlog.backfill_ack()');
  PERFORM set_config('synchronous_commit', 'on', true);
  SELECT * INTO b FROM auditlog.backfill bf WHERE bf.backfill_id = backfill_ack.backfill_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'backfill % does not exist', backfill_id USING ERRCODE = 'undefined_object';
  END IF;
  IF page_id IS NULL OR page_id IS DISTINCT FROM b.page_id THEN
    RAISE EXCEPTION 'page % is not the page in flight of backfill %', page_id, b.backfill_id
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Acknowledge the page_id that backfill_next_page() returned; a page acknowledged already needs nothing more.';
  END IF;
  -- A window's page moves its stream's key within the chunk; one pinned by
  -- 0.2.0 (no last key) held all of its stream in the chunk.
  UPDATE auditlog.backfill bf
  SET chunk_streams = CASE WHEN bf.kind = 'gap' OR bf.page_last_id IS NULL THEN bf.chunk_streams[2:] ELSE bf.chunk_streams END,
      chunk_after_logged_at = CASE WHEN bf.kind = 'window' THEN bf.page_last_logged_at END,
      chunk_after_id = CASE WHEN bf.kind = 'window' THEN bf.page_last_id END,
      rows_exported = bf.rows_exported + bf.page_rows,
      after_stream = CASE WHEN bf.kind = 'gap' THEN bf.page_stream ELSE bf.after_stream END,
      after_logged_at = CASE WHEN bf.kind = 'gap' THEN bf.page_last_logged_at ELSE bf.after_logged_at END,
      after_id = CASE WHEN bf.kind = 'gap' THEN bf.page_last_id ELSE bf.after_id END,
      page_last_logged_at = NULL, page_last_id = NULL,
      pages_exported = bf.pages_exported + 1, last_sha256 = bf.page_sha256,
      page_id = NULL, page_stream = NULL, page_first_logged_at = NULL, page_rows = NULL, page_sha256 = NULL
  WHERE bf.backfill_id = b.backfill_id;
  RETURN true;
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
  SELECT * INTO b FROM auditlog.backfill bf WHERE bf.backfill_id = cancel_backfill.backfill_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'backfill % does not exist', backfill_id USING ERRCODE = 'undefined_object';
  END IF;
  IF b.status <> 'running' THEN
    RETURN false;
  END IF;
  UPDATE auditlog.backfill bf SET status = 'cancelled', finished_at = now(), page_id = NULL
  WHERE bf.backfill_id = b.backfill_id;
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

CREATE OR REPLACE FUNCTION auditlog.csv_cell(value text)
RETURNS text
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'auditlog_csv_cell';

CREATE OR REPLACE FUNCTION auditlog.entry_csv(e auditlog.entry)
RETURNS text
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'auditlog_entry_csv';

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
  PERFORM auditlog.import_window_lock();  -- serialised with import_begin(): see 79_import.sql
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

CREATE OR REPLACE FUNCTION auditlog.export_query(job auditlog.export_job, last_logged_at timestamptz, last_id uuid, max_rows int)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
RETURN format('SELECT e.* FROM auditlog.entry e WHERE e.logged_at >= %L AND e.logged_at < %L AND e.stream = %L%s%s%s'
              ' ORDER BY e.logged_at, e.id%s',
  greatest(job.range_start, job.after_logged_at), job.range_end, job.stream,
  CASE WHEN job.tenant_id IS NOT NULL THEN format(' AND e.tenant_id = %L', job.tenant_id) END,
  CASE WHEN job.after_id IS NOT NULL THEN format(' AND (e.logged_at, e.id) > (%L::timestamptz, %L::uuid)', job.after_logged_at, job.after_id) END,
  CASE WHEN last_id IS NOT NULL THEN format(' AND (e.logged_at, e.id) <= (%L::timestamptz, %L::uuid)', last_logged_at, last_id) END,
  CASE WHEN max_rows IS NOT NULL THEN format(' LIMIT %s', max_rows) END);

CREATE OR REPLACE FUNCTION auditlog.export_format(job auditlog.export_job)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE job.format WHEN 'csv' THEN 'csv' ELSE 'ndjson' END;

COMMENT ON FUNCTION auditlog.export_format IS 'Internal: the format an export job''s pages are rendered in, ndjson or csv.';

CREATE OR REPLACE FUNCTION auditlog.export_head(job auditlog.export_job, part int)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN job.format = 'csv' AND part = 1 THEN auditlog.csv_header() || E'\n' END;

COMMENT ON FUNCTION auditlog.export_head IS 'Internal: what opens an export job''s part: the CSV header for the first part of a CSV export, else nothing.';

CREATE OR REPLACE FUNCTION auditlog.export_next_page(job_id bigint, token uuid, max_rows int DEFAULT 10000)
RETURNS SETOF auditlog.export_page
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET work_mem = '64MB'  -- a page's body is megabytes: keep it off disk
SET max_parallel_workers_per_gather = 0  -- a page reads a few thousand rows: no workers to start
AS $$
DECLARE
  job auditlog.export_job;
  after_page auditlog.export_job;
  part int;
  page auditlog.rendered_page;
BEGIN
  PERFORM auditlog.refuse_transaction_block('auditlog.export_next_page()');
  PERFORM auditlog.check_max_rows(max_rows);
  PERFORM set_config('synchronous_commit', 'on', true);
  job := auditlog.fenced_job(job_id, token);
  part := job.parts_exported + 1;
  IF job.page_id IS NOT NULL THEN
    -- Pinned: the same page again, for a retry or a worker taking over.
    page := auditlog.render_again(CASE WHEN job.page_last_id IS NOT NULL
                                       THEN auditlog.export_query(job, job.page_last_logged_at, job.page_last_id, NULL) END,
                                  auditlog.export_format(job), auditlog.export_head(job, part),
                                  job.page_sha256, job.page_id, format('export job %s', job.job_id));
  ELSE
    EXECUTE auditlog.render_query(auditlog.export_query(job, NULL, NULL, max_rows), auditlog.export_format(job),
                                  auditlog.max_page_bytes(), auditlog.export_head(job, part))
    INTO page;
    page.body := coalesce(page.body, auditlog.export_head(job, part), '');
    job.page_rows := page.rows;
    job.page_last_logged_at := page.last_logged_at;
    job.page_last_id := page.last_id;
    -- The last page is the one after which nothing is left.
    after_page := job;
    after_page.after_logged_at := coalesce(job.page_last_logged_at, job.after_logged_at);
    after_page.after_id := coalesce(job.page_last_id, job.after_id);
    EXECUTE format('SELECT NOT EXISTS (%s)', auditlog.export_query(after_page, NULL, NULL, 1)) INTO job.page_final;
    job.page_id := auditlog.new_page_id();
    job.page_sha256 := auditlog.body_sha256(page.body);
    UPDATE auditlog.export_job j
    SET page_id = job.page_id, page_rows = job.page_rows, page_last_logged_at = job.page_last_logged_at,
        page_last_id = job.page_last_id, page_sha256 = job.page_sha256, page_final = job.page_final
    WHERE j.job_id = job.job_id;
  END IF;
  RETURN NEXT (job.page_id, part, job.page_rows, job.page_final, job.page_sha256, page.body)::auditlog.export_page;
END
$$;

COMMENT ON FUNCTION auditlog.export_next_page IS
  'The next part of a claimed export job (at most max_rows entries and 16 MiB, in (logged_at, id) order), pinned until acknowledged; final says it is the last. Needs the job''s current fencing token. Runs as its own transaction.';

CREATE OR REPLACE FUNCTION auditlog.import_lock_class()
RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 73106010 $$;

COMMENT ON FUNCTION auditlog.import_lock_class IS
  'Internal: the first key of the session-level advisory lock (two-int form; the second is the span id) that ties an open import span to its importer''s session.';

CREATE OR REPLACE FUNCTION auditlog.import_lock_key(span_id bigint)
RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT (span_id % 2147483648)::int $$;

COMMENT ON FUNCTION auditlog.import_lock_key IS
  'Internal: the second key of an import span''s advisory lock (the span id, which wraps past 2^31: two spans sharing a key only keep each other from being swept).';

CREATE OR REPLACE FUNCTION auditlog.import_span_locks()
RETURNS TABLE (key int, pid int)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT l.objid::bigint::int, l.pid
  FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid = auditlog.import_lock_class()::oid
$$;

COMMENT ON FUNCTION auditlog.import_span_locks IS
  'Internal: the advisory locks of import spans granted in this database: the span''s key and the session (pid) holding it.';

CREATE OR REPLACE FUNCTION auditlog.holds_import_span(span_id bigint)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT EXISTS (SELECT FROM auditlog.import_span_locks() l
                 WHERE l.key = auditlog.import_lock_key(span_id) AND l.pid = pg_backend_pid())
$$;

COMMENT ON FUNCTION auditlog.holds_import_span IS
  'Internal: whether this session holds the advisory lock of import span span_id.';

CREATE OR REPLACE FUNCTION auditlog.release_import_locks()
RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  held record;
  released int := 0;
BEGIN
  FOR held IN SELECT l.key
              FROM auditlog.import_span_locks() l
              WHERE l.pid = pg_backend_pid()
                AND NOT EXISTS (SELECT FROM auditlog.import_span s
                                WHERE auditlog.import_lock_key(s.span_id) = l.key AND s.status = 'open') LOOP
    -- As many times as it was taken (each unlock when none is held would warn).
    WHILE EXISTS (SELECT FROM auditlog.import_span_locks() l WHERE l.key = held.key AND l.pid = pg_backend_pid()) LOOP
      PERFORM pg_advisory_unlock(auditlog.import_lock_class(), held.key);
      released := released + 1;
    END LOOP;
  END LOOP;
  RETURN released;
END
$$;

COMMENT ON FUNCTION auditlog.release_import_locks IS
  'Internal: releases this session''s advisory locks on import spans that are no longer open. Returns how many lock counts it released.';

CREATE OR REPLACE FUNCTION auditlog.clock_floor_time()
RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER  -- auditlog.health shows it to readers
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT timestamptz '2000-01-01 00:00:00+00'
         + make_interval(secs => (f.last_value / 1000000)::double precision)
         + make_interval(secs => (f.last_value % 1000000) / 1000000.0)
  FROM auditlog.clock_floor f
$$;

COMMENT ON FUNCTION auditlog.clock_floor_time IS
  'Internal: the clock floor (auditlog.clock_floor, microseconds since 2000-01-01 UTC) as a time: an upper bound of every settled horizon handed out since the first tick.';

CREATE OR REPLACE FUNCTION auditlog.import_window_lock()
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_advisory_xact_lock_shared(auditlog.lock_key('import windows')) $$;

COMMENT ON FUNCTION auditlog.import_window_lock IS
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
  PERFORM auditlog.refuse_transaction_block('auditlog.import_begin()');
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
  PERFORM pg_advisory_xact_lock(auditlog.lock_key('tick'));
  PERFORM pg_advisory_xact_lock(auditlog.lock_key('import windows'));
  PERFORM auditlog.release_import_locks();
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
  handed_out := auditlog.clock_floor_time();
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
    PERFORM auditlog.record_internal(operation => 'auditlog.import.forced', stream => 'auditlog',
                                     actor_type => 'database_role', actor_id => session_user::text,
                                     resource_type => 'import_span', resource_id => span::text,
                                     details => jsonb_build_object('range_start', range_start, 'range_end', range_end,
                                                                   'horizon_bound', handed_out));
  END IF;
  -- Last: a session-level lock outlives an error of this transaction.
  PERFORM pg_advisory_lock(auditlog.import_lock_class(), auditlog.import_lock_key(span));
  RETURN span;
END
$$;

COMMENT ON FUNCTION auditlog.import_begin IS
  'Registers the span of logged_at an import will write, committing on its own; until the import is written, settled_horizon() stops at its start. The span is tied to this session (an advisory lock): if the session ends before the rows are written, the next tick() marks it abandoned. Refuses a span in the future, older than retain, overlapping a running backfill or unfinished export job, or (unless force, which is recorded in the log) starting before a settled horizon that may have been handed out. Returns the span id for import_rows().';

CREATE OR REPLACE FUNCTION auditlog.check_import_entry(
  operation text, stream text, actor_type text, actor_id text, tenant_id text, resource_type text,
  resource_id text, request_id text, request_uri text, source_ip inet, user_agent text, auth_method text,
  credential_id text, result auditlog.result, http_status int, error_code text, error_message text, details jsonb,
  id uuid, logged_at timestamptz, started_at timestamptz, range_start timestamptz, range_end timestamptz,
  duplicate boolean, "row" bigint)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'auditlog_check_import_entry';

COMMENT ON FUNCTION auditlog.check_import_entry IS
  'Internal to import_staged_rows(): raises the first rule an imported row breaks (those record() applies to its arguments, then a non-null id, finite started_at at or before logged_at, logged_at within the span, a new (logged_at, id)), naming the row; SQLSTATE 22023, or 54000 for an entry too large.';

CREATE OR REPLACE FUNCTION auditlog.claim_import_span(span_id bigint)
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
  IF NOT auditlog.holds_import_span(span.span_id)
     AND NOT pg_try_advisory_lock(auditlog.import_lock_class(), auditlog.import_lock_key(span.span_id)) THEN
    RAISE EXCEPTION 'import span % is held by another session', span_id
      USING ERRCODE = 'lock_not_available',
            DETAIL = 'The session that registered it (or that writes its rows) is still connected.',
            HINT = 'Write the rows from that session, or end it: its span is then free to be written here.';
  END IF;
  RETURN span;
END
$$;

COMMENT ON FUNCTION auditlog.claim_import_span IS
  'Internal to import_rows(): locks the import span, refuses it unless it is open and free of any other live session, and takes its advisory lock for this session. Returns the span.';

CREATE OR REPLACE FUNCTION auditlog.import_staged_rows(span_id bigint)
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
  span := auditlog.claim_import_span(span_id);
  -- Every staged row, in the order it was staged: the first bad one refuses
  -- the whole import.
  PERFORM count(auditlog.check_import_entry(
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
  PERFORM pg_advisory_xact_lock(auditlog.lock_key('partitions'));
  FOR day IN SELECT generate_series(auditlog.utc_day(span.range_start), auditlog.utc_day(span.range_end), interval '1 day') LOOP
    IF NOT EXISTS (SELECT FROM auditlog.partitions p WHERE p.range_start <= day AND p.range_end > day) THEN
      IF NOT auditlog.attach_day(day) THEN
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

COMMENT ON FUNCTION auditlog.import_staged_rows IS
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
  PERFORM auditlog.claim_import_span(span_id);
  EXECUTE format('INSERT INTO auditlog.import_stage (span_id, id, stream, logged_at, started_at, operation, actor_type,'
                 ' actor_id, tenant_id, resource_type, resource_id, request_id, request_uri, source_ip, user_agent,'
                 ' auth_method, credential_id, result, http_status, error_code, error_message, details)'
                 ' SELECT $1, id, stream, logged_at, started_at, operation, actor_type,'
                 ' actor_id, tenant_id, resource_type, resource_id, request_id, request_uri, source_ip, user_agent,'
                 ' auth_method, credential_id, result, http_status, error_code, error_message, details FROM %s', source)
  USING span_id;
  RETURN auditlog.import_staged_rows(span_id);
END
$$;

COMMENT ON FUNCTION auditlog.import_rows IS
  'Writes the rows of source (a table or view with the columns of auditlog.entry but writer_xid) into the log with their own ids and times, all within the span registered by import_begin(), in the caller''s transaction. Reads source with the caller''s rights (SECURITY INVOKER); refuses the whole import at the first row record() would refuse, or with a time outside the span or a key already logged. Makes the partitions needed. Returns how many rows it wrote.';

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
  WHILE auditlog.holds_import_span(import_abandon.span_id) LOOP
    PERFORM pg_advisory_unlock(auditlog.import_lock_class(), auditlog.import_lock_key(import_abandon.span_id));
  END LOOP;
  RETURN closed;
END
$$;

COMMENT ON FUNCTION auditlog.import_abandon IS
  'Closes an import span whose rows were never written (its transaction rolled back), so settled_horizon() moves on, and releases this session''s lock on it. Returns false if it was not open.';

CREATE OR REPLACE FUNCTION auditlog.sweep_import_spans()
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
    CONTINUE WHEN auditlog.holds_import_span(span.span_id);
    CONTINUE WHEN NOT pg_try_advisory_lock(auditlog.import_lock_class(), auditlog.import_lock_key(span.span_id));
    PERFORM pg_advisory_unlock(auditlog.import_lock_class(), auditlog.import_lock_key(span.span_id));
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

COMMENT ON FUNCTION auditlog.sweep_import_spans IS
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
  PERFORM pg_catalog.pg_advisory_unlock(auditlog.import_lock_class(), auditlog.import_lock_key(span));
  RAISE NOTICE 'auditlog: imported % entries from % (span %)', written, source, span;
END
$$;

COMMENT ON PROCEDURE auditlog.import IS
  'Imports the rows of source (a table or view with the columns of auditlog.entry but writer_xid) with their own ids and times: registers their span, commits, writes them, commits, and releases the span''s lock. CALL it outside a transaction block.';

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
  PERFORM auditlog.check_retain(retain);
  IF force IS NULL THEN
    RAISE EXCEPTION 'force must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- One maintainer at a time (as ensure_partitions()): two would both drop
  -- the same day, and one fail. Purging can wait for the next run.
  IF NOT pg_try_advisory_xact_lock(auditlog.lock_key('partitions')) THEN
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
        PERFORM auditlog.record_internal(operation => 'auditlog.purge.forced', stream => 'auditlog',
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
                   auditlog.batch_condition(lo, hi), auditlog.sink_filter(s), cap - lag)
    INTO owed;
    lag := lag + owed;
    EXIT WHEN lag >= cap;
  END LOOP;
  RETURN lag;
END
$$;

COMMENT ON FUNCTION auditlog.sink_lag_rows IS
  'Entries the sink has yet to export up to the last tick (a page in flight included), counted up to cap (at most a million).';

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
  PERFORM auditlog.check_max_rows(max_rows);
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

-- Views that read new functions or show new columns.
CREATE OR REPLACE VIEW auditlog.partitions AS
SELECT c.relname::text AS partition_name,
       c.oid::regclass AS partition,
       bound.range_start,
       bound.range_end,
       pg_catalog.pg_total_relation_size(c.oid) AS total_bytes
FROM pg_catalog.pg_inherits i
JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
CROSS JOIN LATERAL auditlog.partition_range(c.oid) AS bound
WHERE i.inhparent = 'auditlog.entry'::regclass
  AND bound.range_start IS NOT NULL;
CREATE OR REPLACE VIEW auditlog.health AS
SELECT (SELECT count(*) FROM auditlog.pending) AS pending_count,
       (SELECT min(started_at) FROM auditlog.pending) AS oldest_pending,
       (SELECT count(*)::int FROM auditlog.partitions) AS partition_count,
       (SELECT min(range_start) FROM auditlog.partitions) AS oldest_partition_start,
       (SELECT max(range_end) FROM auditlog.partitions) AS newest_partition_end,
       (SELECT count(*) FROM ONLY auditlog.entry_default) AS default_partition_rows,
       (SELECT max(tick_id) FROM auditlog.tick) AS last_tick,
       (SELECT max(taken_at) FROM auditlog.tick) AS last_tick_at,
       auditlog.settled_horizon() AS settled_horizon,
       auditlog.clock_floor_time() > clock_timestamp() AS clock_behind_floor,
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
                 AND NOT EXISTS (SELECT FROM auditlog.import_span_locks() l
                                 WHERE l.key = auditlog.import_lock_key(s.span_id))) AS open_import_abandoned;
COMMENT ON VIEW auditlog.health IS
  'One row: begun entries still pending and the oldest of them, the day partitions, rows in the DEFAULT partition (should be 0), the last tick, the settled horizon and the oldest transaction holding it back, and whether the server clock is behind the clock floor (the floor, not the clock, then stamps entries), and the open import spans: how many, the oldest start, and whether any looks abandoned (no session holds it; the next tick() marks it abandoned).';

-- Privileges, as a fresh install grants them (new functions start with none).
GRANT auditlog_writer, auditlog_reader TO auditlog_admin;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA auditlog FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA auditlog FROM PUBLIC;
GRANT USAGE ON SCHEMA auditlog TO auditlog_writer, auditlog_reader, auditlog_admin;

GRANT EXECUTE ON FUNCTION auditlog.record, auditlog.begin, auditlog.complete
  TO auditlog_writer;
GRANT SELECT ON auditlog.entry, auditlog.pending, auditlog.partitions, auditlog.health,
  auditlog.sink, auditlog.sink_status, auditlog.export_status, auditlog.backfill_status,
  auditlog.page, auditlog.sink_state, auditlog.export_part
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
