#!/usr/bin/env bash
# No test file depends on another: each pg_regress file passes alone, in a
# fresh database, and so does each isolation spec; then both suites pass in
# reverse order. Uses the cluster in PGHOST/PGPORT/PGUSER (and PG_CONFIG).
set -euo pipefail
cd "$(dirname "$0")/.."
tests=$(ls test/sql | sed -n 's/\.sql$//p' | sort)
specs=$(ls test/specs | sed -n 's/\.spec$//p' | sort)

run() {  # run WHAT REGRESS ISOLATION
  rm -rf test/output
  mkdir -p test/output
  if ! make -s installcheck REGRESS="$2" ISOLATION="$3" >test/output/make.log 2>&1; then
    cat test/output/make.log test/output/*/regression.diffs 2>/dev/null || true
    echo "FAIL: $1" >&2
    exit 1
  fi
}

for t in $tests; do run "$t alone" "$t" ""; done
echo "ok: each of $(echo $tests | wc -w) pg_regress files passes alone"
for s in $specs; do run "$s alone" "" "$s"; done
echo "ok: each of $(echo $specs | wc -w) isolation specs passes alone"
run "in reverse order" "$(echo $tests | tr ' ' '\n' | sort -r | xargs)" "$(echo $specs | tr ' ' '\n' | sort -r | xargs)"
echo "ok: both suites pass in reverse order"
