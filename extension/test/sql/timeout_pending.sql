\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- timeout_pending(): entries begun and never completed reach the log as timeout.
SELECT auditlog.begin(operation => 'upload.large', details => '{"bytes": 1}') AS old1 \gset
SELECT auditlog.begin(operation => 'upload.large') AS old2 \gset
SELECT auditlog.begin(operation => 'upload.large') AS old3 \gset
SELECT auditlog.begin(operation => 'upload.small') AS young \gset

-- Nothing is old enough at the default of 4 hours.
SELECT auditlog.timeout_pending() AS timed_out;

-- Pretend the first three began hours ago (pending rows are not the log:
-- the superuser may change them).
UPDATE auditlog.pending SET started_at = started_at - interval '6 hours' WHERE id = :'old1';
UPDATE auditlog.pending SET started_at = started_at - interval '5 hours' WHERE id = :'old2';
UPDATE auditlog.pending SET started_at = started_at - interval '4 hours 1 minute' WHERE id = :'old3';

-- Oldest first, at most max_rows.
BEGIN;
SELECT auditlog.timeout_pending(max_rows => 2) AS timed_out;
SELECT id = :'old1' OR id = :'old2' AS oldest_two, result, details
FROM auditlog.entry WHERE operation = 'upload.large' ORDER BY started_at;
COMMIT;
SELECT auditlog.timeout_pending(max_rows => 2) AS timed_out;
SELECT auditlog.timeout_pending() AS timed_out;

SELECT id = :'old3' AS third, result, started_at < logged_at AS started_before
FROM auditlog.entry WHERE id = :'old3';
SELECT id = :'young' AS young_still_pending FROM auditlog.pending;

-- A late complete() of a timed out entry returns false and changes nothing.
SELECT auditlog.complete(:'old1', 'success') AS late;
SELECT result FROM auditlog.entry WHERE id = :'old1';
SELECT count(*) AS copies FROM auditlog.entry WHERE id IN (:'old1', :'old2', :'old3');

-- The young entry can still complete.
SELECT auditlog.complete(:'young', 'success') AS young_completed;
