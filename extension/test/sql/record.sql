\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- record(): one finished entry, stamped by the extension.
SELECT auditlog.ensure_partitions(1) > 0 AS made_partitions;

BEGIN;
SELECT auditlog.record(
  operation => 'project.create',
  actor_type => 'user', actor_id => 'u-1', tenant_id => 'org-1',
  resource_type => 'project', resource_id => 'p-1',
  request_id => 'req-1', request_uri => '/v1/projects', source_ip => '192.0.2.7',
  user_agent => 'curl/8', auth_method => 'session', credential_id => 'cred-1',
  http_status => 201, details => '{"name": "demo"}') AS id \gset
-- writer_xid is the writing transaction's top-level xid.
SELECT writer_xid = pg_current_xact_id() AS writer_is_this_transaction
FROM auditlog.entry WHERE id = :'id';
COMMIT;

SELECT stream, operation, actor_type, actor_id, tenant_id, resource_type, resource_id,
       request_id, request_uri, source_ip, user_agent, auth_method, credential_id,
       result, http_status, error_code, error_message, details
FROM auditlog.entry WHERE id = :'id';

-- logged_at is the time the entry entered the log; started_at equals it.
SELECT logged_at = started_at AS started_is_logged,
       logged_at BETWEEN now() - interval '1 minute' AND clock_timestamp() AS logged_now,
       tableoid::regclass::text = 'auditlog.entry_p' || to_char(logged_at AT TIME ZONE 'UTC', 'YYYYMMDD') AS in_day_partition
FROM auditlog.entry WHERE id = :'id';

-- The id is a UUIDv7 whose first 48 bits are logged_at in Unix milliseconds.
SELECT substr(:'id', 15, 1) AS version,
       substr(:'id', 20, 1) IN ('8', '9', 'a', 'b') AS rfc_variant,
       ('x' || lpad(replace(substr(:'id', 1, 13), '-', ''), 16, '0'))::bit(64)::bigint
         = floor(extract(epoch FROM logged_at) * 1000)::bigint AS time_prefix_matches
FROM auditlog.entry WHERE id = :'id';

-- Only what was given: defaults for the rest.
SELECT auditlog.record(operation => 'session.login', stream => 'scim', result => 'error',
                       error_code => 'bad_password') AS id2 \gset
SELECT stream, result, error_code, actor_id IS NULL AS no_actor, details IS NULL AS no_details
FROM auditlog.entry WHERE id = :'id2';

-- Ids made in a row sort in the order they were made.
SELECT bool_and(a < b) AS increasing
FROM (SELECT auditlog.record(operation => 'x') AS a, auditlog.record(operation => 'x') AS b
      FROM generate_series(1, 20)) AS pairs;

-- A subtransaction's entry carries the top-level xid.
BEGIN;
SELECT pg_current_xact_id() AS top \gset
SAVEPOINT s;
SELECT auditlog.record(operation => 'in.savepoint') AS id3 \gset
RELEASE SAVEPOINT s;
COMMIT;
SELECT writer_xid = :'top'::xid8 AS top_level_xid FROM auditlog.entry WHERE id = :'id3';

-- An entry in a rolled back transaction never reaches the log.
BEGIN;
SELECT auditlog.record(operation => 'rolled.back') AS id4 \gset
ROLLBACK;
SELECT count(*) AS rolled_back_entries FROM auditlog.entry WHERE id = :'id4';
