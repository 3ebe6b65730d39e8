#!/bin/sh
# The application's database and its owner, the role `sentinel db migrate` runs as (the local
# stack makes the same pair: deploy/local/postgres.py). Run once by the postgres image, on an
# empty data volume, as its superuser. The services' own login roles are `sentinel db roles`'.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v owner_password="$SENTINEL_DB_PASSWORD" <<'SQL'
CREATE ROLE sentinel LOGIN PASSWORD :'owner_password';
CREATE DATABASE sentinel OWNER sentinel;
SQL
