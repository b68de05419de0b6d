\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- The SECURITY DEFINER functions cannot be redirected by the caller's
-- search_path: an operator planted ahead of pg_catalog is never used.
CREATE SCHEMA hostile;
CREATE FUNCTION hostile.always_equal(uuid, uuid) RETURNS boolean
  LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE OPERATOR hostile.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = hostile.always_equal);
CREATE FUNCTION hostile.now() RETURNS timestamptz
  LANGUAGE sql STABLE AS $$SELECT 'infinity'::timestamptz$$;

CREATE TEMP TABLE begun AS
SELECT n, auditlog.begin(operation => 'search_path.test') AS id FROM generate_series(1, 3) AS n;

SET search_path = hostile, pg_catalog;
-- With the hostile "=", complete() would move every pending entry.
SELECT auditlog.complete((SELECT id FROM begun WHERE n = 1), 'success') AS completed;
-- With the hostile now(), every pending entry would look old enough.
SELECT auditlog.timeout_pending(older_than => '1 hour') AS timed_out;
RESET search_path;

SELECT count(*) AS logged FROM auditlog.entry JOIN begun USING (id);
SELECT count(*) AS still_pending FROM auditlog.pending JOIN begun USING (id);

SELECT n, auditlog.complete(id, 'success') AS completed_later FROM begun WHERE n > 1 ORDER BY n;
SET client_min_messages = warning;
DROP SCHEMA hostile CASCADE;
RESET client_min_messages;
