#!/usr/bin/env bash
# Runs every benchmark and appends its figures to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh deps
command -v docker-compose >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }
py=.venv/bin/python
"$py" bench/core.py --write
"$py" bench/rollback.py --write
"$py" bench/rollback.py --build --write
"$py" bench/heal.py --write
"$py" bench/webhook.py --write
