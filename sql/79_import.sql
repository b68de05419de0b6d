-- Importing history: entries from an existing audit table, with their
-- original ids and times, for teams adopting auditlog (and for benchmarks at
-- scale), without breaking any invariant.
--
-- An import writes old logged_at values, which no tick's time bound covers.
-- So it is done in two steps:
--   1. import_begin(range_start, range_end) registers the span of times it
--      will write and commits on its own. While a span is open,
--      settled_horizon() stops at its start, so no window the import may
--      change is declared stable. A span starting before any tick was taken
--      (a horizon may have been handed out from there on) is refused unless
--      forced, and a forced import is recorded in the log.
--   2. import_rows(span, source) writes the rows, in the caller's
--      transaction, and records that transaction's xid on the span. Batches
--      add the spans whose xid they hold, so sinks enabled before the import
--      committed export its rows exactly once; purge() keeps the span's days
--      until every sink has. If the transaction rolls back, import_abandon()
--      closes the span.

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
  CHECK (range_start <= range_end)
);
COMMENT ON TABLE auditlog.import_span IS
  'Imports of history: the span of logged_at each one writes, and the xid of the transaction that wrote it.';

CREATE FUNCTION auditlog.import_begin(range_start timestamptz, range_end timestamptz,
                                      retain interval DEFAULT '90 days', force boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  span bigint;
  first_tick timestamptz := (SELECT min(taken_at) FROM auditlog.tick);
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
  IF first_tick IS NOT NULL AND range_start < first_tick AND NOT force THEN
    RAISE EXCEPTION 'the span starts before the log was first read or exported'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = format('Ticks were taken from %s on: a settled horizon after %s may have been handed out, and this import would change a window declared stable.', first_tick, range_start),
            HINT = 'Import history before reading or exporting the log; or pass force => true (it is recorded in the log).';
  END IF;
  INSERT INTO auditlog.import_span (range_start, range_end, forced) VALUES (range_start, range_end, force)
  RETURNING span_id INTO span;
  IF force AND first_tick IS NOT NULL AND range_start < first_tick THEN
    RAISE WARNING 'auditlog: forced import into a window that may already have been declared stable';
    PERFORM auditlog.record(operation => 'auditlog.import.forced', stream => 'auditlog',
                            actor_type => 'database_role', actor_id => session_user::text,
                            resource_type => 'import_span', resource_id => span::text,
                            details => jsonb_build_object('range_start', range_start, 'range_end', range_end));
  END IF;
  RETURN span;
END
$$;
COMMENT ON FUNCTION auditlog.import_begin IS
  'Registers the span of logged_at an import will write, committing on its own; until the import is written, settled_horizon() stops at its start. Refuses a span in the future, older than retain, or (unless force, which is recorded in the log) starting before the first tick. Returns the span id for import_rows().';

CREATE FUNCTION auditlog.import_rows(span_id bigint, source regclass)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  span auditlog.import_span;
  columns text := 'id, stream, logged_at, started_at, operation, actor_type, actor_id, tenant_id, resource_type, '
                  'resource_id, request_id, request_uri, source_ip, user_agent, auth_method, credential_id, result, '
                  'http_status, error_code, error_message, details';
  outside bigint;
  day timestamptz;
  written bigint;
BEGIN
  SELECT * INTO span FROM auditlog.import_span s WHERE s.span_id = import_rows.span_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'import span % does not exist', span_id USING ERRCODE = 'undefined_object';
  END IF;
  IF span.status <> 'open' THEN
    RAISE EXCEPTION 'import span % is %, not open', span_id, span.status USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  EXECUTE format('SELECT count(*) FROM %s WHERE logged_at IS NULL OR logged_at < %L OR logged_at > %L',
                 source, span.range_start, span.range_end) INTO outside;
  IF outside > 0 THEN
    RAISE EXCEPTION '% rows of % lie outside the span registered for import %', outside, source, span_id
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Register a span that covers every logged_at with import_begin().';
  END IF;
  -- Every day of the span gets its partition first (one maintainer at a
  -- time, as in ensure_partitions()).
  PERFORM pg_advisory_xact_lock(7310601002);  -- 'auditlog partitions'
  FOR day IN SELECT generate_series(auditlog.utc_day(span.range_start), auditlog.utc_day(span.range_end), interval '1 day') LOOP
    IF NOT EXISTS (SELECT FROM auditlog.partitions p WHERE p.range_start <= day AND p.range_end > day) THEN
      IF NOT auditlog.attach_day(day) THEN
        RAISE EXCEPTION 'could not make the partition for % now: the log is busy', day::date
          USING ERRCODE = 'lock_not_available', HINT = 'Try again.';
      END IF;
    END IF;
  END LOOP;
  EXECUTE format('INSERT INTO auditlog.entry (%s, writer_xid) SELECT %s, pg_current_xact_id() FROM %s',
                 columns, columns, source);
  GET DIAGNOSTICS written = ROW_COUNT;
  UPDATE auditlog.import_span s SET status = 'written', writer_xid = pg_current_xact_id(), rows = written, written_at = now()
  WHERE s.span_id = span.span_id;
  RETURN written;
END
$$;
COMMENT ON FUNCTION auditlog.import_rows IS
  'Writes the rows of source (a table or view with the columns of auditlog.entry but writer_xid) into the log with their own ids and times, all within the span registered by import_begin(), in the caller''s transaction. Makes the partitions needed. Returns how many rows it wrote.';

CREATE FUNCTION auditlog.import_abandon(span_id bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM auditlog.import_span s WHERE s.span_id = import_abandon.span_id) THEN
    RAISE EXCEPTION 'import span % does not exist', span_id USING ERRCODE = 'undefined_object';
  END IF;
  UPDATE auditlog.import_span s SET status = 'abandoned' WHERE s.span_id = import_abandon.span_id AND s.status = 'open';
  RETURN FOUND;
END
$$;
COMMENT ON FUNCTION auditlog.import_abandon IS
  'Closes an import span whose rows were never written (its transaction rolled back), so settled_horizon() moves on. Returns false if it was not open.';

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
    -- Nothing was written: close the span so the settled horizon moves on.
    PERFORM auditlog.import_abandon(span);
    COMMIT;
    RAISE;
  END;
  COMMIT;
  RAISE NOTICE 'auditlog: imported % entries from % (span %)', written, source, span;
END
$$;
COMMENT ON PROCEDURE auditlog.import IS
  'Imports the rows of source (a table or view with the columns of auditlog.entry but writer_xid) with their own ids and times: registers their span, commits, writes them, commits. CALL it outside a transaction block.';

