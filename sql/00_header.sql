-- auditlog: an append-only, time-partitioned audit log with exactly-once export.
-- Assembled from sql/*.sql by extension/Makefile; edit those files, not this one.
\echo Use "CREATE EXTENSION auditlog" to load this file. \quit

