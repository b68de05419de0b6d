\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- A page holds at most 16 MiB of NDJSON whatever max_rows says, so a page of
-- large entries stays small enough to render, hold and upload; it still
-- holds at least one entry, and its pages together hold every entry once.
SET client_min_messages = warning;
SELECT auditlog.ensure_partitions(1) >= 0 AS partitions;
RESET client_min_messages;
SELECT auditlog.create_sink('big', 'file:///srv/audit', operation_prefix => 'big.') AS created;
-- 300 entries of about 60 KB: 18 MB in all.
SELECT count(auditlog.record(operation => 'big.' || n, details => jsonb_build_object('blob', repeat(md5(n::text), 1900))))
FROM generate_series(1, 300) AS n;

CREATE TEMP TABLE pages (n serial, page_id uuid, rows int, bytes int, ids uuid[], pinned boolean);
DO $$
DECLARE
  p auditlog.page_out;
  again auditlog.page_out;
BEGIN
  FOR i IN 1..10 LOOP
    -- 10000 is first rendered in one pass, 20000 never.
    SELECT * INTO p FROM auditlog.next_page('big', max_rows => CASE WHEN i % 2 = 1 THEN 10000 ELSE 20000 END);
    EXIT WHEN p.page_id IS NULL;
    SELECT * INTO again FROM auditlog.next_page('big', max_rows => 5);
    INSERT INTO pages (page_id, rows, bytes, ids, pinned)
    SELECT p.page_id, p.rows, octet_length(p.body),
           array(SELECT (line::jsonb->>'id')::uuid FROM regexp_split_to_table(rtrim(p.body, E'\n'), E'\n') AS line),
           again = p;
    PERFORM auditlog.ack('big', p.page_id);
  END LOOP;
END
$$;

-- Two pages of at most 16 MiB each where max_rows alone would make one of 18 MB.
SELECT count(*) AS pages, sum(rows) AS entries, bool_and(bytes <= 16 * 1024 * 1024) AS within_16_mib,
       bool_and(pinned) AS handed_out_again_identical
FROM pages;
-- Every entry exactly once.
SELECT count(*) = 300 AS each_once, count(DISTINCT id) = 300 AS no_repeat
FROM pages, unnest(ids) AS id;

SET client_min_messages = warning;
SELECT auditlog.drop_sink('big');
