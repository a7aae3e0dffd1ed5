# shellcheck shell=bash
# Settings and helpers shared by infra/postgres/start.sh and stop.sh. Sourced after ../lib.sh.
# shellcheck disable=SC2034 # the variables are used by the scripts that source this file

pg_port="${GATEHOUSE_PG_PORT:-15432}"
pg_state="$GATEHOUSE_INFRA_STATE/postgres"
pg_data="$pg_state/data"
pg_sockdir="$pg_state/run"
pg_log="$pg_state/postgres.log"
pg_app_user=gatehouse
pg_app_db=gatehouse
pg_bindir=""
pg_major=""
pg_os_user=""

# pg_find_bindir: sets pg_bindir/pg_major to the server binaries to use; false if there are none.
# Order: $GATEHOUSE_PG_BINDIR, the newest Debian /usr/lib/postgresql/<major>/bin, then initdb and
# pg_ctl on PATH.
pg_find_bindir() {
    local dir="" candidate
    if [[ -n "${GATEHOUSE_PG_BINDIR:-}" ]]; then
        dir="$GATEHOUSE_PG_BINDIR"
    else
        candidate="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n1)"
        if [[ -n "$candidate" ]]; then
            dir="$(dirname "$candidate")"
        elif command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
            dir="$(dirname "$(readlink -f "$(command -v initdb)")")"
        fi
    fi
    [[ -n "$dir" ]] || return 1
    local tool
    for tool in initdb pg_ctl postgres psql pg_isready; do
        [[ -x "$dir/$tool" ]] || return 1
    done
    pg_bindir="$dir"
    # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> 15
    pg_major="$("$dir/postgres" --version | sed -n 's/^[^0-9]*\([0-9][0-9]*\).*/\1/p')"
    [[ -n "$pg_major" ]]
}

# pg_setup_os_user: as root, picks (and if need be creates) the unprivileged user the server runs
# as; otherwise the server runs as the current user.
pg_setup_os_user() {
    if [[ "$(id -u)" -ne 0 ]]; then
        pg_os_user=""
        return
    fi
    pg_os_user="${GATEHOUSE_PG_OS_USER:-postgres}"
    [[ "$pg_os_user" != root ]] || die "PostgreSQL refuses to run as root; GATEHOUSE_PG_OS_USER must name another user"
    if ! id -u "$pg_os_user" >/dev/null 2>&1; then
        info "creating system user $pg_os_user to run the server"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$pg_os_user"
    fi
}

# as_pg CMD...: runs CMD as the server's OS user, from / (its home or our cwd may be unreadable).
as_pg() {
    if [[ -n "$pg_os_user" ]]; then
        (cd / && runuser -u "$pg_os_user" -- "$@")
    else
        "$@"
    fi
}

# pg_running: is the cluster in $pg_data running? Also clears the lock file of a postmaster that
# died without cleaning up (kill -9, OOM): when its pid is gone, is a zombie nobody has reaped yet,
# or now belongs to an unrelated process, PostgreSQL itself could refuse to start on that file.
pg_running() {
    local pid
    [[ -f "$pg_data/PG_VERSION" ]] || return 1
    if [[ -f "$pg_data/postmaster.pid" ]]; then
        pid="$(head -n1 "$pg_data/postmaster.pid" 2>/dev/null || true)"
        if ! pid_cmdline_has "$pid" "$pg_data"; then
            warn "removing stale $pg_data/postmaster.pid (postmaster ${pid:-?} is gone)"
            as_pg rm -f "$pg_data/postmaster.pid"
            return 1
        fi
    fi
    as_pg "$pg_bindir/pg_ctl" status -D "$pg_data" >/dev/null 2>&1
}

# pg_url PASSWORD: the application's connection URL, password percent-encoded.
pg_url() {
    local pw="$1" out="" c i LC_ALL=C
    for ((i = 0; i < ${#pw}; i++)); do
        c="${pw:i:1}"
        case "$c" in
            [A-Za-z0-9._~-]) out+="$c" ;;
            *) out+="$(printf '%%%02X' "'$c")" ;;
        esac
    done
    printf 'postgres://%s:%s@%s:%s/%s\n' "$pg_app_user" "$out" "$GATEHOUSE_LOOPBACK" "$pg_port" "$pg_app_db"
}
