\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- ensure_partitions(): day partitions made ahead, strays moved out of DEFAULT.
-- (Its notices name days, which change with the date.)
SET client_min_messages = warning;
SELECT auditlog.ensure_partitions() AS made;
RESET client_min_messages;
SELECT auditlog.ensure_partitions() AS made_again;

-- Today and the next 7 UTC days, each exactly one day from UTC midnight.
SELECT count(*) AS days,
       bool_and(range_end - range_start = interval '1 day') AS one_day_each,
       bool_and(extract(hour FROM range_start AT TIME ZONE 'UTC') = 0) AS utc_midnight,
       min(range_start) = auditlog.utc_day(now()) AS from_today,
       max(range_end) = auditlog.utc_day(now()) + interval '8 days' AS to_a_week_ahead
FROM auditlog.partitions;

-- Every new partition refuses TRUNCATE and carries the append-only row
-- trigger, both firing always.
SELECT count(*) FILTER (WHERE t.tgname = 'entry_no_truncate' AND t.tgenabled = 'A') AS truncate_guards,
       count(*) FILTER (WHERE t.tgname = 'entry_append_only' AND t.tgenabled = 'A') AS row_guards
FROM auditlog.partitions p JOIN pg_trigger t ON t.tgrelid = p.partition;

-- Every partition, DEFAULT included, has the primary key (logged_at, id)
-- and the writer_xid index.
SELECT c.relname LIKE 'entry_p%' OR c.relname = 'entry_default' AS is_partition,
       count(*) AS partitions,
       bool_and(EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p'
                          AND pg_get_constraintdef(k.oid) = 'PRIMARY KEY (logged_at, id)')) AS primary_key,
       bool_and(EXISTS (SELECT FROM pg_index i WHERE i.indrelid = c.oid
                          AND pg_get_indexdef(i.indexrelid) LIKE '%USING btree (writer_xid)')) AS writer_index
FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
WHERE h.inhparent = 'auditlog.entry'::regclass
GROUP BY 1;

-- A stray: an entry (written here by the superuser, bypassing the
-- functions) for a day with no partition lands in DEFAULT.
INSERT INTO auditlog.entry (id, logged_at, started_at, operation, actor_id, result, details, writer_xid)
VALUES ('01890000-0000-7000-8000-000000000001', now() - interval '20 days', now() - interval '20 days 1 hour',
        'stray.entry', 'u-7', 'error', '{"k": "v"}', pg_current_xact_id());
CREATE TEMP TABLE stray AS SELECT to_jsonb(e) AS row FROM auditlog.entry e WHERE operation = 'stray.entry';
SELECT default_partition_rows FROM auditlog.health;

-- ensure_partitions() makes its day and moves it there, every column preserved.
SET client_min_messages = warning;
SELECT auditlog.ensure_partitions() AS made;
RESET client_min_messages;
SELECT default_partition_rows FROM auditlog.health;
SELECT e.tableoid::regclass::text = 'auditlog.entry_p' || to_char(now() AT TIME ZONE 'UTC' - interval '20 days', 'YYYYMMDD') AS in_its_day,
       to_jsonb(e) = s.row AS unchanged
FROM auditlog.entry e, stray s WHERE e.operation = 'stray.entry';
