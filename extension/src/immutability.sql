-- immutability.sql: the SQL edition's twins of immutability.c, what keeps
-- auditlog.entry append-only.
--
-- The C lets move_default_rows() delete from the DEFAULT partition by a
-- flag only C can set. SQL has no such flag (anything a function can set, a
-- session can), so the one exception is a property of the data instead: a
-- row may leave DEFAULT only once an identical copy of it is in the table
-- made for its day, in schema auditlog and not attached yet, which
-- ensure_partitions() attaches in the same transaction. No setting opens
-- the log, and no entry can leave it that way: it moves. (Only the log's
-- owner may delete from a partition at all, and the owner's own DDL could
-- drop the trigger anyway.)

CREATE FUNCTION auditlog_internal.forbid_change()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  day_table text;
  moved boolean := false;
BEGIN
  IF TG_OP = 'DELETE' AND TG_TABLE_SCHEMA = 'auditlog' AND TG_TABLE_NAME = 'entry_default' THEN
    day_table := 'entry_p' || to_char(OLD.logged_at AT TIME ZONE 'UTC', 'YYYYMMDD');
    IF EXISTS (SELECT FROM pg_class c
               WHERE c.relname = day_table AND c.relnamespace = 'auditlog'::regnamespace
                 AND c.relkind = 'r' AND NOT c.relispartition) THEN
      EXECUTE format('SELECT EXISTS (SELECT FROM auditlog.%I t WHERE t.logged_at = $1 AND t.id = $2 AND t::text = $3)',
                     day_table)
        INTO moved USING OLD.logged_at, OLD.id, OLD::text;
    END IF;
    IF moved THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'auditlog.entry is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          DETAIL = format('The statement would have changed entries in %s.', TG_TABLE_NAME),
          HINT = 'Entries never change. Expired days are dropped whole by auditlog.purge().';
END
$$;

-- Copy, then delete: each row leaves DEFAULT only once its copy is in
-- target (see above).
CREATE FUNCTION auditlog_internal.move_default_rows(range_start timestamptz, range_end timestamptz, target regclass)
RETURNS bigint
LANGUAGE plpgsql STRICT VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  moved bigint;
  deleted bigint;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_class c
                 WHERE c.oid = target AND c.relkind = 'r' AND c.relnamespace = 'auditlog'::regnamespace) THEN
    RAISE EXCEPTION 'rows of the DEFAULT partition can only move into a table of schema auditlog'
      USING ERRCODE = 'wrong_object_type';
  END IF;
  EXECUTE format('INSERT INTO %s SELECT * FROM ONLY auditlog.entry_default WHERE logged_at >= $1 AND logged_at < $2',
                 target)
    USING range_start, range_end;
  GET DIAGNOSTICS moved = ROW_COUNT;
  DELETE FROM ONLY auditlog.entry_default WHERE logged_at >= range_start AND logged_at < range_end;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  IF deleted <> moved THEN
    RAISE EXCEPTION 'auditlog: % rows copied out of the DEFAULT partition, % deleted', moved, deleted
      USING ERRCODE = 'internal_error';
  END IF;
  RETURN moved;
END
$$;
