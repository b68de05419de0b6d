-- auditlog: an append-only, time-partitioned audit log with exactly-once export.
-- Assembled from sql/*.sql by extension/Makefile; edit those files, not this one.
\echo Use "CREATE EXTENSION auditlog" to load this file. \quit


-- Two schemas. auditlog holds what DBAs and applications use: the log, its
-- views and tables, and the functions the README documents (\df auditlog.*).
-- auditlog_internal holds the helpers those are built from, which nobody
-- calls on their own; each one's comment starts with "Internal".
CREATE SCHEMA auditlog_internal;
COMMENT ON SCHEMA auditlog_internal IS
  'The helpers auditlog''s functions are built from; not to be called on their own. Use the functions in schema auditlog.';
