\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- Retention never outruns export: purge() keeps a partition an enabled sink
-- has not exported, says which sink holds it, and drops it once exported.
SELECT auditlog.create_sink('keeper', 'file:///srv/keeper') AS created;
-- Pretend the log was installed and the sink anchored ten days ago, and that
-- it has exported nothing since.
UPDATE auditlog.export_epoch SET epoch = epoch - interval '10 days';
UPDATE auditlog.tick SET taken_at = taken_at - interval '10 days';
SELECT round(extract(epoch FROM now() - exported_before) / 86400) AS days_behind FROM auditlog.sink_status;

-- Days 5 and 3 days ago hold entries (written here by the superuser), at
-- noon UTC of their day: the days are the same whatever the time of day.
INSERT INTO auditlog.entry (id, logged_at, started_at, operation, result, writer_xid)
SELECT ('01890000-0000-7000-8000-00000000020' || d)::uuid, noon, noon, 'retention.old', 'success', pg_current_xact_id()
FROM (VALUES (5), (3)) AS v(d),
     LATERAL (SELECT auditlog.utc_day(now()) - make_interval(days => d) + interval '12 hours' AS noon) AS t;
SET client_min_messages = warning;
SELECT auditlog.ensure_partitions() AS made;
RESET client_min_messages;

SELECT extract(day FROM auditlog.utc_day(now()) - range_start) AS days_ago, held_by
FROM auditlog.purge_preview('1 day') ORDER BY range_start;
SET client_min_messages = warning;  -- the notice names the day
SELECT auditlog.purge('1 day') AS dropped;
RESET client_min_messages;
SELECT count(*) AS old_entries FROM auditlog.entry WHERE operation = 'retention.old';

-- Once the sink has exported, nothing holds the days back. Each call commits
-- on its own; the last one's cursor is past the tick the one before took.
-- (The superuser's two entries carry times from before the pretended anchor,
-- one day each: two pages.)
SELECT page_id, rows FROM auditlog.next_page('keeper') \gset
SELECT :rows AS rows, auditlog.ack('keeper', :'page_id') AS acked;
SELECT page_id, rows FROM auditlog.next_page('keeper') \gset
SELECT :rows AS rows, auditlog.ack('keeper', :'page_id') AS acked;
SELECT count(*) AS pages FROM auditlog.next_page('keeper');
SELECT count(*) AS pages FROM auditlog.next_page('keeper');
SELECT count(*) FILTER (WHERE held_by IS NOT NULL) AS held FROM auditlog.purge_preview('1 day');
SELECT auditlog.purge('1 day') > 0 AS dropped;
SELECT count(*) AS old_entries FROM auditlog.entry WHERE operation = 'retention.old';

-- force => true drops a held day anyway, and the log records it.
UPDATE auditlog.tick SET taken_at = taken_at - interval '10 days';
INSERT INTO auditlog.entry (id, logged_at, started_at, operation, result, writer_xid)
VALUES ('01890000-0000-7000-8000-000000000209', auditlog.utc_day(now()) - interval '4 days' + interval '12 hours',
        auditlog.utc_day(now()) - interval '4 days' + interval '12 hours',
        'retention.forced', 'success', pg_current_xact_id());
SET client_min_messages = error;
SELECT auditlog.ensure_partitions() AS made;
SELECT auditlog.purge('1 day') AS dropped_without_force;
SELECT auditlog.purge('1 day', force => true) AS dropped_with_force;
RESET client_min_messages;
SELECT count(*) AS forced_entries FROM auditlog.entry WHERE operation = 'retention.forced';
SELECT stream, operation, actor_type, resource_type, details->>'held_by' AS held_by, count(*)
FROM auditlog.entry WHERE operation = 'auditlog.purge.forced' GROUP BY 1, 2, 3, 4, 5;

\set VERBOSITY terse
SELECT auditlog.purge('1 day', force => NULL);
\set VERBOSITY default
SELECT auditlog.drop_sink('keeper');
