#!/usr/bin/env bash
# Stops the private cluster started by start.sh: pg_ctl's "fast" shutdown (disconnects clients,
# checkpoints), then "immediate" if that times out, then SIGKILL to the postmaster. Data is kept.
# Exits 0 if it was not running.
#
# Env: GATEHOUSE_INFRA_STATE, GATEHOUSE_PG_OS_USER, GATEHOUSE_PG_STOP_TIMEOUT (seconds, default 30).
set -euo pipefail
_infra_tag=postgres
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=pg-env.sh
source "$here/pg-env.sh"

stop_timeout="${GATEHOUSE_PG_STOP_TIMEOUT:-30}"

if [[ ! -f "$pg_data/PG_VERSION" ]]; then
    info "no cluster at $pg_data; nothing to stop"
    exit 0
fi
if ! pg_find_bindir; then
    die "no PostgreSQL binaries found to stop $pg_data with"
fi
pg_setup_os_user
if ! pg_running; then
    info "not running (state in $pg_state)"
    exit 0
fi

t0="$(now_ms)"
pid="$(head -n1 "$pg_data/postmaster.pid" 2>/dev/null || true)"
info "stopping PostgreSQL (pid ${pid:-?})"
if ! as_pg "$pg_bindir/pg_ctl" stop -D "$pg_data" -m fast -w -t "$stop_timeout" -s; then
    warn "fast shutdown did not finish in ${stop_timeout}s; trying immediate (crash recovery on next start)"
    log_tail "$pg_log" 20
    if ! as_pg "$pg_bindir/pg_ctl" stop -D "$pg_data" -m immediate -w -t 10 -s && pid_alive "${pid:-x}"; then
        warn "sending SIGKILL to postmaster $pid"
        kill -KILL "$pid" 2>/dev/null || true
    fi
fi
info "stopped in $(($(now_ms) - t0)) ms"
