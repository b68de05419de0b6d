#!/usr/bin/env bash
# A pg_dump / pg_restore round trip keeps every entry: day partitions (made at
# run time, so not extension members), strays in DEFAULT and begun entries
# (registered with pg_extension_config_dump). A naive layout restores an empty
# log. Sinks come back too, without their export state (ticks and xids mean
# nothing in another cluster): they re-anchor, never export a restored entry
# again, and export what is written after. Uses the cluster in
# PGHOST/PGPORT/PGUSER. With OWNER=role (the SQL edition, extension/test/
# sql_edition.sh), that role owns both databases, creates the extension and
# dumps and restores them, as on a managed service, where nobody is a
# superuser.
set -euo pipefail
psql=(psql -X -q -v ON_ERROR_STOP=1)
dump=$(mktemp)
trap 'rm -f "$dump"' EXIT
owner=${OWNER:-$PGUSER}

"${psql[@]}" -d postgres -c 'SET client_min_messages = warning' -c 'DROP DATABASE IF EXISTS dump_source' -c 'DROP DATABASE IF EXISTS dump_target' \
  -c "CREATE DATABASE dump_source OWNER $owner" -c "CREATE DATABASE dump_target OWNER $owner"
"${psql[@]}" -o /dev/null -U "$owner" -d dump_source <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION auditlog;
SELECT auditlog.ensure_partitions(2);
SELECT auditlog.create_sink('offsite', 's3://audit-offsite/prod');
SELECT auditlog.record(operation => 'dump.exported');
SELECT auditlog.ack('offsite', page_id) FROM auditlog.next_page('offsite');
SELECT auditlog.record(operation => 'dump.entry', actor_id => 'u-' || n, details => jsonb_build_object('n', n))
FROM generate_series(1, 50) AS n;
SELECT auditlog.complete(auditlog.begin(operation => 'dump.completed'), 'error', http_status => 500);
SELECT auditlog.begin(operation => 'dump.pending', tenant_id => 'org-1');
-- A stray in DEFAULT (a day with no partition yet).
INSERT INTO auditlog.entry (id, logged_at, started_at, operation, result, writer_xid)
VALUES ('01890000-0000-7000-8000-0000000000d1', now() - interval '30 days', now() - interval '30 days',
        'dump.stray', 'success', pg_current_xact_id());
SQL

fingerprint() {
  "${psql[@]}" -At -d "$1" -c "
    SELECT (SELECT count(*) || ' entries ' || md5(string_agg(to_jsonb(e)::text, '' ORDER BY logged_at, id))
            FROM auditlog.entry e)
        || ' / ' ||
           (SELECT count(*) || ' pending ' || coalesce(md5(string_agg(to_jsonb(p)::text, '' ORDER BY id)), '')
            FROM auditlog.pending p)
        || ' / ' ||
           (SELECT count(*) || ' partitions' FROM auditlog.partitions)
        || ' / ' ||
           (SELECT count(*) || ' in default' FROM ONLY auditlog.entry_default)"
}

# (The server's own pg_dump when PG_BIN names its binaries.)
"${PG_BIN:+$PG_BIN/}pg_dump" -Fc -U "$owner" -d dump_source -f "$dump"
"${PG_BIN:+$PG_BIN/}pg_restore" --exit-on-error -U "$owner" -d dump_target "$dump"

before=$(fingerprint dump_source)
after=$(fingerprint dump_target)
echo "source:   $before"
echo "restored: $after"
if [ "$before" != "$after" ]; then
  echo "FAIL: the restored log differs from the dumped one" >&2
  exit 1
fi
case "$before" in 0\ entries*) echo "FAIL: the source log is empty" >&2; exit 1 ;; esac

# The sink came back and re-anchors: nothing restored is exported again, what
# is written now is.
sink=$("${psql[@]}" -At -d dump_target -c "SELECT count(*) FROM auditlog.next_page('offsite')" 2>&1)
case "$sink" in
  *'sink "offsite" re-anchored'*0) ;;
  *) echo "FAIL: the restored sink did not re-anchor cleanly: $sink" >&2; exit 1 ;;
esac
"${psql[@]}" -d dump_target -c "SELECT auditlog.record(operation => 'after.restore.exported')" >/dev/null
exported=$("${psql[@]}" -At -d dump_target -c "SELECT rows || ' ' || (body::json->>'operation') FROM auditlog.next_page('offsite')")
if [ "$exported" != "1 after.restore.exported" ]; then
  echo "FAIL: after the restore the sink exported '$exported', not just the new entry" >&2
  exit 1
fi
"${psql[@]}" -At -d dump_target -c "SELECT 'sink: ' || anchor_reason FROM auditlog.sink_status"

# The restored log is still append-only and still writable.
"${psql[@]}" -d dump_target -c "SELECT auditlog.record(operation => 'after.restore')" >/dev/null
if "${psql[@]}" -d dump_target -c "DELETE FROM auditlog.entry" 2>/dev/null; then
  echo "FAIL: the restored log accepted DELETE" >&2
  exit 1
fi
echo "ok: dump and restore keep every entry"
