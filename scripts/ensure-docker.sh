#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine, installing and starting one if needed.
#
# Idempotent: when a daemon already answers, it does nothing. Otherwise it installs Debian's
# docker.io (apt-get update once, then install) and starts dockerd in the background with its
# log in $SGR_DOCKERD_LOG, waiting for the socket. It never passes --bridge=none: on startup
# that deletes the host's docker0 bridge, breaking any other daemon that uses it.
set -euo pipefail

LOG="${SGR_DOCKERD_LOG:-/var/log/sgr-dockerd.log}"
SOCK="${SGR_DOCKER_SOCK:-/var/run/docker.sock}"
WAIT_S="${SGR_DOCKERD_WAIT_S:-60}"

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "ensure-docker: not root and no sudo; start a Docker engine by hand" >&2; exit 1
  fi
fi

answers() {
  # The engine answers when the API ping on its socket succeeds (no CLI needed for this).
  [ -S "$SOCK" ] && $SUDO curl -fsS --max-time 5 --unix-socket "$SOCK" http://localhost/_ping \
    >/dev/null 2>&1
}

if answers; then
  echo "ensure-docker: engine answers on $SOCK"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "ensure-docker: installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq docker.io >/dev/null
fi

if ! answers; then
  # A stale pid file from a killed daemon makes dockerd refuse to start.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    $SUDO rm -f /var/run/docker.pid
  fi
  echo "ensure-docker: starting dockerd (log: $LOG)"
  $SUDO mkdir -p "$(dirname "$LOG")"
  # setsid: the daemon outlives this script and the make/pytest process group that ran it.
  $SUDO setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
  for _ in $(seq 1 "$((WAIT_S * 2))"); do
    if answers; then break; fi
    sleep 0.5
  done
fi

if ! answers; then
  echo "ensure-docker: dockerd did not answer on $SOCK within ${WAIT_S}s; last log lines:" >&2
  tail -n 20 "$LOG" >&2 || true
  exit 1
fi
echo "ensure-docker: engine answers on $SOCK"
