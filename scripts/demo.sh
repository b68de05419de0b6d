#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine (as root): installs what is
# missing, builds and installs the extension and auditlogctl, starts a
# throwaway Postgres 15 cluster, creates the extension and a sink to a local
# folder (the embedded default), writes sample entries, shows the log
# working, exports the entries with `auditlogctl run` and shows where they are.
#
#   scripts/demo.sh        set up (again) and run the demo; the cluster keeps running
#   scripts/demo.sh stop   stop the demo cluster
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

case "${1:-run}" in
  stop) stop_cluster "$(cluster_dir demo-cluster)"; exit 0 ;;
  run) ;;
  *) die "usage: scripts/demo.sh [stop]" ;;
esac

install_packages
build_extension
log "building auditlogctl (release)"
swift build -c release --product auditlogctl 2>&1 | grep -vE '^(\[|Building|Compiling|Write|Fetching|Fetched|Cloning|Computing|Computed|Creating|Working copy)' || true
install -m 0755 "$(swift build -c release --show-bin-path)/auditlogctl" /usr/local/bin/auditlogctl

cluster=$(cluster_dir demo-cluster)

stop_cluster "$cluster"
rm -rf "$cluster"
start_cluster "$cluster"
database="host=$PGHOST port=$PGPORT user=$PGUSER dbname=demo"
psql -X -q -d postgres -c 'CREATE DATABASE demo'

log "creating the extension and a sink to a local folder"
psql -X -q -v ON_ERROR_STOP=1 -d demo -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION auditlog' \
  -c 'SELECT auditlog.ensure_partitions()' >/dev/null
export_dir=$(dirname "$cluster")/demo-export
rm -rf "$export_dir"
auditlogctl sink add local "file://$export_dir" --database "$database"

log "writing sample entries"
psql -X -q -v ON_ERROR_STOP=1 -d demo <<'SQL'
SET client_min_messages = warning;

-- One-shot entries.
SELECT auditlog.record(operation => 'user.login', actor_type => 'user', actor_id => 'alice',
                       tenant_id => 'acme', source_ip => '192.0.2.10', auth_method => 'password') \gset
SELECT auditlog.record(operation => 'user.login', actor_type => 'user', actor_id => 'mallory',
                       tenant_id => 'acme', source_ip => '203.0.113.66', auth_method => 'password',
                       result => 'error', http_status => 401, error_code => 'bad_password') \gset
SELECT auditlog.record(operation => 'user.provision', stream => 'scim', actor_type => 'idp',
                       actor_id => 'okta', tenant_id => 'acme', resource_type => 'user',
                       resource_id => 'bob', details => '{"groups": ["eng"]}') \gset

-- Two-phase: begun before the work, completed after it.
SELECT auditlog.begin(operation => 'project.create', actor_type => 'user', actor_id => 'alice',
                      tenant_id => 'acme', request_id => 'req-1', request_uri => '/v1/projects') AS id \gset
SELECT auditlog.complete(:'id', 'success', http_status => 201, resource_type => 'project',
                         resource_id => 'prj-1') \gset

-- Begun and never completed: the process crashed mid-request. timeout_pending()
-- (run with a 4-hour grace period normally) logs it as timeout.
SELECT auditlog.begin(operation => 'disk.resize', actor_type => 'user', actor_id => 'alice',
                      tenant_id => 'acme', request_id => 'req-2') \gset
SELECT pg_sleep(1.1) \gset
SELECT auditlog.timeout_pending(older_than => '1 second') \gset

-- And one still in flight.
SELECT auditlog.begin(operation => 'vm.create', actor_type => 'user', actor_id => 'alice',
                      tenant_id => 'acme', request_id => 'req-3') \gset
SQL

log "the log"
psql -X -d demo -c "SELECT to_char(logged_at AT TIME ZONE 'UTC', 'HH24:MI:SS.MS') AS logged_at_utc, stream,
  operation, actor_id, result, http_status, resource_id, tableoid::regclass AS partition
  FROM auditlog.entry ORDER BY logged_at, id"

log "it is append-only"
psql -X -d demo -c "UPDATE auditlog.entry SET result = 'success' WHERE actor_id = 'mallory'" 2>&1 | head -1 || true

log "auditlogctl run: tick, time out, make partitions, purge, export"
auditlogctl run --database "$database"

log "exported to $export_dir"
find "$export_dir" -type f | sort | sed "s|^$export_dir/|  |"
first=$(find "$export_dir" -type f -name '*.ndjson.gz' | sort | head -1)
echo "first line of ${first#$export_dir/}:"
gzip -dc "$first" | head -1

log "auditlogctl verify local: every page there, unedited and chained"
auditlogctl verify local --database "$database"

log "auditlogctl status"
auditlogctl status --database "$database"
auditlogctl sink list --database "$database"

cat <<EOF

The demo cluster is still running. Try:
  psql '$database'
  auditlogctl status --database '$database'
Stop it with: scripts/demo.sh stop
EOF
