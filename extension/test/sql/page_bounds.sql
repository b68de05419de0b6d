\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- Every kind of page (a sink's, a backfill's, an export job's part, NDJSON
-- or CSV) is bounded by its rendered bytes, 16 MiB, whatever max_rows says:
-- here with the worst entries there are (control characters, which NDJSON
-- writes as \u00XX, six bytes each; details given to begin() and more to
-- complete(), merged), each of them hundreds of KB as NDJSON, so that 10,000
-- of them would be gigabytes. Each page holds at least one entry, pages
-- hold every entry exactly once, and a pinned page handed out again is the
-- same, byte for byte.
SET client_min_messages = warning;
SELECT auditlog.ensure_partitions(1) >= 0 AS partitions;
RESET client_min_messages;
SELECT auditlog.create_sink('worst', 'file:///srv/worst', operation_prefix => 'worst.') AS created;
CREATE TEMP TABLE since AS SELECT clock_timestamp() AS at;
-- 40 entries with 65,000 control characters as their user agent (390 KB of
-- NDJSON each, 65 KB of CSV), 40 begun with 30,000 in their details and
-- completed with 30,000 more (360 KB either way): 30 MB of NDJSON in all,
-- 17 MB of CSV.
SELECT count(auditlog.record(operation => 'worst.agent', stream => 'worst', user_agent => repeat(chr(1), 65000)))
FROM generate_series(1, 40);
SELECT count(*) FILTER (WHERE auditlog.complete(id, 'success', details => jsonb_build_object('completed', repeat(chr(1), 30000))))
FROM (SELECT auditlog.begin(operation => 'worst.begun', stream => 'worst',
                            details => jsonb_build_object('begun', repeat(chr(1), 30000))) AS id
      FROM generate_series(1, 40)) AS begun;
SELECT auditlog.tick() IS NOT NULL AS ticked;

CREATE TEMP TABLE handed_out (kind text, n int, page_id uuid, rows int, bytes int, ids uuid[], same_again boolean);
-- The ids in a body, from the start of each line (the id opens an NDJSON
-- line, and is the first cell of a CSV line).
CREATE FUNCTION pg_temp.ids(body text, header boolean) RETURNS uuid[] LANGUAGE sql AS $$
  SELECT array(SELECT substr(l, CASE WHEN l LIKE '{%' THEN 8 ELSE 1 END, 36)::uuid
               FROM string_to_table(rtrim(body, E'\n'), E'\n') WITH ORDINALITY AS t(l, i)
               WHERE NOT (header AND i = 1))
$$;

-- The sink's pages.
DO $$
DECLARE p auditlog.page_out; again auditlog.page_out;
BEGIN
  FOR n IN 1..10 LOOP
    SELECT * INTO p FROM auditlog.next_page('worst', 10000);
    EXIT WHEN NOT FOUND;
    SELECT * INTO again FROM auditlog.next_page('worst', 1);
    INSERT INTO handed_out VALUES ('sink', n, p.page_id, p.rows, octet_length(p.body), pg_temp.ids(p.body, false),
                                   again = p);
    PERFORM auditlog.ack('worst', p.page_id);
  END LOOP;
END
$$;

-- A backfill of the same window.
SELECT auditlog.start_backfill('worst', (SELECT at FROM since), auditlog.settled_horizon()) AS backfill \gset
CREATE FUNCTION pg_temp.run_backfill(backfill bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE p auditlog.page_out; again auditlog.page_out;
BEGIN
  FOR n IN 1..10 LOOP
    SELECT * INTO p FROM auditlog.backfill_next_page(backfill, 10000);
    EXIT WHEN NOT FOUND;
    SELECT * INTO again FROM auditlog.backfill_next_page(backfill, 1);
    INSERT INTO handed_out VALUES ('backfill', n, p.page_id, p.rows, octet_length(p.body), pg_temp.ids(p.body, false),
                                   again = p);
    PERFORM auditlog.backfill_ack(backfill, p.page_id);
  END LOOP;
END
$$;
SELECT pg_temp.run_backfill(:backfill);
SELECT status, rows_exported FROM auditlog.backfill_status WHERE backfill_id = :backfill;

-- Export jobs of the stream, as NDJSON and as CSV (whose header opens the
-- first part and counts towards its bytes).
CREATE FUNCTION pg_temp.run_export(format text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  job bigint := auditlog.request_export('worst', (SELECT at FROM since), auditlog.settled_horizon(), NULL, 'tester', format);
  claim auditlog.export_claim;
  p auditlog.export_page;
  again auditlog.export_page;
BEGIN
  SELECT * INTO claim FROM auditlog.claim_export('worker');
  FOR n IN 1..10 LOOP
    SELECT * INTO p FROM auditlog.export_next_page(job, claim.lease_token, 10000);
    SELECT * INTO again FROM auditlog.export_next_page(job, claim.lease_token, 1);
    INSERT INTO handed_out VALUES ('export ' || format, n, p.page_id, p.rows, octet_length(p.body),
                                   pg_temp.ids(p.body, format = 'csv' AND n = 1),
                                   again = p
                                   AND (format <> 'csv' OR (n = 1) = starts_with(p.body, auditlog.csv_header() || E'\n')));
    PERFORM auditlog.ack_export_page(job, claim.lease_token, p.page_id);
    EXIT WHEN p.final;
  END LOOP;
END
$$;
SELECT pg_temp.run_export('ndjson.gz');
SELECT pg_temp.run_export('csv');

-- Several pages of each kind, each at most 16 MiB and at least one entry.
SELECT kind, count(*) AS pages, sum(rows) AS entries, min(rows) >= 1 AS never_empty,
       max(bytes) <= 16 * 1024 * 1024 AS within_16_mib, max(bytes) > 15 * 1024 * 1024 AS filled,
       bool_and(same_again) AS handed_out_again_identical
FROM handed_out GROUP BY kind ORDER BY kind;
-- Every entry exactly once in each kind's pages.
SELECT kind, count(*) = 80 AS each_once, count(DISTINCT id) = 80 AS no_repeat,
       bool_and(id IN (SELECT e.id FROM auditlog.entry e WHERE e.stream = 'worst' AND e.logged_at >= (SELECT at FROM since))) AS all_of_the_stream
FROM handed_out, unnest(ids) AS id GROUP BY kind ORDER BY kind;

-- 3,000 such entries: a page of max_rows 10,000 would be over a gigabyte
-- (more than a text can hold). The first page of each kind is 16 MiB at most.
TRUNCATE handed_out;
UPDATE since SET at = clock_timestamp();
SELECT count(auditlog.record(operation => 'worst.agent', stream => 'worst', user_agent => repeat(chr(1), 65000)))
FROM generate_series(1, 3000);
SELECT auditlog.tick() IS NOT NULL AS ticked;
SELECT auditlog.start_backfill('worst', (SELECT at FROM since), auditlog.settled_horizon()) AS backfill \gset
SELECT auditlog.request_export('worst', (SELECT at FROM since), auditlog.settled_horizon(), NULL, 'tester', 'csv') AS job \gset
SELECT lease_token AS token FROM auditlog.claim_export('worker') \gset
SELECT 'sink' AS kind, rows >= 1 AS some_entries, octet_length(body) <= 16 * 1024 * 1024 AS within_16_mib
FROM auditlog.next_page('worst', 10000)
UNION ALL
SELECT 'backfill', rows >= 1, octet_length(body) <= 16 * 1024 * 1024 FROM auditlog.backfill_next_page(:backfill, 10000)
UNION ALL
SELECT 'export csv', rows >= 1, octet_length(body) <= 16 * 1024 * 1024 FROM auditlog.export_next_page(:job, :'token', 10000);

SELECT auditlog.cancel_export(:job) AS cancelled;
SELECT auditlog.cancel_backfill(:backfill) AS cancelled;
SET client_min_messages = warning;
SELECT auditlog.drop_sink('worst');
