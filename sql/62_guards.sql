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
