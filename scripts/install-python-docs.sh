#!/usr/bin/env bash
# The offline research corpus: Debian's python3.11-doc (the Python documentation as HTML,
# 530 pages) installed with apt when missing, then indexed with `sgr corpus add --python-docs`
# unless --no-index is given (prepare-system.sh installs it before the venv exists).
#
# Usage: scripts/install-python-docs.sh [--no-index] [VENV]
set -euo pipefail
INDEX=1
if [ "${1:-}" = "--no-index" ]; then INDEX=0; shift; fi
VENV="${1:-.venv}"
if [ ! -d /usr/share/doc/python3.11/html ]; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -q
  $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends python3.11-doc
fi
if [ "$INDEX" = 1 ]; then
  "$VENV/bin/python" -m sgr_kernel.cli corpus add --python-docs
fi
