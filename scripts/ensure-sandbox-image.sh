#!/usr/bin/env bash
# Build the sgr-sandbox image when the current recipe's tag is missing (idempotent, no registry).
# Needs a running engine (scripts/ensure-docker.sh) and the project's virtual environment.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${SGR_PYTHON:-.venv/bin/python}"
if [ ! -x "$PY" ]; then
  echo "ensure-sandbox-image: $PY missing; run \`make venv\` first" >&2
  exit 1
fi
"$PY" -m sgr_kernel.sandbox build
