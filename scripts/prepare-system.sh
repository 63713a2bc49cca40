#!/usr/bin/env bash
# Bring up what the tests and the demo need on this machine: a Docker engine and Chromium.
# Each piece is idempotent. The sandbox image needs the virtual environment, so `make image`
# builds it after `make venv`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-docker.sh
bash scripts/ensure-chromium.sh
bash scripts/install-python-docs.sh --no-index
