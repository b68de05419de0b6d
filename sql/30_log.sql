-- Writing the log. The hot path is in C (extension/src/log.c); every function
-- takes named arguments so callers pass only what they have. They are
-- SECURITY DEFINER without a SET search_path clause: the C code pins the
-- search path itself, at a fraction of the clause's cost per call.

CREATE FUNCTION auditlog.record(
  operation     text,
  stream        text DEFAULT 'audit',
  actor_type    text DEFAULT NULL,
  actor_id      text DEFAULT NULL,
  tenant_id     text DEFAULT NULL,
  resource_type text DEFAULT NULL,
  resource_id   text DEFAULT NULL,
  request_id    text DEFAULT NULL,
  request_uri   text DEFAULT NULL,
  source_ip     inet DEFAULT NULL,
  user_agent    text DEFAULT NULL,
  auth_method   text DEFAULT NULL,
  credential_id text DEFAULT NULL,
  result        auditlog.result DEFAULT 'success',
  http_status   int DEFAULT NULL,
  error_code    text DEFAULT NULL,
  error_message text DEFAULT NULL,
  details       jsonb DEFAULT NULL)
RETURNS uuid
LANGUAGE C VOLATILE SECURITY DEFINER
AS 'MODULE_PATHNAME', 'auditlog_record';
COMMENT ON FUNCTION auditlog.record IS
  'Writes one finished entry straight into the log and returns its id (a UUIDv7).';

-- The extension's own records (a forced purge, a forced import) go to the
-- stream 'auditlog', which record() refuses to writers. Not SECURITY
-- DEFINER, granted to nobody: only the extension's own SECURITY DEFINER
-- functions reach it.
CREATE FUNCTION auditlog_internal.record_internal(
  operation     text,
  stream        text DEFAULT 'auditlog',
  actor_type    text DEFAULT NULL,
  actor_id      text DEFAULT NULL,
  tenant_id     text DEFAULT NULL,
  resource_type text DEFAULT NULL,
  resource_id   text DEFAULT NULL,
  request_id    text DEFAULT NULL,
  request_uri   text DEFAULT NULL,
  source_ip     inet DEFAULT NULL,
  user_agent    text DEFAULT NULL,
  auth_method   text DEFAULT NULL,
  credential_id text DEFAULT NULL,
  result        auditlog.result DEFAULT 'success',
  http_status   int DEFAULT NULL,
  error_code    text DEFAULT NULL,
  error_message text DEFAULT NULL,
  details       jsonb DEFAULT NULL)
RETURNS uuid
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'auditlog_record_internal';
COMMENT ON FUNCTION auditlog_internal.record_internal IS
  'Internal: record() for the extension''s own records, which may use the reserved stream ''auditlog''. Granted to nobody.';

-- The one definition of a well-formed stream name (log.c): 1 to 63
-- characters of a-z, 0-9, '_', '.' and '-', starting with a letter or digit.
CREATE FUNCTION auditlog.valid_stream(name text)
RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'auditlog_valid_stream';
COMMENT ON FUNCTION auditlog.valid_stream IS
  'Whether name is a well-formed stream name (^[a-z0-9][a-z0-9_.-]{0,62}$), as record() requires; false for null. The stream ''auditlog'' is well-formed but reserved to the extension''s own records.';

CREATE FUNCTION auditlog.begin(
  operation     text,
  stream        text DEFAULT 'audit',
  actor_type    text DEFAULT NULL,
  actor_id      text DEFAULT NULL,
  tenant_id     text DEFAULT NULL,
  resource_type text DEFAULT NULL,
  resource_id   text DEFAULT NULL,
  request_id    text DEFAULT NULL,
  request_uri   text DEFAULT NULL,
  source_ip     inet DEFAULT NULL,
  user_agent    text DEFAULT NULL,
  auth_method   text DEFAULT NULL,
  credential_id text DEFAULT NULL,
  details       jsonb DEFAULT NULL)
RETURNS uuid
LANGUAGE C VOLATILE SECURITY DEFINER
AS 'MODULE_PATHNAME', 'auditlog_begin';
COMMENT ON FUNCTION auditlog.begin IS
  'Begins an entry before the operation runs and returns its id; auditlog.complete() finishes it, or auditlog.timeout_pending() logs it as timed out. Call it in the request''s transaction: if it fails, so does the request.';

CREATE FUNCTION auditlog.complete(
  id            uuid,
  result        auditlog.result,
  http_status   int DEFAULT NULL,
  error_code    text DEFAULT NULL,
  error_message text DEFAULT NULL,
  details       jsonb DEFAULT NULL,
  resource_type text DEFAULT NULL,
  resource_id   text DEFAULT NULL)
RETURNS boolean
LANGUAGE C VOLATILE SECURITY DEFINER
AS 'MODULE_PATHNAME', 'auditlog_complete';
COMMENT ON FUNCTION auditlog.complete IS
  'Moves a begun entry into the log with its result. details are merged over those given to begin(); resource_type and resource_id, when given, replace them. Returns false, changing nothing, when the entry is no longer pending (already completed or timed out).';

CREATE FUNCTION auditlog.timeout_pending(
  older_than interval DEFAULT '4 hours',
  max_rows   int DEFAULT 1000)
RETURNS int
LANGUAGE C VOLATILE SECURITY DEFINER
AS 'MODULE_PATHNAME', 'auditlog_timeout_pending';
COMMENT ON FUNCTION auditlog.timeout_pending IS
  'Logs, with result timeout, up to max_rows entries begun before now() - older_than and never completed, oldest first. Returns how many. Safe to run concurrently with itself and with complete(): each entry is logged once.';

