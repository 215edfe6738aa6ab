#!/bin/sh
# The sink's two PostgreSQL roles, least privilege (docs/durable-sink.md#roles):
#   - the migration owner (SINK_MIGRATION_USER): owns the sink's tables and applies its
#     migrations; may create tables in schema public of this database, nothing more;
#   - the runtime role (SINK_USER): what the sink writes with; SELECT and INSERT on the
#     tables the owner makes there, and nothing else: no UPDATE, DELETE or TRUNCATE, no
#     other table, no new table, no role, no COPY ... PROGRAM (superusers only).
# Neither is a superuser; the image's own superuser (POSTGRES_USER) is for an
# administrator, and the sink never holds its password.
#
# The postgres image runs this once, as its superuser, when it initialises an empty data
# folder (/docker-entrypoint-initdb.d); docker-compose.yml mounts it there. The same
# script sets up any other server, Cloud SQL included, as a user allowed to create roles:
#   PGHOST=... PGPORT=5432 PGPASSWORD=... POSTGRES_USER=postgres POSTGRES_DB=readings \
#   SINK_MIGRATION_USER=sink_owner SINK_MIGRATION_PASSWORD_FILE=owner.txt \
#   SINK_USER=sink SINK_PASSWORD_FILE=sink.txt sh deploy/postgres/initdb.d/10-sink-roles.sh
# Run again, it changes nothing but the passwords.
set -eu

: "${POSTGRES_USER:?the superuser (or Cloud SQL's postgres) to run this as}"
: "${POSTGRES_DB:?the sink's database}"
: "${SINK_MIGRATION_USER:?the role that owns the tables and migrates them}"
: "${SINK_MIGRATION_PASSWORD_FILE:?a file holding the migration owner's password}"
: "${SINK_USER:?the role the sink writes as}"
: "${SINK_PASSWORD_FILE:?a file holding the runtime role's password}"
for file in "$SINK_MIGRATION_PASSWORD_FILE" "$SINK_PASSWORD_FILE"; do
  if [ ! -s "$file" ]; then
    echo "10-sink-roles.sh: $file is missing or empty" >&2
    exit 1
  fi
done

# The passwords are read by psql itself (backticks below), so they appear in no command
# line; the names, not secret, are psql variables. A trailing newline is no part of a
# password, as for POSTGRES_PASSWORD_FILE.
psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password \
  --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner="$SINK_MIGRATION_USER" -v runtime="$SINK_USER" -v database="$POSTGRES_DB" <<'SQL'
\set owner_password `tr -d '\r\n' < "$SINK_MIGRATION_PASSWORD_FILE"`
\set runtime_password `tr -d '\r\n' < "$SINK_PASSWORD_FILE"`

-- Created without any attribute but LOGIN: not a superuser, no CREATEDB, no CREATEROLE,
-- no REPLICATION, no BYPASSRLS; NOINHERIT, so a role granted to it later lends it nothing
-- unasked.
SELECT format('CREATE ROLE %I LOGIN NOINHERIT', :'owner')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I LOGIN NOINHERIT', :'runtime')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'runtime') \gexec
ALTER ROLE :"owner" WITH PASSWORD :'owner_password';
ALTER ROLE :"runtime" WITH PASSWORD :'runtime_password';

-- This database: only these two connect (and the superuser), nobody makes temporary
-- tables, and only the owner creates anything, in schema public alone.
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"database" TO :"owner", :"runtime";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO :"owner";
GRANT USAGE ON SCHEMA public TO :"runtime";

-- Every table the owner creates in public (the sink's own and SINK_MIGRATIONS'): the
-- runtime role inserts (INSERT ... ON CONFLICT DO NOTHING) and reads back what it
-- inserted (RETURNING message_id needs SELECT). The migrations' own tracking tables are
-- taken back from it by the sink as it creates them (subscriber/sink/store.py).
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT SELECT, INSERT ON TABLES TO :"runtime";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT USAGE ON SEQUENCES TO :"runtime";
SQL
echo "10-sink-roles.sh: roles $SINK_MIGRATION_USER (migrations) and $SINK_USER (runtime) ready in $POSTGRES_DB"
