-- auditlog.sql: the SQL edition's twin of what auditlog.c stands for, the
-- module itself: which edition this is. (The SQL edition is assembled by
-- ../sql_edition.py, which writes the release in for @VERSION@: a script
-- run by psql -f has no pg_extension row to read it from.)

CREATE FUNCTION auditlog.edition(OUT edition text, OUT version text)
RETURNS record
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN ('sql'::text, '@VERSION@'::text);
