#!/usr/bin/env bash
# Starts the local PostgreSQL server when it is down and creates the test database, so that CI and a
# fresh machine need nothing done by hand. The URL can be overridden with PE_TEST_POSTGRES_URL.
set -euo pipefail
db=${PE_TEST_POSTGRES_DB:-process_engine_test}
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname='$db'" | grep -q 1; then
  createdb -h 127.0.0.1 -U postgres "$db"
fi
