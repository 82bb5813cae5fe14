# Shared helpers for the shell test suites (sourced, not run).
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ROOT

ok() { printf '  ok: %s\n' "$*"; }
fail() {
    printf '  FAIL: %s\n' "$*" >&2
    exit 1
}
# Missing prerequisites: skipped locally, a failure under CI=true.
skip() {
    printf '  SKIP: %s\n' "$*" >&2
    if [ "${CI:-}" = true ]; then
        exit 1
    fi
    exit 77
}

# A TCP port nobody listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL SECONDS [PID]: poll until URL answers 2xx; give up early when
# PID (the server) has exited.
wait_http() {
    local url=$1 secs=$2 pid=${3:-} i
    for i in $(seq 1 $((secs * 10))); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        [ "$i" -gt 0 ] && sleep 0.1
    done
    return 1
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
    local secs=$1 i
    shift
    for i in $(seq 1 $((secs * 5))); do
        "$@" && return 0
        [ "$i" -gt 0 ] && sleep 0.2
    done
    return 1
}
