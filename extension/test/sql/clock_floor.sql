\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- logged_at never falls below the clock floor (auditlog.clock_floor, raised by
-- tick() in the export): when the server clock is behind, the floor decides.
-- The floor is in microseconds since 2000-01-01 UTC.
SET client_min_messages = warning;
SELECT auditlog.ensure_partitions(3) >= 0 AS partitions_ahead;
RESET client_min_messages;
SELECT setval('auditlog.clock_floor', auditlog_internal.clock_floor_value(now() + interval '2 days')) \gset
SELECT auditlog.record(operation => 'floor.record') AS id \gset
SELECT auditlog.begin(operation => 'floor.begin') AS begun \gset
SELECT auditlog.complete(:'begun', 'success') AS completed;

SELECT operation,
       logged_at = auditlog_internal.clock_floor_time() AS at_floor,
       logged_at > clock_timestamp() AS ahead_of_clock,
       started_at <= logged_at AS started_first,
       tableoid::regclass::text = 'auditlog.entry_p' || to_char(logged_at AT TIME ZONE 'UTC', 'YYYYMMDD') AS in_its_day
FROM auditlog.entry WHERE operation LIKE 'floor.%' ORDER BY operation;

-- A floor in the past changes nothing: the clock decides.
SELECT setval('auditlog.clock_floor', 0) AS reset;
BEGIN;
SELECT auditlog.record(operation => 'floor.past') AS id2 \gset
SELECT logged_at BETWEEN now() AND clock_timestamp() AS clock_decides FROM auditlog.entry WHERE id = :'id2';
COMMIT;
