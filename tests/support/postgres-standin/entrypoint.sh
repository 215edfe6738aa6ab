#!/bin/sh
# Test-only: what the official image's entrypoint does for a non-root user, for the
# variables the project uses (POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD_FILE).
set -eu
bin=/usr/lib/postgresql/15/bin
data=${PGDATA:-/var/lib/postgresql/data}
if [ ! -s "$data/PG_VERSION" ]; then
  "$bin/initdb" -D "$data" -U "$POSTGRES_USER" --pwfile="$POSTGRES_PASSWORD_FILE" \
    -A scram-sha-256 >/dev/null
  echo "host all all all scram-sha-256" >> "$data/pg_hba.conf"
  echo "listen_addresses = '*'" >> "$data/postgresql.conf"
  echo "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\";" |
    "$bin/postgres" --single -D "$data" postgres >/dev/null
fi
exec "$bin/postgres" -D "$data"
