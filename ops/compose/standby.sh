#!/bin/sh
# The standby for figures: on its first start, a base backup of the services' primary with
# streaming set up (-R writes primary_conninfo and standby.signal), then PostgreSQL as a hot
# standby that replays the primary's WAL. Later starts only start it.
set -eu
export PGDATA=/var/lib/postgresql/18/docker
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup -h postgres-services -U replicator \
        -D "$PGDATA" -R -X stream --checkpoint=fast; do
    echo "standby: waiting for the primary" >&2
    rm -rf "$PGDATA"
    sleep 2
  done
  chmod 0700 "$PGDATA"
fi
exec postgres -c hot_standby=on -c hot_standby_feedback=on
