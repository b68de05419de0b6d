\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- begin() then complete(): a pending entry moves into the log once.
SELECT auditlog.begin(operation => 'vm.create', actor_id => 'u-2', tenant_id => 'org-1',
                      resource_type => 'vm', details => '{"size": "small"}') AS id \gset

SELECT operation, actor_id, tenant_id, resource_type, details FROM auditlog.pending WHERE id = :'id';
SELECT count(*) AS logged FROM auditlog.entry WHERE id = :'id';

SELECT auditlog.complete(:'id', 'success', http_status => 201, resource_id => 'vm-9',
                         details => '{"zone": "a"}') AS completed;

-- Context from begin(), result from complete(), details merged.
SELECT operation, actor_id, tenant_id, resource_type, resource_id, result, http_status, details,
       started_at <= logged_at AS started_first
FROM auditlog.entry WHERE id = :'id';
SELECT count(*) AS still_pending FROM auditlog.pending WHERE id = :'id';

-- A late complete() returns false and changes nothing.
SELECT auditlog.complete(:'id', 'error', error_message => 'late') AS late_completed;
SELECT result, error_message FROM auditlog.entry WHERE id = :'id';
SELECT count(*) AS copies FROM auditlog.entry WHERE id = :'id';

-- An id that was never begun.
SELECT auditlog.complete('00000000-0000-7000-8000-000000000000', 'success') AS unknown_completed;

-- begin() rolled back with its request leaves nothing pending.
BEGIN;
SELECT auditlog.begin(operation => 'vm.delete') AS id2 \gset
ROLLBACK;
SELECT count(*) AS pending_after_rollback FROM auditlog.pending WHERE id = :'id2';

-- complete() in the same transaction as begin().
BEGIN;
SELECT auditlog.complete(auditlog.begin(operation => 'vm.stop'), 'error', http_status => 409) AS same_transaction;
COMMIT;
SELECT result, http_status FROM auditlog.entry WHERE operation = 'vm.stop';
