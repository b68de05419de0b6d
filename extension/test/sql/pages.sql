\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- next_page() and ack(): exact, bounded, pinned pages of one stream and one
-- UTC day each.
SET client_min_messages = warning;
SELECT auditlog.ensure_partitions(2) >= 0 AS partitions;
RESET client_min_messages;
SELECT auditlog.create_sink('pages', 'file:///srv/audit') AS created;

SELECT count(auditlog.record(operation => 'page.audit', actor_id => 'u-' || n, details => jsonb_build_object('n', n)))
FROM generate_series(1, 5) AS n;
SELECT count(auditlog.record(operation => 'page.scim', stream => 'scim', actor_id => 'idp')) FROM generate_series(1, 2);
-- Two entries on tomorrow (UTC): the clock floor is ahead of the clock.
SELECT setval('auditlog.clock_floor', auditlog_internal.clock_floor_value(auditlog.utc_day(now()) + interval '1 day 1 hour')) IS NOT NULL AS floor_set;
SELECT count(auditlog.record(operation => 'page.tomorrow')) FROM generate_series(1, 2);
SELECT setval('auditlog.clock_floor', 0) AS floor_reset;

-- The first page: stream audit, today, at most 3 rows.
CREATE TEMP TABLE first_page AS SELECT * FROM auditlog.next_page('pages', max_rows => 3);
SELECT stream, day = (now() AT TIME ZONE 'UTC')::date AS today, rows,
       object_key = format('audit/dt=%s/pages-%s.ndjson.gz', to_char(day, 'YYYY-MM-DD'), page_id) AS key_format,
       sha256 = encode(sha256(convert_to(body, 'UTF8')), 'hex') AS sha256_of_body,
       first_logged_at <= last_logged_at AS ordered,
       right(body, 1) = E'\n' AS newline_terminated,
       array_length(regexp_split_to_array(rtrim(body, E'\n'), E'\n'), 1) AS lines
FROM first_page;

-- Each line is an entry: the columns by name, writer_xid left out, UTC times.
SELECT line->>'operation' AS operation, line->'details' AS details,
       json_object_keys_list = 'id,stream,logged_at,started_at,operation,actor_type,actor_id,tenant_id,resource_type,resource_id,request_id,request_uri,source_ip,user_agent,auth_method,credential_id,result,http_status,error_code,error_message,details' AS all_columns,
       line->>'logged_at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$' AS utc_time
FROM first_page, LATERAL (SELECT l::json AS line FROM regexp_split_to_table(rtrim(body, E'\n'), E'\n') AS l) AS lines,
     LATERAL (SELECT string_agg(k, ',') AS json_object_keys_list FROM json_object_keys(line) AS k) AS keys
ORDER BY line->>'logged_at';

-- The C renderer writes exactly what to_json() writes for the same columns,
-- for the awkward strings too.
SELECT auditlog.record(operation => E'q"b\\n\n\t\x01\u00e9\u20ac', user_agent => '</script>',
                       details => '{"nested": {"a": [1, "two", null]}}') AS awkward \gset
SELECT auditlog.ndjson_line(e) = (
         SELECT to_json(x)::text FROM (
           SELECT e.id, e.stream, to_char(e.logged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS logged_at,
                  to_char(e.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS started_at,
                  e.operation, e.actor_type, e.actor_id, e.tenant_id, e.resource_type, e.resource_id, e.request_id,
                  e.request_uri, e.source_ip::text AS source_ip, e.user_agent, e.auth_method, e.credential_id, e.result,
                  e.http_status, e.error_code, e.error_message, e.details) AS x) AS same_as_to_json,
       (auditlog.ndjson_line(e)::json->>'operation') = e.operation AS round_trips
FROM auditlog.entry e WHERE e.id = :'awkward';

-- Until acknowledged, the same page comes back: same id, key and body,
-- whatever max_rows or TimeZone say.
SET TimeZone = 'Asia/Kolkata';
SELECT p.page_id = f.page_id AS same_id, p.object_key = f.object_key AS same_key,
       p.body = f.body AS same_body, p.rows AS rows, p.first_logged_at = f.first_logged_at AS same_first
FROM auditlog.next_page('pages', max_rows => 1) p, first_page f;
RESET TimeZone;

-- ack is compare-and-set on the page in flight.
\set VERBOSITY terse
SELECT auditlog.ack('pages', '00000000-0000-7000-8000-000000000000');
SELECT auditlog.ack('pages', NULL);
\set VERBOSITY default
SELECT auditlog.ack('pages', page_id) AS acked FROM first_page;
SET client_min_messages = warning;  -- the notice names the page
SELECT auditlog.ack('pages', page_id) AS acked_again FROM first_page;
RESET client_min_messages;

-- The rest: audit today (2 left), then scim today, then audit tomorrow.
CREATE TEMP TABLE pages_seen AS SELECT 1 AS n, * FROM first_page;
DO $$
DECLARE p auditlog.page_out; n int := 1;
BEGIN
  LOOP
    SELECT * INTO p FROM auditlog.next_page('pages', max_rows => 3);
    EXIT WHEN NOT FOUND;
    n := n + 1;
    INSERT INTO pages_seen SELECT n, p.*;
    PERFORM auditlog.ack('pages', p.page_id);
  END LOOP;
END
$$;
SELECT n, stream, day - (now() AT TIME ZONE 'UTC')::date AS days_from_today, rows FROM pages_seen ORDER BY n;
-- Every entry written since the sink was created, exactly once.
SELECT count(*) AS exported, count(DISTINCT line::json->>'id') AS distinct_ids
FROM pages_seen, regexp_split_to_table(rtrim(body, E'\n'), E'\n') AS line;

-- The chain: each acknowledged page records its predecessor's hash.
SELECT bool_and(p.prev_sha256 IS NOT DISTINCT FROM (SELECT q.sha256 FROM auditlog.page q WHERE q.sink = p.sink
                                                     AND q.acked_at < p.acked_at ORDER BY q.acked_at DESC LIMIT 1)) AS chained,
       count(*) FILTER (WHERE p.prev_sha256 IS NULL) AS chain_starts
FROM auditlog.page p WHERE p.sink = 'pages';
SELECT pages_acked, rows_acked, page_in_flight IS NULL AS nothing_in_flight FROM auditlog.sink_status WHERE sink = 'pages';

-- Up to date: no row.
SELECT count(*) AS pages FROM auditlog.next_page('pages');

-- Filters: stream, tenant, operation prefix.
SELECT auditlog.create_sink('scim-acme', 'gs://acme-audit/scim', stream => 'scim', tenant_id => 'acme',
                            operation_prefix => 'user.') AS created;
SELECT auditlog.record(operation => 'user.create', stream => 'scim', tenant_id => 'acme') IS NOT NULL,
       auditlog.record(operation => 'group.create', stream => 'scim', tenant_id => 'acme') IS NOT NULL,
       auditlog.record(operation => 'user.create', stream => 'scim', tenant_id => 'other') IS NOT NULL,
       auditlog.record(operation => 'user.create', tenant_id => 'acme') IS NOT NULL;
SELECT stream, rows, body::json->>'operation' AS operation, body::json->>'tenant_id' AS tenant
FROM auditlog.next_page('scim-acme');

-- The chain is in the order of acked_at, which only grows for a sink even
-- when the clock steps back (here: the last page looks acknowledged tomorrow).
SELECT auditlog.ack('scim-acme', page_id) FROM auditlog.next_page('scim-acme');
UPDATE auditlog.page SET acked_at = now() + interval '1 day'
WHERE sink = 'scim-acme' AND acked_at = (SELECT max(acked_at) FROM auditlog.page WHERE sink = 'scim-acme');
SELECT auditlog.record(operation => 'user.update', stream => 'scim', tenant_id => 'acme') IS NOT NULL AS recorded;
SELECT auditlog.ack('scim-acme', page_id) FROM auditlog.next_page('scim-acme');
SELECT count(*) AS acked_after_the_stepped_clock,
       (array_agg(prev_sha256 ORDER BY acked_at DESC))[1] = (array_agg(sha256 ORDER BY acked_at DESC))[2] AS chained
FROM auditlog.page WHERE sink = 'scim-acme' AND acked_at > clock_timestamp() + interval '23 hours';

-- Bad input.
\set VERBOSITY terse
SELECT * FROM auditlog.next_page('pages', max_rows => 0);
SELECT * FROM auditlog.next_page('pages', max_rows => 1000000);
SELECT * FROM auditlog.next_page('pages', max_rows => NULL);
BEGIN;
SELECT count(*) FROM auditlog.next_page('pages');
ROLLBACK;
BEGIN;
SELECT auditlog.ack('pages', '00000000-0000-7000-8000-000000000000');
ROLLBACK;
\set VERBOSITY default

SELECT auditlog.drop_sink('pages'), auditlog.drop_sink('scim-acme');
