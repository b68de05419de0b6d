-- log.sql: the SQL edition's twins of log.c and stamp.c, the write path.
--
-- The same checks, messages and SQLSTATEs, the same statements, and the
-- same order of stamping as stamp.c: the writer's top-level xid is assigned
-- first (pg_current_xact_id()), and only then is the time read, never below
-- the clock floor. The functions writers call pin search_path with a SET
-- clause, the one way SQL has, and it costs (bench/record_vs_insert.sh
-- measures both editions). The helpers they call have none, as each one
-- would cost as much again: they are granted to nobody and run only inside
-- the search path of the function that calls them (every name in them is
-- qualified all the same).

-- The server clock, never below the floor (stamp.c's auditlog_clock()).
-- (An expression, inlined where it is used.)
CREATE FUNCTION auditlog_internal.clock()
RETURNS timestamptz
LANGUAGE sql VOLATILE
RETURN greatest(clock_timestamp(), timestamptz '2000-01-01 00:00:00+00'
                + pg_sequence_last_value('auditlog.clock_floor'::regclass) * interval '1 microsecond');
COMMENT ON FUNCTION auditlog_internal.clock IS
  'Internal (SQL edition): the server clock, never below the clock floor.';

-- A UUIDv7 (RFC 9562) of a time, as stamp.c makes it: 48 bits of Unix
-- milliseconds, 12 bits of sub-millisecond fraction, then the version and
-- variant and 62 random bits (those of a random UUID, whose variant bits
-- are already RFC 9562's). Only ever given a time from clock(), never below
-- the floor's origin, 2000-01-01, so never one before the Unix epoch, which
-- stamp.c refuses. (An expression, inlined where it is used.)
CREATE FUNCTION auditlog_internal.uuid_v7(at timestamptz)
RETURNS uuid
LANGUAGE sql VOLATILE
RETURN encode(int8send((floor(extract(epoch FROM at) * 1000)::bigint << 16)
                       | x'7000'::int
                       | (((extract(epoch FROM at) * 1000000)::bigint % 1000) * 4096 / 1000))
              || substr(uuid_send(gen_random_uuid()), 9, 8), 'hex')::uuid;
COMMENT ON FUNCTION auditlog_internal.uuid_v7 IS
  'Internal (SQL edition): a UUIDv7 of the given time, ordered by it to the microsecond.';

-- The checks of log.c on an entry's arguments, each raising the same error.
-- size is what the call adds to the entry: text by its bytes, details and
-- source_ip by the bytes of their stored form.
CREATE FUNCTION auditlog_internal.check_entry(
  operation text, stream text, allow_reserved boolean, result auditlog.result, allow_timeout boolean,
  http_status int, details jsonb, size bigint)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF operation IS NULL THEN
    RAISE EXCEPTION 'operation must not be null'
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Name what was done, for example ''project.create''.';
  END IF;
  IF btrim(operation, E' \t\r\n') = '' THEN
    RAISE EXCEPTION 'operation must not be empty'
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Name what was done, for example ''project.create''.';
  END IF;
  IF stream IS NULL THEN
    RAISE EXCEPTION 'stream must not be null'
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Omit it to use the default stream ''audit''.';
  END IF;
  IF NOT auditlog.valid_stream(stream) THEN
    RAISE EXCEPTION 'invalid stream name "%"', stream
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'A stream name is 1 to 63 characters of a-z, 0-9, ''_'', ''.'' and ''-'', starting with a letter or digit.';
  END IF;
  IF NOT allow_reserved AND stream = 'auditlog' THEN
    RAISE EXCEPTION 'stream "%" is reserved for the extension''s own records', stream
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'Entries of stream ''auditlog'' record what the extension itself did, such as a forced purge or import.',
            HINT = 'Log to another stream.';
  END IF;
  PERFORM auditlog_internal.check_outcome(result, allow_timeout, http_status, details, size);
END
$$;
COMMENT ON FUNCTION auditlog_internal.check_entry IS
  'Internal (SQL edition): the checks record() and begin() apply to their arguments (allow_timeout null: no result to check).';

-- Whether check_entry() would pass, as one expression (inlined where it is
-- used): the write path asks this, and check_entry() only to say what fails.
CREATE FUNCTION auditlog_internal.entry_ok(
  operation text, stream text, allow_reserved boolean, result auditlog.result, allow_timeout boolean,
  http_status int, details jsonb, size bigint)
RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$
  SELECT coalesce(btrim(operation, E' \t\r\n') <> '' AND auditlog.valid_stream(stream)
                       AND (allow_reserved OR stream <> 'auditlog')
                       AND (allow_timeout IS NULL OR (result IS NOT NULL AND (allow_timeout OR result <> 'timeout')))
                       AND (http_status IS NULL OR http_status BETWEEN 100 AND 599)
                       AND (details IS NULL OR jsonb_typeof(details) = 'object')
                       AND size <= 64 * 1024, false)
$$;
COMMENT ON FUNCTION auditlog_internal.entry_ok IS
  'Internal (SQL edition): whether check_entry() passes for these arguments.';

-- The checks of what an entry says of its outcome, the rest of check_entry()
-- and all of complete()'s (allow_timeout null: no result is given).
CREATE FUNCTION auditlog_internal.check_outcome(result auditlog.result, allow_timeout boolean, http_status int,
                                                details jsonb, size bigint)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF result IS NULL AND allow_timeout IS NOT NULL THEN
    RAISE EXCEPTION 'result must not be null'
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Use ''success'' or ''error''.';
  END IF;
  IF result = 'timeout' AND NOT allow_timeout THEN
    RAISE EXCEPTION 'result ''timeout'' is reserved for entries timed out by auditlog.timeout_pending()'
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Use ''success'' or ''error''.';
  END IF;
  IF http_status < 100 OR http_status > 599 THEN
    RAISE EXCEPTION 'http_status % is out of range', http_status
      USING ERRCODE = 'invalid_parameter_value', DETAIL = 'An HTTP status code lies between 100 and 599.';
  END IF;
  IF jsonb_typeof(details) <> 'object' THEN
    RAISE EXCEPTION 'details must be a JSON object'
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Got a JSON %s.', CASE WHEN jsonb_typeof(details) = 'array' THEN 'array' ELSE 'scalar' END);
  END IF;
  IF size > 64 * 1024 THEN
    RAISE EXCEPTION 'audit entry too large: % bytes of text and details', size
      USING ERRCODE = 'program_limit_exceeded',
            DETAIL = 'An entry holds at most 65536 bytes of text and details.',
            HINT = 'Log a reference to a large payload (its URL or hash), not the payload itself.';
  END IF;
END
$$;
COMMENT ON FUNCTION auditlog_internal.check_outcome IS
  'Internal (SQL edition): the checks of an entry''s result, http_status, details and size, which check_entry() and complete() apply.';

-- The bytes a value of details or source_ip adds to an entry, as log.c
-- counts them: those of the stored form without its header (an inet is its
-- family and mask bits, then 4 or 16 bytes of address).
CREATE FUNCTION auditlog_internal.stored_size(details jsonb)
RETURNS bigint
LANGUAGE sql STABLE  -- (as pg_column_size() is: else it would not be inlined)
-- (Of a copy made afresh: the value given may be stored compressed, out of
-- line or with a short header, which its own size would count.)
RETURN CASE WHEN details IS NULL THEN 0 ELSE pg_column_size(details::text::jsonb) - 4 END;
COMMENT ON FUNCTION auditlog_internal.stored_size(jsonb) IS
  'Internal (SQL edition): the bytes of a details value as an entry''s size counts them.';

CREATE FUNCTION auditlog_internal.stored_size(source_ip inet)
RETURNS bigint
LANGUAGE sql IMMUTABLE
RETURN CASE family(source_ip) WHEN 4 THEN 6 WHEN 6 THEN 18 ELSE 0 END;
COMMENT ON FUNCTION auditlog_internal.stored_size(inet) IS
  'Internal (SQL edition): the bytes of a source_ip value as an entry''s size counts them.';

-- The bytes of text and details an entry's arguments add up to, as log.c
-- counts them (an argument a function does not take is null). (An
-- expression, inlined where it is used.)
CREATE FUNCTION auditlog_internal.entry_size(
  operation text, stream text, actor_type text, actor_id text, tenant_id text, resource_type text,
  resource_id text, request_id text, request_uri text, source_ip inet, user_agent text, auth_method text,
  credential_id text, error_code text, error_message text, details jsonb)
RETURNS bigint
LANGUAGE sql STABLE
AS $$
  SELECT coalesce(octet_length(operation), 0) + coalesce(octet_length(stream), 0)
         + coalesce(octet_length(actor_type), 0) + coalesce(octet_length(actor_id), 0)
         + coalesce(octet_length(tenant_id), 0) + coalesce(octet_length(resource_type), 0)
         + coalesce(octet_length(resource_id), 0) + coalesce(octet_length(request_id), 0)
         + coalesce(octet_length(request_uri), 0) + auditlog_internal.stored_size(source_ip)
         + coalesce(octet_length(user_agent), 0) + coalesce(octet_length(auth_method), 0)
         + coalesce(octet_length(credential_id), 0) + coalesce(octet_length(error_code), 0)
         + coalesce(octet_length(error_message), 0) + auditlog_internal.stored_size(details)
$$;
COMMENT ON FUNCTION auditlog_internal.entry_size IS
  'Internal (SQL edition): the bytes of text and details an entry''s arguments add up to.';

-- record() and record_internal() differ only in the stream they allow and
-- in who may call them; their bodies are the same, written twice because a
-- call from one PL/pgSQL function to another would cost record() a third of
-- its throughput (bench/record_vs_insert.sh). Few statements, for the same
-- reason: PL/pgSQL prepares each expression again in every transaction, and
-- a writer's transaction is often a single record().
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
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  size bigint := auditlog_internal.entry_size(operation, stream, actor_type, actor_id, tenant_id, resource_type, resource_id,
    request_id, request_uri, source_ip, user_agent, auth_method, credential_id, error_code, error_message, details);
  writer xid8;
  at timestamptz;
  new_id uuid;
BEGIN
  IF NOT auditlog_internal.entry_ok(operation, stream, false, result, false, http_status, details, size) THEN
    PERFORM auditlog_internal.check_entry(operation, stream, false, result, false, http_status, details, size);
  END IF;
  -- The xid first, then the time (stamp.c says why).
  writer := pg_current_xact_id();
  at := auditlog_internal.clock();
  new_id := auditlog_internal.uuid_v7(at);
  INSERT INTO auditlog.entry (id, stream, logged_at, started_at, operation, actor_type, actor_id, tenant_id,
                              resource_type, resource_id, request_id, request_uri, source_ip, user_agent,
                              auth_method, credential_id, result, http_status, error_code, error_message,
                              details, writer_xid)
  VALUES (new_id, stream, at, at, operation, actor_type, actor_id, tenant_id, resource_type, resource_id,
          request_id, request_uri, source_ip, user_agent, auth_method, credential_id, result, http_status,
          error_code, error_message, details, writer);
  RETURN new_id;
END
$$;

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
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  size bigint := auditlog_internal.entry_size(operation, stream, actor_type, actor_id, tenant_id, resource_type, resource_id,
    request_id, request_uri, source_ip, user_agent, auth_method, credential_id, error_code, error_message, details);
  writer xid8;
  at timestamptz;
  new_id uuid;
BEGIN
  IF NOT auditlog_internal.entry_ok(operation, stream, true, result, false, http_status, details, size) THEN
    PERFORM auditlog_internal.check_entry(operation, stream, true, result, false, http_status, details, size);
  END IF;
  -- The xid first, then the time (stamp.c says why).
  writer := pg_current_xact_id();
  at := auditlog_internal.clock();
  new_id := auditlog_internal.uuid_v7(at);
  INSERT INTO auditlog.entry (id, stream, logged_at, started_at, operation, actor_type, actor_id, tenant_id,
                              resource_type, resource_id, request_id, request_uri, source_ip, user_agent,
                              auth_method, credential_id, result, http_status, error_code, error_message,
                              details, writer_xid)
  VALUES (new_id, stream, at, at, operation, actor_type, actor_id, tenant_id, resource_type, resource_id,
          request_id, request_uri, source_ip, user_agent, auth_method, credential_id, result, http_status,
          error_code, error_message, details, writer);
  RETURN new_id;
END
$$;

CREATE FUNCTION auditlog.valid_stream(name text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN coalesce(name OPERATOR(pg_catalog.~) '^[a-z0-9][a-z0-9_.-]{0,62}$', false);

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
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  size bigint := auditlog_internal.entry_size(operation, stream, actor_type, actor_id, tenant_id, resource_type,
    resource_id, request_id, request_uri, source_ip, user_agent, auth_method, credential_id, NULL, NULL, details);
  at timestamptz;
  new_id uuid;
BEGIN
  IF NOT auditlog_internal.entry_ok(operation, stream, false, NULL, NULL, NULL, details, size) THEN
    PERFORM auditlog_internal.check_entry(operation, stream, false, NULL, NULL, NULL, details, size);
  END IF;
  at := auditlog_internal.clock();
  new_id := auditlog_internal.uuid_v7(at);
  INSERT INTO auditlog.pending (id, stream, started_at, operation, actor_type, actor_id, tenant_id, resource_type,
                                resource_id, request_id, request_uri, source_ip, user_agent, auth_method,
                                credential_id, details)
  VALUES (new_id, stream, at, operation, actor_type, actor_id, tenant_id, resource_type, resource_id, request_id,
          request_uri, source_ip, user_agent, auth_method, credential_id, details);
  RETURN new_id;
END
$$;

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
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  writer xid8;
  at timestamptz;
  n bigint;
BEGIN
  IF id IS NULL THEN
    RAISE EXCEPTION 'id must not be null'
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the id that auditlog.begin() returned.';
  END IF;
  PERFORM auditlog_internal.check_outcome(result, false, http_status, details,
    auditlog_internal.entry_size(NULL, NULL, NULL, NULL, NULL, resource_type, resource_id, NULL, NULL, NULL, NULL,
                                 NULL, NULL, error_code, error_message, details));
  writer := pg_current_xact_id();
  at := auditlog_internal.clock();
  WITH moved AS (DELETE FROM auditlog.pending p WHERE p.id = complete.id RETURNING p.*)
  INSERT INTO auditlog.entry (id, stream, logged_at, started_at, operation, actor_type, actor_id, tenant_id,
                              resource_type, resource_id, request_id, request_uri, source_ip, user_agent,
                              auth_method, credential_id, result, http_status, error_code, error_message,
                              details, writer_xid)
  SELECT m.id, m.stream, greatest(at, m.started_at), m.started_at, m.operation, m.actor_type, m.actor_id,
         m.tenant_id, coalesce(complete.resource_type, m.resource_type), coalesce(complete.resource_id, m.resource_id),
         m.request_id, m.request_uri, m.source_ip, m.user_agent, m.auth_method, m.credential_id,
         complete.result, complete.http_status, complete.error_code, complete.error_message,
         CASE WHEN m.details IS NULL THEN complete.details WHEN complete.details IS NULL THEN m.details
              ELSE m.details || complete.details END,
         writer
  FROM moved m;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n = 1;
END
$$;

CREATE FUNCTION auditlog.timeout_pending(
  older_than interval DEFAULT '4 hours',
  max_rows   int DEFAULT 1000)
RETURNS int
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  writer xid8;
  at timestamptz;
  n int;
BEGIN
  IF older_than IS NULL OR max_rows IS NULL THEN
    RAISE EXCEPTION 'older_than and max_rows must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF older_than <= interval '0' THEN
    RAISE EXCEPTION 'older_than must be a positive interval'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Entries begun longer ago than older_than are timed out, for example ''4 hours''.';
  END IF;
  IF max_rows <= 0 OR max_rows > 100000 THEN
    RAISE EXCEPTION 'max_rows must be between 1 and 100000'
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Run it again to time out more entries; each run stays short.';
  END IF;
  writer := pg_current_xact_id();
  at := auditlog_internal.clock();
  -- SKIP LOCKED: a row a complete() in progress holds is left to it.
  WITH due AS (SELECT p.id FROM auditlog.pending p WHERE p.started_at < now() - older_than
               ORDER BY p.started_at, p.id LIMIT max_rows FOR UPDATE SKIP LOCKED),
       moved AS (DELETE FROM auditlog.pending p USING due WHERE p.id = due.id RETURNING p.*)
  INSERT INTO auditlog.entry (id, stream, logged_at, started_at, operation, actor_type, actor_id, tenant_id,
                              resource_type, resource_id, request_id, request_uri, source_ip, user_agent,
                              auth_method, credential_id, result, http_status, error_code, error_message,
                              details, writer_xid)
  SELECT m.id, m.stream, greatest(at, m.started_at), m.started_at, m.operation, m.actor_type, m.actor_id,
         m.tenant_id, m.resource_type, m.resource_id, m.request_id, m.request_uri, m.source_ip, m.user_agent,
         m.auth_method, m.credential_id, 'timeout', NULL, NULL, NULL, m.details, writer
  FROM moved m;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

CREATE FUNCTION auditlog_internal.check_import_entry(
  operation text, stream text, actor_type text, actor_id text, tenant_id text, resource_type text,
  resource_id text, request_id text, request_uri text, source_ip inet, user_agent text, auth_method text,
  credential_id text, result auditlog.result, http_status int, error_code text, error_message text, details jsonb,
  id uuid, logged_at timestamptz, started_at timestamptz, range_start timestamptz, range_end timestamptz,
  duplicate boolean, "row" bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  size bigint := auditlog_internal.entry_size(operation, stream, actor_type, actor_id, tenant_id, resource_type,
    resource_id, request_id, request_uri, source_ip, user_agent, auth_method, credential_id, error_code,
    error_message, details);
  message text;
  state text;
  detail text;
BEGIN
  -- A row that passes every check costs one expression; only one that fails
  -- one goes through the checks below, which say which (in a block of its
  -- own, a subtransaction, which every row would otherwise pay for).
  IF id IS NOT NULL
     AND auditlog_internal.entry_ok(operation, stream, false, result, true, http_status, details, size)
     AND isfinite(logged_at) AND isfinite(started_at) AND started_at <= logged_at
     AND logged_at >= range_start AND logged_at <= range_end AND NOT duplicate THEN
    RETURN;
  END IF;
  BEGIN
    IF id IS NULL THEN
      RAISE EXCEPTION 'id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM auditlog_internal.check_entry(operation, stream, false, result, true, http_status, details, size);
    IF logged_at IS NULL THEN
      RAISE EXCEPTION 'logged_at must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT isfinite(logged_at) THEN
      RAISE EXCEPTION 'logged_at must be a finite time, not %', logged_at USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF started_at IS NULL THEN
      RAISE EXCEPTION 'started_at must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT isfinite(started_at) THEN
      RAISE EXCEPTION 'started_at must be a finite time, not %', started_at USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF started_at > logged_at THEN
      RAISE EXCEPTION 'started_at % is after logged_at %', started_at, logged_at USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF range_start IS NULL OR range_end IS NULL OR logged_at < range_start OR logged_at > range_end THEN
      RAISE EXCEPTION 'logged_at % lies outside the span registered for the import', logged_at
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF duplicate IS NULL OR duplicate THEN
      RAISE EXCEPTION 'an entry with the same logged_at and id is already in the log or earlier in the import'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, state = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL;
    message := format('row %s of the import (id %s): %s', coalesce("row", 0), coalesce(id::text, 'null'), message);
    state := CASE WHEN state = '54000' THEN '54000' ELSE '22023' END;
    IF detail = '' THEN
      RAISE EXCEPTION USING MESSAGE = message, ERRCODE = state,
        HINT = 'Correct that row of the source, or leave it out, and import again: nothing was imported.';
    END IF;
    RAISE EXCEPTION USING MESSAGE = message, ERRCODE = state, DETAIL = detail,
      HINT = 'Correct that row of the source, or leave it out, and import again: nothing was imported.';
  END;
END
$$;
