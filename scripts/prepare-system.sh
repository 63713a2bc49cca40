#!/usr/bin/env bash
# Bring up what the tests and the demo need on this machine: each piece is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
for s in scripts/ensure-docker.sh scripts/ensure-chromium.sh; do
  if [ -f "$s" ]; then bash "$s"; fi
done
if [ -f scripts/ensure-sandbox-image.sh ]; then bash scripts/ensure-sandbox-image.sh; fi
