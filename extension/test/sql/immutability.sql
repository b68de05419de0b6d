\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- The log is append-only for everyone, its owner (here a superuser) included.
SELECT auditlog.ensure_partitions(1) AS made;
SELECT auditlog.record(operation => 'immutable.test') AS id \gset
-- terse: the detail names the day's partition, which changes with the date.
\set VERBOSITY terse

UPDATE auditlog.entry SET operation = 'tampered' WHERE id = :'id';
DELETE FROM auditlog.entry WHERE id = :'id';
TRUNCATE auditlog.entry;

-- Partitions directly: the day partition and DEFAULT.
SELECT partition AS today FROM auditlog.partitions WHERE range_start <= now() AND range_end > now() \gset
UPDATE :today SET result = 'error' WHERE id = :'id';
DELETE FROM :today WHERE id = :'id';
TRUNCATE :today;
-- A stray in DEFAULT (written by the superuser, bypassing the functions;
-- the next ensure_partitions() would move it into its day).
INSERT INTO auditlog.entry (id, logged_at, started_at, operation, result, writer_xid)
VALUES ('01890000-0000-7000-8000-000000000009', now() + interval '5 days', now() + interval '5 days',
        'stray.future', 'success', pg_current_xact_id());
SELECT tableoid::regclass AS lands_in FROM auditlog.entry WHERE operation = 'stray.future';
DELETE FROM auditlog.entry_default;
TRUNCATE auditlog.entry_default;

-- A session setting cannot open it.
SET session_replication_role = 'replica';
DELETE FROM auditlog.entry WHERE id = :'id';
TRUNCATE :today;
RESET session_replication_role;

-- The entry is untouched.
SELECT operation, result FROM auditlog.entry WHERE id = :'id';
