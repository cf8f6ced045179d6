#!/usr/bin/env bash
# Creates one database and one login role per client of the shared PostgreSQL: MLflow's tracking
# store, Prefect's server, and the project's prediction/label log. Separate roles, so a leaked
# serving credential cannot touch the model registry and `pg_dump` can back each one up alone.
# Then a read-only role for Grafana's dashboards on the project's database.
#
# The official image runs the files of /docker-entrypoint-initdb.d once, when the data volume is
# empty, as the superuser, against a server that listens on its socket only; the passwords come
# from the container's environment (deploy/compose.yaml, from deploy/.env). Changing a password
# later means ALTER ROLE by hand: this script never runs again on an initialised volume.
# tests/test_deploy.py runs it against a throwaway server.
set -euo pipefail

: "${POSTGRES_USER:?}"
: "${DB_PASSWORD_MLFLOW:?set DB_PASSWORD_MLFLOW}"
: "${DB_PASSWORD_PREFECT:?set DB_PASSWORD_PREFECT}"
: "${DB_PASSWORD_LIFECYCLE:?set DB_PASSWORD_LIFECYCLE}"
: "${DB_PASSWORD_GRAFANA:?set DB_PASSWORD_GRAFANA}"

admin_psql() {
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" "$@"
}

# psql variables (:"name" quotes an identifier, :'password' a literal), so no value is ever
# pasted into SQL text: a password with a quote in it is still just a password.
create_database() {
  admin_psql --dbname "${POSTGRES_DB:-postgres}" --set=name="$1" --set=password="$2" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
-- PostgreSQL lets every role connect to every database by default: only the owner may here.
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
}

create_database mlflow "$DB_PASSWORD_MLFLOW"
create_database prefect "$DB_PASSWORD_PREFECT"
create_database lifecycle "$DB_PASSWORD_LIFECYCLE"

# Prefect's migrations need pg_trgm. It is a trusted extension (the owner could create it), but
# creating it here as the superuser keeps the server's first start independent of that detail.
admin_psql --dbname prefect --command 'CREATE EXTENSION IF NOT EXISTS pg_trgm;'

# Grafana reads the monitoring windows (and may read the logs) of the lifecycle database, and
# nothing else: it may connect there only, and SELECT the tables the lifecycle role creates
# (default privileges: the serving API and the monitor create them later, on first use).
# Grafana runs whatever SQL a dashboard editor types, so the role owns nothing and may not
# write; its sessions also start read-only.
admin_psql --dbname lifecycle --set=password="$DB_PASSWORD_GRAFANA" <<'SQL'
CREATE ROLE grafana LOGIN PASSWORD :'password';
ALTER ROLE grafana SET default_transaction_read_only = on;
GRANT CONNECT ON DATABASE lifecycle TO grafana;
GRANT USAGE ON SCHEMA public TO grafana;
ALTER DEFAULT PRIVILEGES FOR ROLE lifecycle IN SCHEMA public GRANT SELECT ON TABLES TO grafana;
SQL
