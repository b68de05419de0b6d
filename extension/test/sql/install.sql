\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database; this one creates it below (the lines up to
-- "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
RESET client_min_messages;
\set ECHO all
-- The extension installs into schema auditlog with its roles, and makes no
-- day partition at install time (those are made at run time, so pg_dump keeps them).
CREATE EXTENSION auditlog;

SELECT extversion FROM pg_extension WHERE extname = 'auditlog';

SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'auditlog\_%' ORDER BY rolname;

SELECT partition_count, default_partition_rows, pending_count FROM auditlog.health;

-- The first tick (later tests write entries stamped in the future, which the
-- first tick of a log would lift the clock floor above).
SELECT auditlog.tick() IS NOT NULL AS first_tick;

-- Every function carries a comment; \df auditlog.* shows what a DBA may
-- call, and the helpers those are built from are in auditlog_internal, each
-- one's comment saying so.
SELECT p.oid::regprocedure AS misplaced_or_uncommented
FROM pg_proc p
WHERE p.pronamespace IN ('auditlog'::regnamespace, 'auditlog_internal'::regnamespace)
  AND (obj_description(p.oid, 'pg_proc') IS NULL
       OR (obj_description(p.oid, 'pg_proc') LIKE 'Internal%') <> (p.pronamespace = 'auditlog_internal'::regnamespace));
-- (Helpers of one edition only, C or SQL, say so in their comment; the
-- count is of those both editions have.)
SELECT (SELECT count(*) FROM pg_proc WHERE pronamespace = 'auditlog'::regnamespace) AS public_functions,
       (SELECT count(*) FROM pg_proc WHERE pronamespace = 'auditlog_internal'::regnamespace
          AND obj_description(oid, 'pg_proc') NOT LIKE 'Internal (% edition)%') AS internal_functions;

-- SECURITY DEFINER functions pin their search_path: SQL and PL/pgSQL ones
-- with a SET clause, C ones in code (extension/src/log.c).
SELECT p.proname
FROM pg_proc p
WHERE p.pronamespace IN ('auditlog'::regnamespace, 'auditlog_internal'::regnamespace) AND p.prosecdef
  AND p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
  AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');

-- PUBLIC may execute nothing.
SELECT p.proname
FROM pg_proc p
WHERE p.pronamespace IN ('auditlog'::regnamespace, 'auditlog_internal'::regnamespace)
  AND has_function_privilege('public', p.oid, 'EXECUTE');

-- The DEFAULT partition and begun entries are dumped with the data.
SELECT c.relname
FROM pg_extension e, unnest(e.extconfig) AS t(oid)
JOIN pg_class c ON c.oid = t.oid
WHERE e.extname = 'auditlog'
ORDER BY 1;
