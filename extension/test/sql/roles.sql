\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- Roles: writers write, readers read, admins maintain; PUBLIC gets nothing.
SELECT auditlog.ensure_partitions(1) AS made;
SET client_min_messages = warning;
DROP ROLE IF EXISTS test_writer, test_reader, test_admin, test_nobody;
RESET client_min_messages;
CREATE ROLE test_writer IN ROLE auditlog_writer;
CREATE ROLE test_reader IN ROLE auditlog_reader;
CREATE ROLE test_admin IN ROLE auditlog_admin;
CREATE ROLE test_nobody;
\set VERBOSITY default

SET ROLE test_writer;
SELECT auditlog.record(operation => 'role.writer') IS NOT NULL AS recorded;
SELECT auditlog.complete(auditlog.begin(operation => 'role.writer'), 'success') AS completed;
SELECT count(*) FROM auditlog.entry;
INSERT INTO auditlog.entry (id, logged_at, started_at, operation, result, writer_xid)
VALUES (gen_random_uuid(), now(), now(), 'forged', 'success', '1');
SELECT auditlog.timeout_pending();
SELECT auditlog.purge();
RESET ROLE;

SET ROLE test_reader;
SELECT count(*) > 0 AS can_read FROM auditlog.entry WHERE operation = 'role.writer';
SELECT pending_count >= 0 AS can_read_health FROM auditlog.health;
SELECT auditlog.record(operation => 'role.reader');
RESET ROLE;

SET ROLE test_admin;
SELECT auditlog.timeout_pending() >= 0 AS can_time_out;
SELECT auditlog.ensure_partitions() >= 0 AS can_make_partitions;
SELECT auditlog.purge() >= 0 AS can_purge;
SELECT auditlog.record(operation => 'role.admin') IS NOT NULL AS admin_records;
RESET ROLE;

SET ROLE test_nobody;
SELECT auditlog.record(operation => 'role.nobody');
SELECT count(*) FROM auditlog.entry;
RESET ROLE;

SELECT operation, count(*) FROM auditlog.entry WHERE operation LIKE 'role.%' OR operation = 'forged'
GROUP BY operation ORDER BY operation;

DROP ROLE test_writer, test_reader, test_admin, test_nobody;
