\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- The one renderer of pages, as every page is rendered: the query that
-- render_query(query, format, max_bytes, head) writes, run. (The C edition
-- renders with the aggregate render_entries(), the SQL edition with window
-- functions; this file is the same for both.) The same lines as ndjson_line()
-- and entry_csv(); the longest prefix in (logged_at, id) order whose body is
-- at most max_bytes, never less than one entry; and the same result whatever
-- order the query yields its rows in.
SET jit = off;  -- many small queries: compiling them would be most of the time
CREATE FUNCTION pg_temp.render(query text, format text, max_bytes int, head text)
RETURNS auditlog.rendered_page LANGUAGE plpgsql AS $$
DECLARE
  r auditlog.rendered_page;
BEGIN
  EXECUTE auditlog_internal.render_query(query, format, max_bytes, head) INTO STRICT r;
  RETURN r;
END
$$;
CREATE TEMP TABLE some_entries (LIKE auditlog.entry);
-- 60 entries of very different sizes, two of them sharing a logged_at.
INSERT INTO some_entries (id, stream, logged_at, started_at, operation, user_agent, result, http_status, details, writer_xid)
SELECT ('018f0000-0000-7000-8000-' || lpad(to_hex(n * 7919 % 1000), 12, '0'))::uuid, 'audit',
       '2024-05-01 00:00:00+00'::timestamptz + make_interval(secs => n - CASE WHEN n = 31 THEN 1 ELSE 0 END),
       '2024-05-01 00:00:00+00', 'render.' || n, repeat(chr(1 + n % 30), (n * 937) % 3000), 'success', 200 + n,
       jsonb_build_object('n', n, 'text', repeat('x,"y"', n % 7)), n::text::xid8
FROM generate_series(1, 60) AS n;
-- The lines in key order, with the body's length up to each.
CREATE TEMP TABLE ordered_lines AS
SELECT e.id, e.logged_at, row_number() OVER w AS n,
       auditlog.ndjson_line(ROW(e.*)::auditlog.entry) AS ndjson, auditlog.entry_csv(ROW(e.*)::auditlog.entry) AS csv,
       sum(octet_length(auditlog.ndjson_line(ROW(e.*)::auditlog.entry)) + 1) OVER w AS ndjson_upto,
       sum(octet_length(auditlog.entry_csv(ROW(e.*)::auditlog.entry)) + 1) OVER w AS csv_upto
FROM some_entries e WINDOW w AS (ORDER BY e.logged_at, e.id);

-- Unbounded: every line, in key order, each ending in a newline; the keys of
-- the first and the last.
SELECT (r).rows, (r).first_logged_at = '2024-05-01 00:00:01+00' AND (r).first_id = (SELECT id FROM ordered_lines WHERE n = 1) AS first_key,
       (r).last_id = (SELECT id FROM ordered_lines WHERE n = 60) AS last_key,
       (r).body = (SELECT string_agg(ndjson, E'\n' ORDER BY n) || E'\n' FROM ordered_lines) AS same_as_ndjson_line
FROM (SELECT pg_temp.render('SELECT * FROM some_entries', 'ndjson', NULL, NULL) AS r) x;
SELECT (r).rows,
       (r).body = 'head,er' || E'\n' || (SELECT string_agg(csv, E'\n' ORDER BY n) || E'\n' FROM ordered_lines) AS same_as_entry_csv
FROM (SELECT pg_temp.render('SELECT * FROM some_entries', 'csv', NULL, E'head,er\n') AS r) x;

-- Bounded: exactly the longest prefix that fits (the CSV head counted), at
-- least one entry, whatever order the rows come in (forced here with the
-- query's ORDER BY: ascending, descending, and two shuffles), and bounds
-- met to the byte.
CREATE TEMP TABLE bounds AS
SELECT unnest(ARRAY[1, 5000, 7000, 12000, 20000, 40000, 65000, 200000, 1000000]) AS max_bytes
UNION SELECT ndjson_upto::int + d FROM ordered_lines, (VALUES (-1), (0), (1)) AS v(d) WHERE n IN (2, 17)
UNION SELECT (csv_upto + octet_length(auditlog.csv_header()) + 1)::int + d FROM ordered_lines, (VALUES (-1), (0), (1)) AS v(d) WHERE n IN (3, 41);
CREATE TEMP TABLE rendered AS
SELECT b.max_bytes, f.format, o.feed, pg_temp.render('SELECT * FROM some_entries e ORDER BY ' || o.order_by, f.format, b.max_bytes, f.head) AS r
FROM bounds b,
     (VALUES ('ndjson', NULL), ('csv', auditlog.csv_header() || E'\n')) AS f(format, head),
     (VALUES ('ascending', 'e.logged_at, e.id'), ('descending', 'e.logged_at DESC, e.id DESC'),
             ('shuffled', 'md5(e.id::text)'), ('shuffled again', 'e.http_status % 7, e.operation DESC')) AS o(feed, order_by);
SELECT max_bytes, format, count(DISTINCT r) AS results, min((r).rows) AS rows,
       bool_and(octet_length((r).body) <= max_bytes OR (r).rows = 1) AS within_bound,
       bool_and((r).rows = greatest(1, (SELECT count(*) FROM ordered_lines l
                                          WHERE CASE format WHEN 'csv' THEN l.csv_upto + octet_length(auditlog.csv_header()) + 1
                                                            ELSE l.ndjson_upto END <= max_bytes))) AS longest_prefix,
       bool_and((r).last_id = (SELECT id FROM ordered_lines l WHERE l.n = (r).rows)) AS last_key
FROM rendered GROUP BY max_bytes, format ORDER BY format, max_bytes;

-- Nothing to render: no rows and no body.
SELECT * FROM pg_temp.render('SELECT * FROM some_entries WHERE false', 'ndjson', 100, NULL);
SELECT * FROM pg_temp.render('SELECT * FROM some_entries WHERE false', 'csv', NULL, E'head\n');
-- Bad arguments: an error at the first entry (none, no error).
\set VERBOSITY terse
SELECT * FROM pg_temp.render('SELECT * FROM some_entries', 'xml', NULL, NULL);
SELECT * FROM pg_temp.render('SELECT * FROM some_entries', 'ndjson', 0, NULL);
SELECT * FROM pg_temp.render('SELECT * FROM some_entries', NULL, 100, NULL);
SELECT rows FROM pg_temp.render('SELECT * FROM some_entries WHERE false', 'xml', 0, NULL);
-- Entries without their key, or twice.
SELECT * FROM pg_temp.render('SELECT id, stream, NULL::timestamptz, started_at, operation, actor_type, actor_id, tenant_id, resource_type, resource_id, request_id, request_uri, source_ip, user_agent, auth_method, credential_id, result, http_status, error_code, error_message, details, writer_xid FROM some_entries', 'ndjson', NULL, NULL);
SELECT * FROM pg_temp.render('SELECT * FROM some_entries UNION ALL (SELECT * FROM some_entries ORDER BY logged_at, id LIMIT 1)', 'csv', NULL, NULL);
\set VERBOSITY default
RESET jit;
