#!/usr/bin/env bash
# The Docker Engine step of scripts/setup.sh (sourced there; runnable alone: bash scripts/engine.sh).
#
# If an engine answers, nothing is done. If a dockerd is running but not answering yet (busy,
# still starting), we wait for it: a running engine is never restarted or started twice, so
# re-running setup.sh while a deploy runs does not disturb it. Only when none is running is one
# started, in its own session (setsid: not a job of the caller's process group, so a `timeout`
# or supervisor that ends the caller does not take the engine and every container with it),
# with stdin from /dev/null and its output in a log file.
#
# Overridable (tests use them): GITDEPLOY_DOCKERD_LOG, GITDEPLOY_DOCKERD_PIDFILE, GITDEPLOY_ENGINE_WAIT,
# GITDEPLOY_DOCKERD_MARK (where the pid of a dockerd this script started is noted, so tests can
# tell an engine it started from one started otherwise).

engine_log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# The pid of a live dockerd from its pid file, or nothing.
engine_pid() {
  local pidfile="${GITDEPLOY_DOCKERD_PIDFILE:-/var/run/docker.pid}" pid
  pid="$(cat "$pidfile" 2>/dev/null)" || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] && echo "$pid"
}

ensure_engine() {
  local log="${GITDEPLOY_DOCKERD_LOG:-/var/log/gitdeploy-dockerd.log}" wait="${GITDEPLOY_ENGINE_WAIT:-60}"
  local sudo="" pid started=0
  [ "$(id -u)" = 0 ] || sudo="sudo"
  docker info >/dev/null 2>&1 && return 0
  if pid="$(engine_pid)"; then
    engine_log "dockerd (pid $pid) is running but not answering yet; waiting for it (it is never restarted)"
  else
    if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
      $sudo systemctl start docker || true
    fi
    if ! docker info >/dev/null 2>&1 && ! engine_pid >/dev/null; then
      engine_log "starting dockerd in its own session (log: $log)"
      $sudo sh -c 'exec setsid --fork dockerd </dev/null >>"$1" 2>&1' sh "$log"
      started=1
    fi
  fi
  for _ in $(seq 1 "$wait"); do
    if docker info >/dev/null 2>&1; then
      if [ "${started:-0}" = 1 ] && pid="$(engine_pid)"; then
        echo "$pid" | $sudo tee "${GITDEPLOY_DOCKERD_MARK:-/var/run/gitdeploy-dockerd.pid}" >/dev/null || true
      fi
      return 0
    fi
    sleep 1
  done
  engine_log "Docker Engine did not become ready within ${wait}s; see $log"
  return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  ensure_engine
fi
