#!/usr/bin/env bash
# The chaos suite (Tests/chaos/chaos.py) on a Postgres cluster and an S3
# server (moto) of its own, both on loopback, stopped when it ends: the suite
# restarts Postgres with pg_ctl -m immediate, which no other test may share.
# Options go to chaos.py: --runs N, --seconds S, --long S, --help.
#
#   Tests/chaos/run.sh --runs 20 --seconds 30     # what the closing note reports
#   Tests/chaos/run.sh --long 3600                # an hour of runs
#   AUDITLOGCTL=/usr/local/bin/auditlogctl Tests/chaos/run.sh   # that build
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"

install_packages
build_extension
python_venv psycopg 'psycopg[binary]'
# AUDITLOGCTL names a build to test (a release build, say); else a debug build.
auditlogctl=${AUDITLOGCTL:-}
if [ -z "$auditlogctl" ]; then
  log "building auditlogctl"
  swift build -q --product auditlogctl
  auditlogctl=$(swift build --show-bin-path)/auditlogctl
fi

# A cluster of this invocation's own (several may run at once), removed at
# the end unless KEEP=1 (the exporters' logs are in it).
cluster=$(cluster_dir "chaos-cluster-$$")
trap 'stop_cluster "$cluster"; [ "${KEEP:-}" = 1 ] || rm -rf "$cluster"' EXIT
start_cluster "$cluster"
start_moto "$cluster/moto.log"
trap 'kill $MOTO_PID 2>/dev/null; stop_cluster "$cluster"; [ "${KEEP:-}" = 1 ] || rm -rf "$cluster"' EXIT

log "chaos: writers, killed exporters, storage faults, a Postgres crash"
"$PYTHON" Tests/chaos/chaos.py --port "$PGPORT" --pgdata "$cluster/data" --moto "http://127.0.0.1:$S3_PORT" \
  --auditlogctl "$auditlogctl" --workdir "$cluster" "$@"
