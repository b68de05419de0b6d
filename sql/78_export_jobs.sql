-- On-demand exports: "everything of my organization from March" as one
-- object and a time-limited download link.
--
-- A job is a window of one stream, optionally one tenant, in (logged_at, id)
-- order. Workers claim jobs with FOR UPDATE SKIP LOCKED under a lease with a
-- fencing token: a claim, or a takeover after the lease expired, issues a
-- fresh token, and every later call must carry the current one, so a worker
-- that lost its job can no longer acknowledge, finish or fail it. The job's
-- pages (in auditlog.page) are the parts of its object, each pinned like a
-- sink's page, so a worker taking over is handed the same page again.

CREATE TABLE auditlog.export_job (
  job_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stream           text NOT NULL,
  range_start      timestamptz NOT NULL,
  range_end        timestamptz NOT NULL,
  tenant_id        text,
  requested_by     text NOT NULL,
  format           text NOT NULL CHECK (format IN ('ndjson.gz', 'csv')),
  status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')),
  attempts         int NOT NULL DEFAULT 0,
  max_attempts     int NOT NULL DEFAULT 3,
  lease_token      uuid,
  lease_owner      text,
  lease_expires_at timestamptz,
  heartbeat_at     timestamptz,
  -- the key of the last entry acknowledged
  after_logged_at  timestamptz,
  after_id         uuid,
  rows_exported    bigint NOT NULL DEFAULT 0,
  parts_exported   int NOT NULL DEFAULT 0,
  object_url       text,
  download_url     text,
  link_expires_at  timestamptz,
  bytes            bigint,
  sha256           text,
  error            text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz
);
CREATE INDEX export_job_claimable ON auditlog.export_job (created_at) WHERE status IN ('pending', 'running');
COMMENT ON TABLE auditlog.export_job IS
  'On-demand exports of a window of one stream (optionally one tenant): requested, claimed by a worker under a fenced lease, paged, finished with one object and a download link.';

ALTER TABLE auditlog.page ADD CONSTRAINT page_job_id_fkey
  FOREIGN KEY (job_id) REFERENCES auditlog.export_job ON DELETE CASCADE;

CREATE FUNCTION auditlog.request_export(
  stream       text,
  "from"       timestamptz,
  "to"         timestamptz,
  tenant_id    text DEFAULT NULL,
  requested_by text DEFAULT NULL,
  format       text DEFAULT 'ndjson.gz')
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  max_window constant interval := '92 days';
  job bigint;
BEGIN
  IF NOT auditlog.valid_stream(stream) THEN
    RAISE EXCEPTION 'invalid stream %', coalesce(quote_literal(stream), 'null') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- (An infinite bound has no length: check_past_window refuses it.)
  IF isfinite("from") AND isfinite("to") AND "to" - "from" > max_window THEN
    RAISE EXCEPTION 'an export window is at most 92 days'
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('This one is %s.', "to" - "from"),
            HINT = 'Request several exports.';
  END IF;
  PERFORM auditlog_internal.import_window_lock();  -- serialised with import_begin(): see 79_import.sql
  PERFORM auditlog_internal.check_past_window("from", "to");
  IF tenant_id = '' THEN
    RAISE EXCEPTION 'tenant_id must not be empty; pass NULL for every tenant' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF requested_by IS NULL OR btrim(requested_by) = '' THEN
    RAISE EXCEPTION 'requested_by must name who asked for the export' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF format IS NULL OR format NOT IN ('ndjson.gz', 'csv') THEN
    RAISE EXCEPTION 'unsupported export format %', coalesce(quote_literal(format), 'null')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Use ndjson.gz or csv.';
  END IF;
  INSERT INTO auditlog.export_job (stream, range_start, range_end, tenant_id, requested_by, format)
  VALUES (stream, "from", "to", tenant_id, requested_by, format)
  RETURNING job_id INTO job;
  RETURN job;
END
$$;
COMMENT ON FUNCTION auditlog.request_export IS
  'Requests an on-demand export of one stream (optionally one tenant) for ["from", "to"), at most 92 days, ending no later than the settled horizon, as ndjson.gz or spreadsheet-safe csv. Returns the job id.';

CREATE TYPE auditlog.export_claim AS (
  job_id           bigint,
  lease_token      uuid,
  lease_expires_at timestamptz,
  stream           text,
  range_start      timestamptz,
  range_end        timestamptz,
  tenant_id        text,
  format           text,
  attempt          int
);
COMMENT ON TYPE auditlog.export_claim IS 'A claimed export job, with the fencing token its worker must pass to every later call.';

-- A worker's lease on a job: positive, at most a day.
CREATE FUNCTION auditlog_internal.check_lease(lease interval)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF lease IS NULL OR lease <= interval '0' OR lease > interval '1 day' THEN
    RAISE EXCEPTION 'lease must be a positive interval of at most a day' USING ERRCODE = 'invalid_parameter_value';
  END IF;
END
$$;
COMMENT ON FUNCTION auditlog_internal.check_lease IS 'Internal: refuses a lease that is not a positive interval of at most a day.';

CREATE FUNCTION auditlog.claim_export(worker text, lease interval DEFAULT '5 minutes')
RETURNS SETOF auditlog.export_claim
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job auditlog.export_job;
BEGIN
  IF worker IS NULL OR btrim(worker) = '' THEN
    RAISE EXCEPTION 'worker must name the worker claiming a job' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM auditlog_internal.check_lease(lease);
  -- Jobs whose worker used up their attempts fail rather than run again.
  UPDATE auditlog.export_job SET status = 'failed', finished_at = now(),
         error = coalesce(error, 'lease expired') || format(' (gave up after %s attempts)', attempts),
         lease_token = NULL
  WHERE status = 'running' AND lease_expires_at < now() AND attempts >= max_attempts;

  SELECT * INTO job FROM auditlog.export_job j
  WHERE j.status = 'pending' OR (j.status = 'running' AND j.lease_expires_at < now())
  ORDER BY j.created_at, j.job_id
  LIMIT 1
  FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  UPDATE auditlog.export_job j
  SET status = 'running', attempts = j.attempts + 1, lease_token = gen_random_uuid(), lease_owner = worker,
      lease_expires_at = now() + lease, heartbeat_at = now(), started_at = coalesce(j.started_at, now())
  WHERE j.job_id = job.job_id
  RETURNING * INTO job;
  RETURN NEXT (job.job_id, job.lease_token, job.lease_expires_at, job.stream, job.range_start, job.range_end,
               job.tenant_id, job.format, job.attempts)::auditlog.export_claim;
END
$$;
COMMENT ON FUNCTION auditlog.claim_export IS
  'Claims the oldest pending export job, or one whose worker''s lease expired, for worker; returns it with a fresh fencing token, or no row. Concurrent claims never get the same job (FOR UPDATE SKIP LOCKED).';

CREATE FUNCTION auditlog_internal.locked_job(job_id bigint)
RETURNS auditlog.export_job
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job auditlog.export_job;
BEGIN
  SELECT * INTO job FROM auditlog.export_job j WHERE j.job_id = locked_job.job_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'export job % does not exist', job_id
      USING ERRCODE = 'undefined_object', HINT = 'auditlog.export_status lists the export jobs.';
  END IF;
  RETURN job;
END
$$;
COMMENT ON FUNCTION auditlog_internal.locked_job IS 'Internal: the export job''s row, locked for update; an error if there is none.';

-- The job, locked, if token is its current fencing token; an error otherwise.
CREATE FUNCTION auditlog_internal.fenced_job(job_id bigint, token uuid)
RETURNS auditlog.export_job
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job auditlog.export_job := auditlog_internal.locked_job(job_id);
BEGIN
  IF job.status <> 'running' OR job.lease_token IS DISTINCT FROM token THEN
    RAISE EXCEPTION 'export job % is not leased with this token', job_id
      USING ERRCODE = 'lock_not_available',
            DETAIL = format('The job is %s; its lease was taken over, or it ended.', job.status),
            HINT = 'Stop working on it: another worker holds it, or it is finished.';
  END IF;
  RETURN job;
END
$$;
COMMENT ON FUNCTION auditlog_internal.fenced_job IS 'Internal: the export job, locked, provided the token is its current fencing token.';

CREATE FUNCTION auditlog.heartbeat_export(job_id bigint, token uuid, lease interval DEFAULT '5 minutes')
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job auditlog.export_job := auditlog_internal.fenced_job(job_id, token);
BEGIN
  PERFORM auditlog_internal.check_lease(lease);
  UPDATE auditlog.export_job j
  SET lease_expires_at = now() + lease, heartbeat_at = now()
  WHERE j.job_id = job.job_id
  RETURNING lease_expires_at INTO job.lease_expires_at;
  RETURN job.lease_expires_at;
END
$$;
COMMENT ON FUNCTION auditlog.heartbeat_export IS
  'Extends the lease of a claimed export job. Fails when the token is no longer the job''s.';

CREATE TYPE auditlog.export_page AS (
  page_id     uuid,
  part_number int,
  rows        int,
  final       boolean,
  sha256      text,
  body        text,
  object_key  text
);
COMMENT ON TYPE auditlog.export_page IS 'A part of an export job''s object: its body (NDJSON or CSV text, to compress as the format says), whether it is the last, and the key to stage it under.';

CREATE FUNCTION auditlog.export_next_page(job_id bigint, token uuid, max_rows int DEFAULT 10000)
RETURNS SETOF auditlog.export_page
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET work_mem = '64MB'  -- a page's body is megabytes: keep it off disk
SET max_parallel_workers_per_gather = 0  -- a page reads a few thousand rows: no workers to start
AS $$
DECLARE
  job auditlog.export_job;
  owner auditlog.page;
  page auditlog.page;
  body text;
  cut record;
BEGIN
  PERFORM auditlog_internal.refuse_transaction_block('auditlog.export_next_page()');
  PERFORM auditlog_internal.check_max_rows(max_rows);
  PERFORM set_config('synchronous_commit', 'on', true);
  job := auditlog_internal.fenced_job(job_id, token);
  SELECT * INTO page FROM auditlog.page p WHERE p.job_id = job.job_id AND p.acked_at IS NULL;
  IF FOUND THEN
    -- Pinned: the same page again, for a retry or a worker taking over.
    body := auditlog_internal.pinned_body(page);
  ELSE
    owner.job_id := job.job_id;
    owner.part_number := job.parts_exported + 1;
    owner.stream := job.stream;
    owner.tenant_id := job.tenant_id;
    owner.format := CASE job.format WHEN 'csv' THEN 'csv' ELSE 'ndjson' END;
    SELECT * INTO cut FROM auditlog_internal.pin_page(owner, job.after_logged_at, job.after_id, job.range_start, job.range_end, max_rows);
    page := cut.page;
    body := cut.body;
  END IF;
  RETURN NEXT (page.page_id, page.part_number, page.rows, page.final, page.sha256, body, page.object_key)::auditlog.export_page;
END
$$;
COMMENT ON FUNCTION auditlog.export_next_page IS
  'The next part of a claimed export job (at most max_rows entries and 16 MiB, in (logged_at, id) order), pinned until acknowledged; final says it is the last. Needs the job''s current fencing token. Runs as its own transaction.';

CREATE FUNCTION auditlog.ack_export_page(job_id bigint, token uuid, page_id uuid)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job auditlog.export_job;
  p auditlog.page;
BEGIN
  PERFORM auditlog_internal.refuse_transaction_block('auditlog.ack_export_page()');
  PERFORM set_config('synchronous_commit', 'on', true);
  job := auditlog_internal.fenced_job(job_id, token);
  p := auditlog_internal.ack_page(page_id, NULL, NULL, job.job_id,
                         (SELECT q.sha256 FROM auditlog.page q WHERE q.job_id = job.job_id AND q.acked_at IS NOT NULL
                          ORDER BY q.part_number DESC LIMIT 1));
  IF p IS NULL THEN
    RETURN false;
  END IF;
  UPDATE auditlog.export_job j
  SET after_logged_at = coalesce(p.last_logged_at, j.after_logged_at), after_id = coalesce(p.last_id, j.after_id),
      parts_exported = j.parts_exported + 1, rows_exported = j.rows_exported + p.rows, heartbeat_at = now()
  WHERE j.job_id = job.job_id;
  RETURN true;
END
$$;
COMMENT ON FUNCTION auditlog.ack_export_page IS
  'Acknowledges the page in flight of a claimed export job once its part is stored. Returns false for a page acknowledged already. Needs the job''s current fencing token.';

CREATE FUNCTION auditlog.finish_export(job_id bigint, token uuid, object_url text, bytes bigint, sha256 text,
                                       download_url text DEFAULT NULL, link_expires_at timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job auditlog.export_job := auditlog_internal.fenced_job(job_id, token);
  last_part auditlog.page := (SELECT p FROM auditlog.page p WHERE p.job_id = job.job_id ORDER BY p.part_number DESC LIMIT 1);
BEGIN
  IF last_part.acked_at IS NULL OR last_part.final IS NOT TRUE THEN
    RAISE EXCEPTION 'export job % is not finished: %', job.job_id,
      CASE WHEN last_part.page_id IS NOT NULL AND last_part.acked_at IS NULL THEN 'a page is in flight'
           ELSE 'its last page was not acknowledged' END
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF object_url IS NULL OR bytes IS NULL OR bytes < 0 OR sha256 IS NULL OR sha256 !~ '^[0-9a-f]{64}$' THEN
    RAISE EXCEPTION 'finish_export() needs the object''s url, its size in bytes and its SHA-256 in hex'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE auditlog.export_job j
  SET status = 'done', object_url = finish_export.object_url, bytes = finish_export.bytes, sha256 = finish_export.sha256,
      download_url = finish_export.download_url, link_expires_at = finish_export.link_expires_at,
      finished_at = now(), lease_token = NULL, error = NULL
  WHERE j.job_id = job.job_id;
END
$$;
COMMENT ON FUNCTION auditlog.finish_export IS
  'Marks a claimed export job done once its last page is acknowledged and the object completed: its URL, size, SHA-256 and download link. Needs the job''s current fencing token.';

CREATE FUNCTION auditlog.fail_export(job_id bigint, token uuid, error text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job auditlog.export_job := auditlog_internal.fenced_job(job_id, token);
  next_status text := CASE WHEN job.attempts >= job.max_attempts THEN 'failed' ELSE 'pending' END;
BEGIN
  UPDATE auditlog.export_job j
  SET status = next_status, error = coalesce(fail_export.error, 'failed'), lease_token = NULL, lease_expires_at = NULL,
      finished_at = CASE WHEN next_status = 'failed' THEN now() END
  WHERE j.job_id = job.job_id;
  RETURN next_status;
END
$$;
COMMENT ON FUNCTION auditlog.fail_export IS
  'Reports that a claimed export job failed: it is retried (status pending, resuming after its last acknowledged page) until it has used max_attempts, then failed. Returns the new status. Needs the job''s current fencing token.';

CREATE FUNCTION auditlog.cancel_export(job_id bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM auditlog_internal.locked_job(job_id);
  UPDATE auditlog.export_job j SET status = 'cancelled', lease_token = NULL, finished_at = now()
  WHERE j.job_id = cancel_export.job_id AND j.status IN ('pending', 'running');
  RETURN FOUND;
END
$$;
COMMENT ON FUNCTION auditlog.cancel_export IS
  'Cancels a pending or running export job (its worker is fenced off). Returns false if it had ended already.';

CREATE VIEW auditlog.export_status AS
SELECT job_id, status, stream, range_start, range_end, tenant_id, requested_by, format,
       attempts, max_attempts, lease_owner, lease_expires_at, heartbeat_at,
       rows_exported, parts_exported,
       EXISTS (SELECT FROM auditlog.page p WHERE p.job_id = j.job_id AND p.acked_at IS NULL) AS page_in_flight,
       object_url, download_url, link_expires_at, bytes, sha256, error,
       created_at, started_at, finished_at
FROM auditlog.export_job j;
COMMENT ON VIEW auditlog.export_status IS 'On-demand export jobs: status, progress, lease, result and download link.';

