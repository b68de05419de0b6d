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

