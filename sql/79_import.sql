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
