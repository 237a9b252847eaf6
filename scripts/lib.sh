# Shared set-up for scripts/up and scripts/test: PostGIS, the local cluster, the database, the venv.
# Every step checks before it acts, so running it again is quick and changes nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_VERSION="${GRIDGOV_PG_VERSION:-15}"
PG_CLUSTER="${GRIDGOV_PG_CLUSTER:-main}"
PG_PORT="${GRIDGOV_PG_PORT:-5432}"
DB_USER="${GRIDGOV_DB_USER:-gridgov}"
DB_PASSWORD="${GRIDGOV_DB_PASSWORD:-gridgov}"
DB_NAME="${GRIDGOV_DB_NAME:-gridgov}"
TEMPLATE_DB="gridgov_template"
VENV="${GRIDGOV_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
export GRIDGOV_DATABASE_URL="${GRIDGOV_DATABASE_URL:-postgresql+psycopg2://$DB_USER:$DB_PASSWORD@localhost:$PG_PORT/$DB_NAME}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# PostgreSQL refuses to run as root: the Debian cluster and its admin commands run as postgres.
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

ensure_apt_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_postgis() {
  ensure_apt_packages "postgresql-$PG_VERSION" "postgresql-$PG_VERSION-postgis-3"
  if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$PG_VERSION $PG_CLUSTER"; then
    say "creating PostgreSQL cluster $PG_VERSION/$PG_CLUSTER"
    as_root pg_createcluster "$PG_VERSION" "$PG_CLUSTER" --port "$PG_PORT" >/dev/null
  fi
  if ! pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {print $4}' | grep -q online; then
    say "starting PostgreSQL $PG_VERSION/$PG_CLUSTER"
    as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start
  fi
  for _ in $(seq 1 30); do
    pg_isready -q -h localhost -p "$PG_PORT" && break
    sleep 1
  done
  pg_isready -q -h localhost -p "$PG_PORT" || { echo "PostgreSQL did not come up on port $PG_PORT" >&2; exit 1; }
}

psql_admin() {
  as_postgres psql -v ON_ERROR_STOP=1 -q -X -p "$PG_PORT" "$@"
}

# The app role owns its databases but is no superuser. PostGIS is not a trusted extension, so
# the extensions go into a template database created by postgres; databases made from it (the
# main one and every test database) have them without needing superuser rights.
ensure_database() {
  psql_admin -d postgres <<SQL
DO \$\$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
  END IF;
END\$\$;
-- Bulk imports (gridgov.cases.bulk) check foreign keys once per referenced row instead of once
-- per row, in replica mode. The role owns its tables and could drop their keys anyway.
GRANT SET ON PARAMETER session_replication_role TO $DB_USER;
SQL
  if [ -z "$(psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$TEMPLATE_DB'")" ]; then
    say "creating template database $TEMPLATE_DB (postgis, btree_gist)"
    psql_admin -d postgres -c "CREATE DATABASE $TEMPLATE_DB OWNER $DB_USER"
    psql_admin -d "$TEMPLATE_DB" -c "CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS btree_gist;"
    psql_admin -d postgres -c "ALTER DATABASE $TEMPLATE_DB WITH IS_TEMPLATE true"
  fi
  if [ -z "$(psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" ]; then
    say "creating database $DB_NAME"
    psql_admin -d postgres -c "CREATE DATABASE $DB_NAME OWNER $DB_USER TEMPLATE $TEMPLATE_DB"
  fi
}

ensure_venv() {
  local stamp="$VENV/.gridgov-install-stamp"
  local want
  want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing gridgov and its dependencies into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    "$VENV/bin/python" -m pip install -q -e "$ROOT[dev]" 2>&1 | grep -v -E "^WARNING: Location|ignored: it is neither" || true
    "$VENV/bin/python" -c "import gridgov, gridgov_api" >/dev/null
    echo "$want" > "$stamp"
  fi
}
