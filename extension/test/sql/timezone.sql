\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- UTC everywhere: partition bounds and day boundaries do not follow the
-- session's TimeZone.
SET TimeZone = 'Pacific/Kiritimati';
SELECT auditlog.ensure_partitions() AS made;
SELECT bool_and(extract(hour FROM range_start AT TIME ZONE 'UTC') = 0) AS utc_midnight,
       bool_and(partition_name = 'entry_p' || to_char(range_start AT TIME ZONE 'UTC', 'YYYYMMDD')) AS named_by_utc_day
FROM auditlog.partitions;
SELECT auditlog.utc_day('2026-03-01 01:00:00+14') = '2026-02-28 00:00:00+00' AS utc_day_of_early_morning;

SET TimeZone = 'America/Los_Angeles';
SELECT auditlog.record(operation => 'tz.test') AS id \gset
SELECT tableoid::regclass::text = 'auditlog.entry_p' || to_char(logged_at AT TIME ZONE 'UTC', 'YYYYMMDD') AS in_utc_day
FROM auditlog.entry WHERE id = :'id';
RESET TimeZone;
