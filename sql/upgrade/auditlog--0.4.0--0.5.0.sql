-- auditlog 0.4.0 to 0.5.0: the SQL edition. Nothing changes in the C
-- edition's behaviour: auditlog.edition() says which edition and release is
-- installed, and the helpers only the C edition has say so in their comment.
\echo Use "ALTER EXTENSION auditlog UPDATE TO '0.5.0'" to load this file. \quit

CREATE FUNCTION auditlog.edition(OUT edition text, OUT version text)
RETURNS record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN ('c'::text, (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'auditlog'));
COMMENT ON FUNCTION auditlog.edition IS
  'Which edition of auditlog is installed (c: with its C module; sql: without C) and its version.';
REVOKE ALL ON FUNCTION auditlog.edition FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auditlog.edition TO auditlog_writer, auditlog_reader;

COMMENT ON FUNCTION auditlog_internal.render_step IS 'Internal (C edition): the transition function of render_entries().';
COMMENT ON FUNCTION auditlog_internal.render_final IS 'Internal (C edition): the final function of render_entries().';
COMMENT ON AGGREGATE auditlog_internal.render_entries(auditlog.entry, text, int, text) IS
  'Internal (C edition): the entries as a page body in format ndjson or csv, after head: the longest prefix in (logged_at, id) order of at most max_bytes (at least one entry), whatever order they come in.';
