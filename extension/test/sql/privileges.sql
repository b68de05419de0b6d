\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- The privilege matrix, exactly: what each role may execute and read, from
-- the catalog, and then tried for real. auditlog_writer writes, and reads
-- nothing; auditlog_reader reads the log and the status views; auditlog_admin
-- both, plus maintenance and export; any other role (so PUBLIC) nothing.
SET client_min_messages = warning;
DROP ROLE IF EXISTS pm_writer, pm_reader, pm_admin, pm_outsider;
RESET client_min_messages;
CREATE ROLE pm_writer IN ROLE auditlog_writer;
CREATE ROLE pm_reader IN ROLE auditlog_reader;
CREATE ROLE pm_admin IN ROLE auditlog_admin;
CREATE ROLE pm_outsider;

-- Functions and procedures each role may execute; the outsider stands for PUBLIC.
SELECT r.role, string_agg(p.proname, ' ' ORDER BY p.proname) AS may_execute
FROM (VALUES ('pm_writer'), ('pm_reader'), ('pm_admin'), ('pm_outsider')) AS r(role)
LEFT JOIN pg_proc p ON p.pronamespace IN ('auditlog'::regnamespace, 'auditlog_internal'::regnamespace) AND has_function_privilege(r.role, p.oid, 'EXECUTE')
GROUP BY r.role ORDER BY r.role;

-- Tables, views and sequences each role may touch, and how.
SELECT r.role, c.relname,
       concat_ws(',', CASE WHEN has_table_privilege(r.role, c.oid, 'SELECT') THEN 'select' END,
                      CASE WHEN has_table_privilege(r.role, c.oid, 'INSERT') THEN 'insert' END,
                      CASE WHEN has_table_privilege(r.role, c.oid, 'UPDATE') THEN 'update' END,
                      CASE WHEN has_table_privilege(r.role, c.oid, 'DELETE') THEN 'delete' END,
                      CASE WHEN has_table_privilege(r.role, c.oid, 'TRUNCATE') THEN 'truncate' END) AS may
FROM (VALUES ('pm_writer'), ('pm_reader'), ('pm_admin'), ('pm_outsider')) AS r(role)
JOIN pg_class c ON c.relnamespace = 'auditlog'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'S')
WHERE c.relname !~ '^entry_p\d{8}$'
  AND (has_table_privilege(r.role, c.oid, 'SELECT') OR has_table_privilege(r.role, c.oid, 'INSERT')
       OR has_table_privilege(r.role, c.oid, 'UPDATE') OR has_table_privilege(r.role, c.oid, 'DELETE')
       OR has_table_privilege(r.role, c.oid, 'TRUNCATE'))
ORDER BY r.role, c.relname;

-- Every SECURITY DEFINER function pins its search_path, in its SET clause or,
-- for the C entry points, in the C code (marked here by LANGUAGE c).
SELECT p.oid::regprocedure AS unpinned
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.pronamespace IN ('auditlog'::regnamespace, 'auditlog_internal'::regnamespace) AND p.prosecdef AND l.lanname <> 'c'
  AND NOT coalesce(p.proconfig, '{}') @> '{"search_path=pg_catalog, pg_temp"}';

-- Tried for real: each role reads every table and view it may, and nothing
-- else. A view that calls a function its reader may not execute fails here.
CREATE FUNCTION pg_temp.try_reading(role text) RETURNS TABLE (relname name, outcome text)
LANGUAGE plpgsql AS $$
DECLARE
  rel record;
BEGIN
  FOR rel IN SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = 'auditlog'::regnamespace AND c.relkind IN ('r', 'p', 'v')
               AND c.relname !~ '^entry_p\d{8}$' ORDER BY c.relname LOOP
    relname := rel.relname;
    BEGIN
      EXECUTE format('SET LOCAL ROLE %I', role);
      EXECUTE format('SELECT count(*) FROM (SELECT * FROM auditlog.%I LIMIT 1) AS r', rel.relname);
      outcome := 'read';
      RESET ROLE;
    EXCEPTION WHEN insufficient_privilege THEN
      outcome := 'denied';
    END;
    RETURN NEXT;
  END LOOP;
END
$$;
SELECT 'pm_reader' AS role, relname FROM pg_temp.try_reading('pm_reader') WHERE outcome = 'read'
UNION ALL
SELECT 'pm_writer', relname FROM pg_temp.try_reading('pm_writer') WHERE outcome = 'read'
UNION ALL
SELECT 'pm_outsider', relname FROM pg_temp.try_reading('pm_outsider') WHERE outcome = 'read'
ORDER BY 1, 2;
-- What a reader reads from the catalog's grant, it reads for real.
SELECT relname AS reader_denied_despite_grant FROM pg_temp.try_reading('pm_reader')
WHERE outcome = 'denied' AND has_table_privilege('pm_reader', 'auditlog.' || quote_ident(relname), 'SELECT');
SELECT relname AS admin_denied_despite_grant FROM pg_temp.try_reading('pm_admin')
WHERE outcome = 'denied' AND has_table_privilege('pm_admin', 'auditlog.' || quote_ident(relname), 'SELECT');

-- Tried for real: each role calls every function of the schema (with null
-- arguments, undone), and is refused exactly those the catalog denies it.
-- (Functions returning trigger are never callable; procedures are CALLed.
-- The nulls of functions come from subqueries: a constant null given to a
-- strict function is folded away before the privilege check; CALL takes no
-- subquery.)
CREATE FUNCTION pg_temp.try_calling(role text) RETURNS TABLE (proname name, called boolean, granted boolean, shared boolean)
LANGUAGE plpgsql AS $$
DECLARE
  f record;
BEGIN
  FOR f IN SELECT p.oid, p.pronamespace::regnamespace AS schema, p.proname, p.prokind,
                  (SELECT string_agg(format(CASE WHEN p.prokind = 'p' THEN 'NULL::%s' ELSE '(SELECT NULL::%s)' END,
                                            t::regtype), ', ' ORDER BY n)
                   FROM unnest(p.proargtypes) WITH ORDINALITY AS a(t, n)) AS args
           FROM pg_proc p
           WHERE p.pronamespace IN ('auditlog'::regnamespace, 'auditlog_internal'::regnamespace) AND p.prorettype <> 'trigger'::regtype
             -- (an aggregate's support functions take internal: no SQL can call them)
             AND NOT 'internal'::regtype = ANY (p.proargtypes)
           ORDER BY p.oid::regprocedure::text LOOP
    proname := f.proname;
    granted := has_function_privilege(role, f.oid, 'EXECUTE');
    -- (helpers of one edition only, C or SQL, say so in their comment)
    shared := coalesce(obj_description(f.oid, 'pg_proc'), '') NOT LIKE 'Internal (% edition)%';
    BEGIN
      EXECUTE format('SET LOCAL ROLE %I', role);
      EXECUTE format(CASE WHEN f.prokind = 'p' THEN 'CALL %s.%I(%s)' ELSE 'SELECT %s.%I(%s)' END,
                     f.schema, f.proname, coalesce(f.args, ''));
      RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'undo';
    EXCEPTION
      WHEN insufficient_privilege THEN called := false;
      WHEN OTHERS THEN called := true;  -- it ran, and refused the nulls or was undone
    END;
    RETURN NEXT;
  END LOOP;
END
$$;
-- (Counted: the functions both editions have; any function called unlike
-- its grants is named.)
SELECT role, count(*) FILTER (WHERE called AND shared) AS called, count(*) FILTER (WHERE NOT called AND shared) AS refused,
       string_agg(proname, ' ' ORDER BY proname) FILTER (WHERE called IS DISTINCT FROM granted) AS unlike_the_catalog
FROM (VALUES ('pm_writer'), ('pm_reader'), ('pm_admin'), ('pm_outsider')) AS r(role),
     LATERAL pg_temp.try_calling(r.role)
GROUP BY role ORDER BY role;

-- Nobody inserts, updates or deletes logged entries directly, the admin included.
SET ROLE pm_admin;
INSERT INTO auditlog.entry (id, logged_at, started_at, operation, result, writer_xid)
VALUES (gen_random_uuid(), now(), now(), 'forged', 'success', '1');
UPDATE auditlog.entry SET result = 'error';
DELETE FROM auditlog.entry;
DELETE FROM auditlog.pending;
UPDATE auditlog.sink SET url = 'file:///tmp/elsewhere';
RESET ROLE;

DROP ROLE pm_writer, pm_reader, pm_admin, pm_outsider;
