-- Roles. Roles belong to the cluster, not to a database, so they may already
-- exist (the extension installed in another database, or made beforehand by
-- an administrator, for an installer that may not make roles).

DO $$
BEGIN
  IF (SELECT count(*) FROM pg_catalog.pg_roles
      WHERE rolname IN ('auditlog_writer', 'auditlog_reader', 'auditlog_admin')) < 3
     AND NOT (SELECT rolcreaterole OR rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
    RAISE EXCEPTION 'auditlog needs the roles auditlog_writer, auditlog_reader and auditlog_admin, and role % may not create them', current_user
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Install as a role with CREATEROLE, or have one run: CREATE ROLE auditlog_writer NOLOGIN; '
                   'CREATE ROLE auditlog_reader NOLOGIN; CREATE ROLE auditlog_admin NOLOGIN; '
                   'GRANT auditlog_writer, auditlog_reader TO auditlog_admin; then install again.';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'auditlog_writer') THEN
    CREATE ROLE auditlog_writer NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'auditlog_reader') THEN
    CREATE ROLE auditlog_reader NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'auditlog_admin') THEN
    CREATE ROLE auditlog_admin NOLOGIN;
  END IF;
END
$$;
-- (Only when missing: on a managed service the installing role has
-- CREATEROLE but, from Postgres 16 on, may grant only roles it made or holds
-- with ADMIN OPTION; roles an administrator made beforehand, already set up,
-- need nothing from it.)
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_auth_members m
                 WHERE m.roleid = 'auditlog_writer'::regrole AND m.member = 'auditlog_admin'::regrole)
     OR NOT EXISTS (SELECT FROM pg_catalog.pg_auth_members m
                    WHERE m.roleid = 'auditlog_reader'::regrole AND m.member = 'auditlog_admin'::regrole) THEN
    GRANT auditlog_writer, auditlog_reader TO auditlog_admin;
  END IF;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA auditlog, auditlog_internal FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA auditlog FROM PUBLIC;
-- (auditlog_internal too: its functions are refused one by one, with a
-- message that names the function, unless granted below.)
GRANT USAGE ON SCHEMA auditlog, auditlog_internal TO auditlog_writer, auditlog_reader, auditlog_admin;

GRANT EXECUTE ON FUNCTION auditlog.record, auditlog.begin, auditlog.complete
  TO auditlog_writer;
GRANT SELECT ON auditlog.entry, auditlog.pending, auditlog.partitions, auditlog.health,
  auditlog.sink, auditlog.sink_status, auditlog.export_status, auditlog.backfill_status,
  auditlog.page, auditlog.sink_state
  TO auditlog_reader;
-- auditlog.health shows open import spans by their lock's keys.
GRANT EXECUTE ON FUNCTION auditlog.valid_stream, auditlog.edition TO auditlog_writer, auditlog_reader;
GRANT EXECUTE ON FUNCTION auditlog_internal.import_lock_class, auditlog_internal.import_lock_key, auditlog_internal.import_span_locks,
  auditlog_internal.clock_floor_time TO auditlog_reader;
GRANT EXECUTE ON FUNCTION auditlog.utc_day, auditlog_internal.partition_range, auditlog.settled_horizon, auditlog.list,
  auditlog.sink_exported_before, auditlog.sink_lag_rows
  TO auditlog_reader;
GRANT EXECUTE ON FUNCTION auditlog.timeout_pending, auditlog.ensure_partitions, auditlog.purge, auditlog.purge_preview,
  auditlog.tick, auditlog.create_sink, auditlog.enable_sink, auditlog.disable_sink, auditlog.drop_sink,
  auditlog.next_page, auditlog.ack, auditlog.unpin_page,
  auditlog.request_export, auditlog.claim_export, auditlog.heartbeat_export, auditlog.export_next_page,
  auditlog.ack_export_page, auditlog.finish_export, auditlog.fail_export, auditlog.cancel_export,
  auditlog.start_backfill, auditlog.backfill_next_page, auditlog.backfill_ack, auditlog.cancel_backfill,
  auditlog.backfill_gap, auditlog.waive_gaps,
  auditlog.import_begin, auditlog.import_rows, auditlog_internal.claim_import_span, auditlog_internal.import_staged_rows, auditlog.import_abandon
  TO auditlog_admin;
-- import_rows() runs with the caller's rights: it stages the source's rows
-- (every column but the staging transaction's xid, which is its own).
GRANT INSERT (span_id, id, stream, logged_at, started_at, operation, actor_type, actor_id, tenant_id,
              resource_type, resource_id, request_id, request_uri, source_ip, user_agent, auth_method,
              credential_id, result, http_status, error_code, error_message, details)
  ON auditlog.import_stage TO auditlog_admin;
REVOKE ALL ON PROCEDURE auditlog.import FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE auditlog.import TO auditlog_admin;
