"""Which models this machine has: ``sgr models`` and the LLM part of ``sgr doctor``.

Lists the configured provider, the embedded model, and GGUF files in the usual local
stores, each with its size and whether it loads:

- the Hugging Face cache (``$HF_HUB_CACHE``, ``$HF_HOME/hub``, ``~/.cache/huggingface/hub``):
  ``models--ORG--NAME/snapshots/REV/*.gguf``;
- Ollama's store (``$OLLAMA_MODELS``, ``~/.ollama/models``, ``/usr/share/ollama/.ollama/models``):
  each manifest's model layer is a GGUF blob, named ``NAME:TAG``.

Any of them can be used with ``SGR_MODEL=/path/to/file.gguf`` (the ``local`` provider). A
file "loads" when it starts with the GGUF magic and llama.cpp reads its vocabulary in a child
process (a broken file cannot take the caller down).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.errors import SgrError

__all__ = [
    "GGUFFile",
    "LLMStatus",
    "ModelsReport",
    "describe_llm",
    "describe_models",
    "find_gguf_files",
    "llm_status",
    "models_report",
]

_MAGIC = b"GGUF"
_OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
_LOAD_CHECK = (
    "import sys; from llama_cpp import Llama; "
    "Llama(model_path=sys.argv[1], vocab_only=True, verbose=False)"
)


class GGUFFile(BaseModel):
    """One GGUF model file."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="How the store names it.")
    path: str
    source: str = Field(description="embedded | huggingface | ollama | configured")
    size_bytes: int
    loads: bool | None = Field(None, description="None: not checked.")
    problem: str | None = None


class LLMStatus(BaseModel):
    """The configured provider and, for an endpoint, its structured-output mode."""

    model_config = ConfigDict(frozen=True)

    provider: str
    model: str | None
    base_url: str | None
    sources: dict[str, str]
    structured_output: str | None = Field(None, description="The mode used, for endpoints.")
    tried: dict[str, str] = Field(default_factory=dict)
    problem: str | None = None


class ModelsReport(BaseModel):
    """What ``sgr models`` prints."""

    model_config = ConfigDict(frozen=True)

    configured: LLMStatus
    files: tuple[GGUFFile, ...]


def _hf_roots(env: Mapping[str, str]) -> list[Path]:
    home = Path(os.path.expanduser("~"))
    roots = [env.get("HF_HUB_CACHE"), env.get("HUGGINGFACE_HUB_CACHE")]
    if env.get("HF_HOME"):
        roots.append(os.path.join(env["HF_HOME"], "hub"))
    roots.append(str(home / ".cache" / "huggingface" / "hub"))
    return [Path(r) for r in roots if r]


def _ollama_roots(env: Mapping[str, str]) -> list[Path]:
    home = Path(os.path.expanduser("~"))
    roots = [env.get("OLLAMA_MODELS"), str(home / ".ollama" / "models")]
    roots.append("/usr/share/ollama/.ollama/models")
    return [Path(r) for r in roots if r]


def _hf_files(root: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(root.glob("models--*/snapshots/*/**/*.gguf")):
        repo = path.relative_to(root).parts[0].removeprefix("models--").replace("--", "/")
        yield f"{repo}/{path.name}", path


def _ollama_files(root: Path) -> Iterator[tuple[str, Path]]:
    manifests = root / "manifests"
    for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()):
        try:
            layers = json.loads(manifest.read_text()).get("layers") or []
        except (OSError, ValueError, AttributeError):
            continue
        for layer in layers:
            if isinstance(layer, dict) and layer.get("mediaType") == _OLLAMA_MODEL_LAYER:
                digest = str(layer.get("digest", "")).replace(":", "-")
                rel = manifest.relative_to(manifests).parts
                name = f"{rel[-2]}:{rel[-1]}" if len(rel) >= 2 else rel[-1]
                yield name, root / "blobs" / digest


def check_loads(path: Path, *, timeout_s: float = 60.0) -> tuple[bool, str | None]:
    """Is ``path`` a GGUF file llama.cpp can read? (magic bytes, then vocab in a child)."""
    try:
        with path.open("rb") as f:
            if f.read(4) != _MAGIC:
                return False, "not a GGUF file (no GGUF magic bytes)"
    except OSError as e:
        return False, f"unreadable: {e}"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _LOAD_CHECK, str(path)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, f"llama.cpp did not read it within {timeout_s:g}s"
    if proc.returncode == 0:
        return True, None
    tail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
    return False, f"llama.cpp cannot load it: {tail[:200]}"


def _file(name: str, path: Path, source: str, check: bool) -> GGUFFile:
    try:
        size = path.stat().st_size
    except OSError as e:
        return GGUFFile(
            name=name,
            path=str(path),
            source=source,
            size_bytes=0,
            loads=False,
            problem=f"missing: {e}",
        )
    loads, problem = check_loads(path) if check else (None, None)
    return GGUFFile(
        name=name, path=str(path), source=source, size_bytes=size, loads=loads, problem=problem
    )


def find_gguf_files(
    env: Mapping[str, str] | None = None, *, check_load: bool = True
) -> list[GGUFFile]:
    """The embedded model and every GGUF in the Hugging Face cache and Ollama's store."""
    env = os.environ if env is None else env
    out: list[GGUFFile] = []
    seen: set[Path] = set()

    def add(name: str, path: Path, source: str) -> None:
        real = path.resolve()
        if real not in seen:
            seen.add(real)
            out.append(_file(name, path, source, check_load))

    try:
        from sgr_kernel.llm.local import DEFAULT_LOCAL_MODEL, bundled_model_path

        add(DEFAULT_LOCAL_MODEL, bundled_model_path(), "embedded")
    except SgrError:
        pass  # not installed: the configured status says how to install it
    for root in _hf_roots(env):
        if root.is_dir():
            for name, path in _hf_files(root):
                add(name, path, "huggingface")
    for root in _ollama_roots(env):
        if (root / "manifests").is_dir():
            for name, path in _ollama_files(root):
                add(name, path, "ollama")
    return out


def llm_status(*, probe: bool = True) -> LLMStatus:
    """The configured provider; for an endpoint, its cached (or, with ``probe``, probed) mode."""
    from sgr_kernel.llm.config import load_settings, make_client

    try:
        settings = load_settings()
    except SgrError as e:
        return LLMStatus(provider="?", model=None, base_url=None, sources={}, problem=str(e))
    status = LLMStatus(
        provider=settings.provider,
        model=settings.model,
        base_url=settings.base_url,
        sources=dict(settings.sources),
    )
    if settings.provider != "openai_compat":
        return status
    try:
        client = make_client(settings)
        mode = asyncio.run(_mode(client, probe))
    except SgrError as e:
        return status.model_copy(update={"problem": str(e)})
    endpoint = getattr(client, "endpoint", None)
    tried = dict(endpoint.tried) if endpoint is not None else {}
    return status.model_copy(
        update={"structured_output": mode, "tried": tried, "model": getattr(client, "model", None)}
    )


async def _mode(client: object, probe: bool) -> str | None:
    from sgr_kernel.llm import endpoints
    from sgr_kernel.llm.openai_compat import OpenAICompatLLM

    assert isinstance(client, OpenAICompatLLM)
    try:
        if client.mode is not None:
            return client.mode
        if client.model is not None:
            cached = endpoints.load(client.base_url, client.model)
            if cached is not None:
                client.endpoint = cached
                return cached.mode
        return await client.structured_mode() if probe else None
    finally:
        await client.aclose()


def models_report(*, check_load: bool = True, probe: bool = False) -> ModelsReport:
    """The configured provider and the GGUF files found (``sgr models``)."""
    return ModelsReport(
        configured=llm_status(probe=probe),
        files=tuple(find_gguf_files(check_load=check_load)),
    )


def describe_llm(status: LLMStatus) -> str:
    """Human lines for the configured provider."""
    where = f" at {status.base_url}" if status.base_url else ""
    lines = [f"LLM: {status.provider}{where}, model {status.model or '(default)'}"]
    if status.structured_output:
        lines.append(f"  structured output: {status.structured_output}")
        lines += [f"    {mode}: {verdict}" for mode, verdict in status.tried.items()]
    elif status.provider == "openai_compat" and not status.problem:
        lines.append("  structured output: not probed yet (probed on the first structured call)")
    if status.problem:
        lines.append(f"  problem: {status.problem}")
    return "\n".join(lines)


def describe_models(report: ModelsReport) -> str:
    """Human output of ``sgr models``."""
    lines = [describe_llm(report.configured), "", "GGUF files (use one with SGR_MODEL=PATH):"]
    if not report.files:
        lines.append("  none found")
    for f in report.files:
        state = {True: "loads", False: "does NOT load", None: "not checked"}[f.loads]
        why = f" ({f.problem})" if f.problem else ""
        lines.append(f"  {f.name}  [{f.source}, {f.size_bytes / 1e6:.1f} MB, {state}{why}]")
        lines.append(f"    {f.path}")
    return "\n".join(lines)
