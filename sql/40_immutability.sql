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

