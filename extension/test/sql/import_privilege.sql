\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- import_rows() reads a relation its caller names. A role holding only
-- auditlog_admin must not get the extension's rights through it: whatever
-- the source runs (a view's functions, a table turned into a view by a rule)
-- runs as the caller. Honest sources still import.
SET client_min_messages = warning;
DROP ROLE IF EXISTS ip_attacker;
RESET client_min_messages;
CREATE ROLE ip_attacker IN ROLE auditlog_admin;
SELECT auditlog.tick() IS NOT NULL AS ticked;
SELECT pg_sleep(0.01);
SELECT clock_timestamp() AS t \gset

SET ROLE ip_attacker;
CREATE FUNCTION pg_temp.evil() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  ALTER ROLE ip_attacker SUPERUSER;
  RETURN true;
END
$$;
CREATE TEMP TABLE src AS
SELECT ('01890000-0000-7000-9100-' || lpad(n::text, 12, '0'))::uuid AS id, 'audit' AS stream,
       :'t'::timestamptz AS logged_at, :'t'::timestamptz AS started_at,
       'honest.op' AS operation, NULL::text AS actor_type, NULL::text AS actor_id, NULL::text AS tenant_id,
       NULL::text AS resource_type, NULL::text AS resource_id, NULL::text AS request_id, NULL::text AS request_uri,
       NULL::inet AS source_ip, NULL::text AS user_agent, NULL::text AS auth_method, NULL::text AS credential_id,
       'success'::auditlog.result AS result, NULL::int AS http_status, NULL::text AS error_code, NULL::text AS error_message,
       NULL::jsonb AS details
FROM generate_series(1, 3) AS n;
-- A view calling the caller's function, and a table made into such a view by
-- a rule (Postgres 16 and later refuse ON SELECT rules on tables: there, a
-- second such view).
CREATE TEMP VIEW v AS SELECT * FROM src WHERE pg_temp.evil();
DO $$
BEGIN
  CREATE TEMP TABLE ruled (LIKE src);
  CREATE RULE "_RETURN" AS ON SELECT TO ruled DO INSTEAD SELECT * FROM src WHERE pg_temp.evil();
EXCEPTION WHEN wrong_object_type THEN
  CREATE TEMP VIEW ruled AS SELECT * FROM src WHERE pg_temp.evil();
END
$$;
SELECT auditlog.import_begin(:'t', :'t') AS span \gset
-- (The SQLSTATE only: the message differs between Postgres versions.)
\set VERBOSITY sqlstate
SELECT auditlog.import_rows(:span, 'pg_temp.v');
SELECT auditlog.import_rows(:span, 'pg_temp.ruled');
\set VERBOSITY default
RESET ROLE;
SELECT rolsuper AS attacker_is_superuser FROM pg_roles WHERE rolname = 'ip_attacker';
SELECT status FROM auditlog.import_span WHERE span_id = :span;

-- The honest source imports, into the same span, as the same role.
SET ROLE ip_attacker;
SELECT auditlog.import_rows(:span, 'src') AS imported;
RESET ROLE;
SELECT status, rows FROM auditlog.import_span WHERE span_id = :span;
SELECT count(*) AS honest_rows FROM auditlog.entry WHERE operation = 'honest.op';
-- Nothing is left staged.
SELECT count(*) AS staged FROM auditlog.import_stage;

-- The one-call procedure works for auditlog_admin too, and releases the
-- span's lock when done.
SELECT auditlog.tick() IS NOT NULL AS ticked;
SELECT pg_sleep(0.01);
SELECT clock_timestamp() AS t2 \gset
SET ROLE ip_attacker;
CREATE TEMP TABLE more AS
SELECT ('01890000-0000-7000-9101-' || lpad(n::text, 12, '0'))::uuid AS id, 'audit' AS stream,
       :'t2'::timestamptz AS logged_at, :'t2'::timestamptz AS started_at,
       'honest.call' AS operation, NULL::text AS actor_type, NULL::text AS actor_id, NULL::text AS tenant_id,
       NULL::text AS resource_type, NULL::text AS resource_id, NULL::text AS request_id, NULL::text AS request_uri,
       NULL::inet AS source_ip, NULL::text AS user_agent, NULL::text AS auth_method, NULL::text AS credential_id,
       'success'::auditlog.result AS result, NULL::int AS http_status, NULL::text AS error_code, NULL::text AS error_message,
       NULL::jsonb AS details
FROM generate_series(1, 4) AS n;
SET client_min_messages = warning;
CALL auditlog.import('more');
RESET client_min_messages;
RESET ROLE;
SELECT count(*) AS called_rows FROM auditlog.entry WHERE operation = 'honest.call';
SELECT count(*) AS import_locks_held FROM pg_locks
WHERE locktype = 'advisory' AND classid = auditlog_internal.import_lock_class()::oid AND pid = pg_backend_pid();
SELECT rolsuper AS attacker_is_superuser FROM pg_roles WHERE rolname = 'ip_attacker';

-- Every SECURITY DEFINER function of the extension, with its arguments: a
-- new one shows here, to be reviewed for what the caller controls.
SELECT p.oid::regprocedure AS security_definer
FROM pg_proc p WHERE p.pronamespace IN ('auditlog'::regnamespace, 'auditlog_internal'::regnamespace) AND p.prosecdef
ORDER BY p.oid::regprocedure::text;
-- None takes a type whose reading would run the caller's code or name the
-- caller's objects (regclass, regproc, polymorphic types, records, a type
-- the caller owns) as an argument: only these reviewed scalar types.
SELECT p.oid::regprocedure AS takes_caller_controlled_type, t::regtype AS type
FROM pg_proc p, unnest(p.proargtypes::oid[]) AS t
WHERE p.pronamespace IN ('auditlog'::regnamespace, 'auditlog_internal'::regnamespace) AND p.prosecdef
  AND t::regtype NOT IN ('text'::regtype, 'integer', 'bigint', 'boolean', 'timestamp with time zone', 'interval',
                         'uuid', 'inet', 'jsonb', 'auditlog.result');
-- And none is a procedure or returns a polymorphic or caller-named type.
SELECT p.oid::regprocedure AS odd_security_definer
FROM pg_proc p JOIN pg_type rt ON rt.oid = p.prorettype
WHERE p.pronamespace IN ('auditlog'::regnamespace, 'auditlog_internal'::regnamespace) AND p.prosecdef
  AND (p.prokind <> 'f' OR rt.typtype = 'p' AND rt.typname NOT IN ('void', 'record')
       OR rt.typnamespace NOT IN ('pg_catalog'::regnamespace, 'auditlog'::regnamespace, 'auditlog_internal'::regnamespace));

DROP OWNED BY ip_attacker;
DROP ROLE ip_attacker;
