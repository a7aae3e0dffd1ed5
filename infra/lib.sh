# shellcheck shell=bash
# Helpers shared by the infra scripts. Sourced, never run: each script sets `set -euo pipefail`
# itself, then sources this file.

# Repository root and the directory all running state lives under (data, logs, pid files).
GATEHOUSE_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Whether every directory from $1 up to / lets other users through (PostgreSQL runs as its own OS
# user when we are root, and must reach its data directory).
gatehouse_world_traversable() {
    local dir="$1" mode
    while [[ -n "$dir" && "$dir" != "/" ]]; do
        if [[ -e "$dir" ]]; then
            mode="$(stat -c %A "$dir")"
            [[ "${mode:9:1}" == "x" || "${mode:9:1}" == "t" ]] || return 1
        fi
        dir="$(dirname "$dir")"
    done
}
if [[ -z "${GATEHOUSE_INFRA_STATE:-}" ]]; then
    GATEHOUSE_INFRA_STATE="$GATEHOUSE_REPO_ROOT/target/infra"
    # A checkout inside a private directory (mktemp -d is 0700) is unreachable for the server's
    # user: keep the state in a per-checkout directory under /var/tmp instead.
    if [[ "$(id -u)" -eq 0 ]] && ! gatehouse_world_traversable "$GATEHOUSE_REPO_ROOT"; then
        GATEHOUSE_INFRA_STATE="/var/tmp/gatehouse-infra-$(printf '%s' "$GATEHOUSE_REPO_ROOT" | sha256sum | cut -c1-12)"
        mkdir -p "$GATEHOUSE_INFRA_STATE"
        chmod 0755 "$GATEHOUSE_INFRA_STATE"
    fi
fi
export GATEHOUSE_REPO_ROOT GATEHOUSE_INFRA_STATE

# The only host the services bind to and are reached on.
readonly GATEHOUSE_LOOPBACK=127.0.0.1

_infra_tag="${_infra_tag:-infra}"

info() { printf '[%s] %s\n' "$_infra_tag" "$*" >&2; }
warn() { printf '[%s] warning: %s\n' "$_infra_tag" "$*" >&2; }
die() {
    printf '[%s] error: %s\n' "$_infra_tag" "$*" >&2
    exit 1
}

# port_open PORT: is something accepting TCP connections on 127.0.0.1:PORT?
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$GATEHOUSE_LOOPBACK/$1" 2>/dev/null
}

# pid_alive PID: does the process exist (and is it not a zombie)?
pid_alive() {
    local pid="$1" state
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/stat" ]] || return 1
    # Field 3 of /proc/PID/stat is the state; Z means already exited, not yet reaped.
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" || return 1
    [[ "$state" != "Z" ]]
}

# pid_cmdline_has PID STRING: does the command line of PID contain STRING? Guards against a stale
# pid file whose number the kernel has since given to an unrelated process.
pid_cmdline_has() {
    local pid="$1" needle="$2"
    pid_alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$needle"
}

# log_tail FILE [N] [OFFSET]: the last N lines of a log file (of what follows byte OFFSET only, if
# given: the current run's part of a log appended to across runs), indented, on stderr.
log_tail() {
    local file="$1" n="${2:-40}" offset="${3:-0}"
    if [[ -f "$file" ]]; then
        printf '[%s] last %s lines of %s:\n' "$_infra_tag" "$n" "$file" >&2
        tail -c "+$((offset + 1))" "$file" | tail -n "$n" | sed 's/^/    /' >&2
    else
        printf '[%s] (no log file at %s)\n' "$_infra_tag" "$file" >&2
    fi
}

# now_ms: wall clock in milliseconds, for the timings the scripts print.
now_ms() { date +%s%3N; }

# apt_install PKG...: install Debian packages non-interactively (as root, or through sudo). Its
# output goes to stderr: stdout of the scripts is kept for what callers capture.
apt_install() {
    local -a sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install $*"
        sudo=(sudo)
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* by hand"
    info "installing Debian packages: $*"
    # No prompts; keep any configuration file already on the machine (dpkg and ucf alike).
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1 apt-get install -y -qq \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        --no-install-recommends "$@" >&2
}
