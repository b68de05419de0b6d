\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- On-demand exports: request, claim under a fenced lease, page, finish; retry,
-- cancel; spreadsheet-safe CSV.
-- Today's partition exists (a window may not start before the oldest one).
SELECT auditlog.ensure_partitions(1) AS made;
CREATE TEMP TABLE since AS SELECT clock_timestamp() AS at;
SELECT count(auditlog.record(operation => 'export.entry', tenant_id => 'acme', actor_id => 'u-' || n,
                             details => jsonb_build_object('n', n)))
FROM generate_series(1, 5) AS n;
SELECT auditlog.record(operation => '=HYPERLINK("http://evil")', tenant_id => 'acme',
                       error_message => E'line one\nline "two", three', user_agent => '-x') IS NOT NULL;
SELECT auditlog.record(operation => 'export.other_tenant', tenant_id => 'globex') IS NOT NULL;
SELECT auditlog.tick() IS NOT NULL AS ticked;

SELECT auditlog.request_export('audit', (SELECT at FROM since), auditlog.settled_horizon(), 'acme', 'alice@acme', 'csv') AS job \gset
SELECT status, stream, tenant_id, requested_by, format, attempts FROM auditlog.export_status WHERE job_id = :job;

-- A worker claims it and gets a fencing token.
SELECT job_id = :job AS claimed, lease_token AS token, attempt FROM auditlog.claim_export('worker-1') \gset
SELECT :'claimed' AS claimed, :attempt AS attempt;
SELECT count(*) AS nothing_left_to_claim FROM auditlog.claim_export('worker-2');

-- Pages: 4 rows, then 2 and the last; the first part opens with the header.
SELECT page_id, part_number, rows, final, body, object_key FROM auditlog.export_next_page(:job, :'token', 4) \gset
SELECT :part_number AS part, :rows AS rows, :'final' AS final, split_part(:'body', E'\n', 1) = auditlog.csv_header() AS header_first,
       :'object_key' = format('exports/job-%s/parts/00001-%s.csv', :job, :'page_id') AS staging_key;
-- Pinned: asked again, the same page.
SELECT page_id = :'page_id' AS same_page, body = :'body' AS same_body FROM auditlog.export_next_page(:job, :'token', 1);
SELECT auditlog.ack_export_page(:job, :'token', :'page_id') AS acked;
SET client_min_messages = warning;  -- (its notice says when it was)
SELECT auditlog.ack_export_page(:job, :'token', :'page_id') AS acked_again;
RESET client_min_messages;
SELECT page_id, part_number, rows, final, body FROM auditlog.export_next_page(:job, :'token', 4) \gset
SELECT :part_number AS part, :rows AS rows, :'final' AS final;
-- Spreadsheet-safe: a cell that starts with = or - is neutralised; quotes,
-- commas and newlines are quoted.
SELECT regexp_replace(line, '^([^,]*,){4}', '') AS after_id_and_times
FROM regexp_split_to_table(:'body', E'\n(?=[0-9a-f]{8}-)') AS line WHERE line LIKE '%HYPERLINK%';
SELECT auditlog.ack_export_page(:job, :'token', :'page_id') AS acked;
SELECT auditlog.finish_export(:job, :'token', 's3://exports/acme/job.csv', 1234, repeat('ab', 32),
                              'https://exports.example/job.csv?sig', now() + interval '24 hours');
SELECT status, rows_exported, parts_exported, object_url, bytes, lease_owner FROM auditlog.export_status WHERE job_id = :job;
-- Its parts, each chained to the one before.
SELECT part_number, rows, final, prev_sha256 IS NOT DISTINCT FROM lag(sha256) OVER (ORDER BY part_number) AS chained
FROM auditlog.page WHERE job_id = :job ORDER BY part_number;

-- Failing: retried until max_attempts, then failed; the old token is fenced.
SELECT auditlog.request_export('audit', (SELECT at FROM since), auditlog.settled_horizon(), 'acme', 'bob', 'ndjson.gz') AS job2 \gset
UPDATE auditlog.export_job SET max_attempts = 2 WHERE job_id = :job2;
SELECT lease_token AS t1 FROM auditlog.claim_export('worker-1') \gset
SELECT auditlog.fail_export(:job2, :'t1', 'bucket unreachable') AS status;
SELECT lease_token AS t2, attempt FROM auditlog.claim_export('worker-2') \gset
SELECT :attempt AS attempt, :'t1' <> :'t2' AS fresh_token;
\set VERBOSITY terse
SELECT auditlog.heartbeat_export(:job2, :'t1');
SELECT * FROM auditlog.export_next_page(:job2, :'t1');
SELECT auditlog.finish_export(:job2, :'t1', 's3://x/y', 1, repeat('0', 64));
SELECT auditlog.fail_export(:job2, :'t1', 'late');
\set VERBOSITY default
SELECT auditlog.heartbeat_export(:job2, :'t2') > now() AS extended;
SELECT auditlog.fail_export(:job2, :'t2', 'bucket still unreachable') AS status;
SELECT status, attempts, error FROM auditlog.export_status WHERE job_id = :job2;

-- Cancelling fences the worker off.
SELECT auditlog.request_export('audit', (SELECT at FROM since), auditlog.settled_horizon(), NULL, 'carol') AS job3 \gset
SELECT lease_token AS t3 FROM auditlog.claim_export('worker-3') \gset
SELECT auditlog.cancel_export(:job3) AS cancelled;
SELECT auditlog.cancel_export(:job3) AS cancelled_again;
\set VERBOSITY terse
SELECT * FROM auditlog.export_next_page(:job3, :'t3');
\set VERBOSITY default

-- Bad requests change nothing.
SELECT count(*) AS jobs_before FROM auditlog.export_job \gset
\set VERBOSITY terse
SELECT auditlog.request_export('audit', now(), now() - interval '1 hour', NULL, 'x');
SELECT auditlog.request_export('audit', now() - interval '100 days', now() - interval '1 day', NULL, 'x');
SELECT auditlog.request_export('audit', now() - interval '1 hour', now() + interval '1 hour', NULL, 'x');
SELECT auditlog.request_export('audit', '2000-01-01', '2000-01-02', NULL, 'x');
SELECT auditlog.request_export('Bad Stream', now() - interval '1 hour', auditlog.settled_horizon(), NULL, 'x');
SELECT auditlog.request_export('audit', (SELECT at FROM since), auditlog.settled_horizon(), NULL, NULL);
SELECT auditlog.request_export('audit', (SELECT at FROM since), auditlog.settled_horizon(), '', 'x');
SELECT auditlog.request_export('audit', (SELECT at FROM since), auditlog.settled_horizon(), NULL, 'x', 'xlsx');
SELECT * FROM auditlog.claim_export('');
SELECT * FROM auditlog.claim_export('w', '0 seconds');
SELECT auditlog.cancel_export(-1);
SELECT * FROM auditlog.export_next_page(-1, gen_random_uuid());
\set VERBOSITY default
SELECT count(*) - :jobs_before AS new_jobs FROM auditlog.export_job;
