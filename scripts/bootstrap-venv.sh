#!/usr/bin/env bash
# Create the project's virtual environment and install the project into it (editable).
set -euo pipefail
PY="${1:-python3}"; VENV="${2:-.venv}"; EXTRAS="${3:-dev}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[${EXTRAS}]"
if [ -f scripts/install-local-model.sh ]; then
  bash scripts/install-local-model.sh "$VENV"
fi
if [[ ",${EXTRAS}," == *",lora,"* ]]; then
  bash scripts/install-lora-model.sh "$VENV"
fi
