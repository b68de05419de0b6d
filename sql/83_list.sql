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

