\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- Session settings never change a result. Functions that build SQL text with
-- times in it (list, pages, backfills, export jobs, retention, status) once
-- printed times with the session's DateStyle and TimeZone and read them back
-- as another zone ('IST' is India's in Asia/Kolkata, Israel's when parsed):
-- list() of the last hour returned nothing and an export job one empty part.
-- Here every one of them runs under hostile settings and must give what it
-- gives under the defaults.
SET client_min_messages = warning;
SELECT auditlog.ensure_partitions() >= 0 AS partitions;

-- The class: every function that writes values into SQL text (format's %L)
-- pins the settings that change how values print. None is missing them.
SELECT p.oid::regprocedure AS builds_sql_text_unpinned
FROM pg_proc p
WHERE p.pronamespace IN ('auditlog'::regnamespace, 'auditlog_internal'::regnamespace) AND p.prokind = 'f' AND pg_get_functiondef(p.oid) LIKE '%\%L%'
  AND NOT coalesce(p.proconfig @> ARRAY['DateStyle=ISO', 'TimeZone=UTC', 'IntervalStyle=postgres'], false)
ORDER BY 1;
SELECT count(*) > 5 AS functions_that_build_sql_text
FROM pg_proc p WHERE p.pronamespace IN ('auditlog'::regnamespace, 'auditlog_internal'::regnamespace) AND p.prokind = 'f' AND pg_get_functiondef(p.oid) LIKE '%\%L%';
SELECT auditlog.create_sink('settings', 'file:///tmp/settings', tenant_id => 'settings-acme');
SELECT count(auditlog.record(operation => 'settings.' || n, tenant_id => 'settings-acme',
                             details => jsonb_build_object('n', n, 'ratio', n / 3.0)))
FROM generate_series(1, 5) AS n;
SELECT auditlog.tick() > 0 AS ticked;
SELECT auditlog.utc_day(now()) AS today, auditlog.settled_horizon() AS horizon \gset
SELECT count(*) AS previewed_by_default FROM auditlog.purge_preview('1 day') \gset

SET DateStyle = 'SQL, DMY';
SET TimeZone = 'Asia/Kolkata';
SET IntervalStyle = 'sql_standard';
SET extra_float_digits = -15;
SET standard_conforming_strings = off;  -- backslashes in literals of function bodies parsed now (none here)
SET search_path = public;

-- A listing of the last hour, of today, keyset-paged.
SELECT count(*) AS listed FROM auditlog.list('audit', now() - interval '1 hour', now() + interval '1 hour',
                                             tenant_id => 'settings-acme');
SELECT count(*) AS listed_today FROM auditlog.list('audit', :'today', :'today'::timestamptz + interval '1 day',
                                                   tenant_id => 'settings-acme');
-- (the key passes through psql as text: printed so any setting reads it back)
SELECT to_char(logged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS second_logged_at, id AS second_id
FROM auditlog.list('audit', :'today', :'horizon', max_rows => 2, tenant_id => 'settings-acme')
ORDER BY logged_at DESC, id DESC LIMIT 1 \gset
SELECT count(*) AS listed_after_key
FROM auditlog.list('audit', :'today', :'horizon', after_logged_at => :'second_logged_at', after_id => :'second_id',
                   tenant_id => 'settings-acme');

-- The sink's page: every entry, its day in the key, UTC times in the body.
CREATE TEMP TABLE hostile_page AS SELECT * FROM auditlog.next_page('settings');
SELECT rows, object_key ~ ('^audit/dt=' || to_char(:'today'::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD') || '/settings-') AS keyed_by_utc_day,
       body ~ '"logged_at":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{6}Z"' AS utc_times
FROM hostile_page;
SELECT lag_rows FROM auditlog.sink_status WHERE sink = 'settings';

-- A backfill of today and an export job of it, NDJSON and CSV.
SELECT auditlog.start_backfill('settings', :'today', :'horizon') AS backfill \gset
SELECT sum(rows) AS backfilled FROM auditlog.backfill_next_page(:backfill);
SELECT auditlog.request_export('audit', :'today', :'horizon', tenant_id => 'settings-acme', requested_by => 'settings') AS job_ndjson \gset
SELECT auditlog.request_export('audit', :'today', :'horizon', tenant_id => 'settings-acme', requested_by => 'settings',
                               format => 'csv') AS job_csv \gset
SELECT job_id, lease_token FROM auditlog.claim_export('settings-worker') WHERE job_id = :job_ndjson \gset ndjson_
SELECT job_id, lease_token FROM auditlog.claim_export('settings-worker') WHERE job_id = :job_csv \gset csv_
SELECT rows, final FROM auditlog.export_next_page(:ndjson_job_id, :'ndjson_lease_token');
SELECT rows, final, body ~ '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{6}Z' AS utc_times
FROM auditlog.export_next_page(:csv_job_id, :'csv_lease_token');

-- Partitions and retention: UTC midnights.
SELECT bool_and(range_start = auditlog.utc_day(range_start) AND range_end = range_start + interval '1 day') AS utc_days,
       bool_or(range_start = :'today') AS today_found
FROM auditlog.partitions;
SELECT count(*) = :previewed_by_default AS previewed_alike FROM auditlog.purge_preview('1 day');

-- Under the defaults, the same page again, identical.
RESET DateStyle;
RESET TimeZone;
RESET IntervalStyle;
RESET extra_float_digits;
RESET standard_conforming_strings;
RESET search_path;
SELECT p.page_id = h.page_id AS same_page, p.sha256 = h.sha256 AS same_hash, p.body = h.body AS same_body,
       p.first_logged_at = h.first_logged_at AND p.last_logged_at = h.last_logged_at AS same_times
FROM auditlog.next_page('settings') p, hostile_page h;
SELECT auditlog.ack('settings', page_id) FROM hostile_page;
SELECT auditlog.cancel_backfill(:backfill), auditlog.cancel_export(:job_ndjson), auditlog.cancel_export(:job_csv);
SELECT auditlog.drop_sink('settings');
