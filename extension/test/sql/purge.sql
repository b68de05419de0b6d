\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- purge(): whole partitions past retention are dropped; today's never.
INSERT INTO auditlog.entry (id, logged_at, started_at, operation, result, writer_xid)
SELECT ('01890000-0000-7000-8000-00000000010' || n)::uuid, now() - make_interval(days => d), now() - make_interval(days => d),
       'old.entry', 'success', pg_current_xact_id()
FROM (VALUES (1, 100), (2, 95), (3, 10)) AS v(n, d);
SELECT auditlog.record(operation => 'todays.entry') IS NOT NULL AS recorded;
SET client_min_messages = warning;
SELECT auditlog.ensure_partitions() AS made;
RESET client_min_messages;
SELECT count(*) AS old_entries FROM auditlog.entry WHERE operation = 'old.entry';

SELECT count(*) AS partitions_before FROM auditlog.partitions \gset
SELECT auditlog.purge() AS dropped;
SELECT count(*) AS old_entries FROM auditlog.entry WHERE operation = 'old.entry';
SELECT :partitions_before - count(*) AS fewer_partitions FROM auditlog.partitions;
SELECT min(range_start) > now() - interval '90 days' AS nothing_past_retention FROM auditlog.partitions;

-- A short retention drops every past day, never today's or later.
SELECT auditlog.purge('1 microsecond') > 0 AS dropped_past_days;
SELECT min(range_start) = auditlog.utc_day(now()) AS today_kept FROM auditlog.partitions;
SELECT auditlog.purge('1 microsecond') AS dropped_again;
SELECT count(*) > 0 AS todays_entries_kept FROM auditlog.entry WHERE logged_at >= auditlog.utc_day(now());

-- Bad retention periods change nothing.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT auditlog.purge('0 days');
SELECT auditlog.purge('-1 day');
SELECT auditlog.purge(NULL);
