\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- A cluster that receives auditlog.entry by logical replication must not
-- tick or page: the replicated entries carry the publisher's xids.
SET client_min_messages = warning;
DROP DATABASE IF EXISTS auditlog_publisher;
RESET client_min_messages;
CREATE DATABASE auditlog_publisher;
\c auditlog_publisher
SET client_min_messages = error;
CREATE EXTENSION auditlog;
CREATE PUBLICATION auditlog_entries FOR TABLE auditlog.entry WITH (publish_via_partition_root = true);
RESET client_min_messages;
\c contrib_regression
SET client_min_messages = error;
DO $$
BEGIN
  EXECUTE format('CREATE SUBSCRIPTION auditlog_entries CONNECTION %L PUBLICATION auditlog_entries'
                 ' WITH (create_slot = false, enabled = false, slot_name = NONE)',
                 format('host=127.0.0.1 port=%s dbname=auditlog_publisher user=%s', current_setting('port'), current_user));
END
$$;
RESET client_min_messages;
SELECT count(*) AS subscribed_tables FROM pg_subscription_rel;
\set VERBOSITY terse
SELECT auditlog.tick();
\set VERBOSITY default
DROP SUBSCRIPTION auditlog_entries;
SELECT auditlog.tick() IS NOT NULL AS ticks_again;
DROP DATABASE auditlog_publisher;
