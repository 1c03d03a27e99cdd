#!/bin/sh
# team-entry postgres | lb: one role of the compose `team` profile (docker/team.Dockerfile).
set -eu
case "${1:-}" in
postgres)
    # A cluster in the volume on first start; clients on the compose network log in with a password.
    PGDATA=/var/lib/postgresql/data
    BIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
    mkdir -p "$PGDATA" /run/postgresql && chown -R postgres "$PGDATA" /run/postgresql
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        echo "${POSTGRES_PASSWORD:?}" > /tmp/pw && chown postgres /tmp/pw
        su postgres -c "$BIN/initdb -D $PGDATA -U ${POSTGRES_USER:-fc} --pwfile=/tmp/pw -E UTF8 --auth-local=trust --auth-host=scram-sha-256"
        rm -f /tmp/pw
        echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
        su postgres -c "$BIN/pg_ctl -D $PGDATA -o '-c listen_addresses=' -w start"
        su postgres -c "psql -U ${POSTGRES_USER:-fc} -d postgres -c 'CREATE DATABASE ${POSTGRES_DB:-fc}'"
        su postgres -c "$BIN/pg_ctl -D $PGDATA -w stop"
    fi
    exec su postgres -c "exec $BIN/postgres -D $PGDATA -c listen_addresses='*' -c max_connections=300"
    ;;
lb)
    # Round robin over every address the replicas' service name has (resolved at start: `lb` starts
    # after the replicas; restart it after scaling them).
    cat > /etc/nginx/nginx.conf <<CONF
worker_processes 1;
events { worker_connections 4096; }
http {
    map \$http_upgrade \$connection { default upgrade; '' ''; }  # InstanceExec's WebSocket
    upstream replicas { server ${FC_REPLICAS_HOST:-replica}:9000; keepalive 64; }
    client_max_body_size 200m;
    proxy_read_timeout 86400s;
    server {
        listen 9000;
        location / {
            proxy_pass http://replicas;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection;
            proxy_set_header Host \$http_host;
            proxy_buffering off;
            proxy_request_buffering off;
        }
    }
}
CONF
    exec nginx -g 'daemon off;'
    ;;
*)
    echo "usage: team-entry postgres|lb" >&2; exit 2 ;;
esac
