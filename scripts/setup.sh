#!/usr/bin/env bash
# gitdeploy set-up: one script, two jobs.
#   bash scripts/setup.sh demo   # install everything, then run the main job on embedded defaults
#   bash scripts/setup.sh test   # install everything, then run the whole test suite
#   bash scripts/setup.sh deps   # install only
# Safe to run again: every step checks before it acts.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
job="${1:-deps}"; shift || true
log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then $SUDO apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# 1. System packages: git, Python venv support, Docker Engine, static busybox (the offline base image),
#    Debian's docker-registry (tests/swarm).
need=()
command -v git >/dev/null || need+=(git)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v dockerd >/dev/null || need+=(docker.io)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v docker-registry >/dev/null || need+=(docker-registry)  # the registry of the multi-node tests
if [ ${#need[@]} -gt 0 ]; then log "installing ${need[*]}"; apt_install "${need[@]}"; fi

# 2. Docker Engine: leave a running one alone; otherwise start one in its own session and wait
#    until it answers (scripts/engine.sh).
source "$here/scripts/engine.sh"
ensure_engine

# 3. Python: a virtualenv with gitdeploy and its test tools.
if [ ! -x .venv/bin/python ]; then log "creating .venv"; python3 -m venv .venv; fi
stamp=.venv/.gitdeploy-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log "installing gitdeploy into .venv"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e '.[test]'
  touch "$stamp"
fi
export PATH="$here/.venv/bin:$PATH"

case "$job" in
  deps) log "ready: $(gitdeploy --version)";;
  demo) exec gitdeploy demo "$@";;
  test)
    # headless Chromium renders the dashboard in tests/hooks (Debian's package; only tests need it)
    command -v chromium >/dev/null || { log "installing chromium"; apt_install chromium; }
    log "ruff"; ruff check gitdeploy webhook tests bench
    log "pytest"; exec python -m pytest -n 2 --dist loadgroup -q --durations=25 "$@";;
  *) log "unknown job '$job' (use demo, test or deps)"; exit 2;;
esac
