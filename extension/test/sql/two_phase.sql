\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- Two-phase commit: entries written in a prepared transaction reach the log
-- when it commits, once; a prepared complete() keeps timeout_pending() away.
SELECT auditlog.begin(operation => '2pc.entry') AS id \gset
UPDATE auditlog.pending SET started_at = started_at - interval '5 hours' WHERE id = :'id';

BEGIN;
SELECT auditlog.complete(:'id', 'success') AS completed;
SELECT auditlog.record(operation => '2pc.record') IS NOT NULL AS recorded;
PREPARE TRANSACTION 'auditlog_2pc';

-- The prepared transaction holds the pending row: timeout_pending() skips it.
SELECT auditlog.timeout_pending() AS timed_out;
SELECT count(*) AS visible_before_commit FROM auditlog.entry WHERE operation LIKE '2pc.%';
-- health names what holds the settled horizon back.
SELECT oldest_transaction LIKE 'prepared transaction ''auditlog_2pc'' since %' AS names_prepared FROM auditlog.health;

COMMIT PREPARED 'auditlog_2pc';
SELECT operation, result, count(*) FROM auditlog.entry WHERE operation LIKE '2pc.%'
GROUP BY operation, result ORDER BY operation;
SELECT count(*) AS still_pending FROM auditlog.pending WHERE id = :'id';

-- A prepared complete() that is rolled back leaves the entry pending, and
-- timeout_pending() then logs it.
SELECT auditlog.begin(operation => '2pc.rolled_back') AS id2 \gset
BEGIN;
SELECT auditlog.complete(:'id2', 'success') AS completed;
PREPARE TRANSACTION 'auditlog_2pc_rollback';
ROLLBACK PREPARED 'auditlog_2pc_rollback';
SELECT count(*) AS logged FROM auditlog.entry WHERE id = :'id2';
UPDATE auditlog.pending SET started_at = started_at - interval '5 hours' WHERE id = :'id2';
SELECT auditlog.timeout_pending() AS timed_out;
SELECT result, count(*) FROM auditlog.entry WHERE id = :'id2' GROUP BY result;
