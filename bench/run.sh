#!/usr/bin/env bash
# Runs every benchmark and appends its figures to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh deps
command -v docker-compose >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }
py=.venv/bin/python
for script in core rollback heal webhook; do
  if [ -f "bench/$script.py" ]; then echo "== bench/$script.py"; "$py" "bench/$script.py" --write; fi
done
