#!/usr/bin/env bash
# Starts a private PostgreSQL cluster for Gatehouse on loopback and makes sure the `gatehouse`
# role and database exist. Prints the connection URL on stdout (last line).
#
#   server  127.0.0.1:${GATEHOUSE_PG_PORT:-15432}, TCP on loopback only, password (SCRAM) auth
#   socket  ${GATEHOUSE_INFRA_STATE:-<repo>/target/infra}/postgres/run/  (admin only, peer auth)
#   state   ${GATEHOUSE_INFRA_STATE:-<repo>/target/infra}/postgres/
#             data/          the cluster (initdb'd once; survives stop/start)
#             postgres.log   server log, appended across starts
#
# Installs Debian's `postgresql` package (apt-get) when no initdb/pg_ctl is found; it never touches
# the system cluster the package may come with. As root, the server runs as the unprivileged OS
# user ${GATEHOUSE_PG_OS_USER:-postgres} (PostgreSQL refuses to run as root); otherwise as you.
#
# Idempotent: if the cluster is already running it says so, still ensures role and database, and
# prints the URL. Reset: stop.sh, then delete the state dir.
#
# Env: GATEHOUSE_PG_PORT, GATEHOUSE_PG_PASSWORD (default gatehouse), GATEHOUSE_PG_OS_USER,
#      GATEHOUSE_INFRA_STATE, GATEHOUSE_PG_START_TIMEOUT (seconds, default 60).
set -euo pipefail
_infra_tag=postgres
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=pg-env.sh
source "$here/pg-env.sh"

start_timeout="${GATEHOUSE_PG_START_TIMEOUT:-60}"
password="${GATEHOUSE_PG_PASSWORD:-gatehouse}"
t0="$(now_ms)"

if ! pg_find_bindir; then
    # A fresh install must not create and start Debian's own "main" cluster on port 5432.
    if [[ ! -e /etc/postgresql-common/createcluster.conf && "$(id -u)" -eq 0 ]]; then
        mkdir -p /etc/postgresql-common
        printf '# Written by gatehouse infra/postgres/start.sh: no system cluster on install.\ncreate_main_cluster = false\n' \
            >/etc/postgresql-common/createcluster.conf
    fi
    apt_install postgresql
    pg_find_bindir || die "installed postgresql but still found no server binaries (looked at \$GATEHOUSE_PG_BINDIR, /usr/lib/postgresql/*/bin, PATH)"
fi
pg_setup_os_user

# --- the cluster -------------------------------------------------------------------------------
mkdir -p "$pg_state"
if [[ -n "$pg_os_user" ]]; then
    chown "$pg_os_user:" "$pg_state"
    # The server user must be able to reach its data dir through every parent directory.
    as_pg test -w "$pg_state" ||
        die "OS user $pg_os_user cannot write $pg_state (a parent directory is not searchable by it?); set GATEHOUSE_INFRA_STATE to a directory it can reach"
fi

if [[ ! -f "$pg_data/PG_VERSION" ]]; then
    info "creating cluster in $pg_data (PostgreSQL $pg_major, server runs as ${pg_os_user:-$(id -un)})"
    as_pg rm -rf "$pg_data.initdb"
    # initdb into a side dir and rename, so a failed initdb leaves nothing half-made behind.
    if ! initdb_out="$(as_pg "$pg_bindir/initdb" -D "$pg_data.initdb" --encoding=UTF8 --no-locale \
        --data-checksums --auth-local=peer --auth-host=scram-sha-256 2>&1)"; then
        printf '%s\n' "$initdb_out" >&2
        die "initdb failed"
    fi
    printf "\n# Gatehouse's settings, rewritten by infra/postgres/start.sh on every start.\ninclude_if_exists = 'gatehouse.conf'\n" |
        as_pg tee -a "$pg_data.initdb/postgresql.conf" >/dev/null
    as_pg mv "$pg_data.initdb" "$pg_data"
fi
cluster_major="$(cat "$pg_data/PG_VERSION")"
[[ "$cluster_major" == "$pg_major" ]] ||
    die "$pg_data was made by PostgreSQL $cluster_major but the binaries found are $pg_major ($pg_bindir); reset the state dir or set PATH"

as_pg mkdir -p "$pg_sockdir"
# Settings that must hold whatever the defaults are; port and paths may change between starts.
as_pg tee "$pg_data/gatehouse.conf" >/dev/null <<EOF
listen_addresses = '$GATEHOUSE_LOOPBACK'
port = $pg_port
unix_socket_directories = '$pg_sockdir'
# Durability as in production: tests that check crash safety must see real fsyncs.
fsync = on
synchronous_commit = on
full_page_writes = on
password_encryption = scram-sha-256
max_connections = 100
EOF

log_offset=0
if pg_running; then
    info "already running (pid $(head -n1 "$pg_data/postmaster.pid")) on $GATEHOUSE_LOOPBACK:$pg_port, state in $pg_state"
else
    if port_open "$pg_port"; then
        die "127.0.0.1:$pg_port is already taken by another process (not this cluster); stop it or set GATEHOUSE_PG_PORT"
    fi
    as_pg touch "$pg_log"
    log_offset="$(stat -c %s "$pg_log")"
    printf '\n===== %s start.sh: starting PostgreSQL on %s:%s =====\n' "$(date -Is)" "$GATEHOUSE_LOOPBACK" "$pg_port" |
        as_pg tee -a "$pg_log" >/dev/null
    # setsid: the postmaster gets a session of its own, so it outlives this shell and its Ctrl-C.
    if ! as_pg setsid -w "$pg_bindir/pg_ctl" start -D "$pg_data" -l "$pg_log" -w -t "$start_timeout" \
        -s >/dev/null 2>&1; then
        log_tail "$pg_log" 40 "$log_offset"
        die "pg_ctl start failed (log: $pg_log)"
    fi
fi

# pg_ctl -w already waited; pg_isready confirms the TCP listener clients use.
deadline=$(($(date +%s) + start_timeout))
until "$pg_bindir/pg_isready" -q -h "$GATEHOUSE_LOOPBACK" -p "$pg_port" -d postgres; do
    if [[ "$(date +%s)" -ge "$deadline" ]]; then
        log_tail "$pg_log" 40 "$log_offset"
        die "not accepting connections on $GATEHOUSE_LOOPBACK:$pg_port after ${start_timeout}s (log: $pg_log)"
    fi
    sleep 0.2
done

# --- role and database (idempotent; the password is (re)set on every start) ---------------------
as_pg "$pg_bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$pg_sockdir" -p "$pg_port" -d postgres \
    -v role="$pg_app_user" -v db="$pg_app_db" -v pw="$password" >/dev/null <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL

url="$(pg_url "$password")"
# The URL a test will use, checked end to end: TCP, password auth, the database.
if ! PGCONNECT_TIMEOUT=10 "$pg_bindir/psql" -X -q -tA "$url" -c 'SELECT 1' >/dev/null; then
    die "could not connect with $url"
fi
info "ready on $GATEHOUSE_LOOPBACK:$pg_port (PostgreSQL $pg_major, data $pg_data) in $(($(now_ms) - t0)) ms; log: $pg_log"
printf '%s\n' "$url"
