"""``%sgr models`` and ``%sgr skills``: what this kernel can plan with, as tables.

Models: the provider the magics are configured with (``%config SgrMagics.provider``, the
environment, ``[tool.sgr]``), the embedded model, and the GGUF files found in the Hugging Face
cache and Ollama's store, with their sizes (``--check`` also loads each one in a child
process). Skills: every skill a plan may name, with what it does, the capabilities it
declares and where it runs.
"""

from __future__ import annotations

from sgr_jupyter.config import SgrConfig
from sgr_jupyter.display import Table
from sgr_kernel.errors import SgrError

__all__ = ["models_table", "skills_table"]


def models_table(cfg: SgrConfig, *, check: bool = False) -> Table:
    """The configured provider and the GGUF files found on this machine."""
    from sgr_kernel.llm.config import load_settings
    from sgr_kernel.llm.discover import find_gguf_files

    notes: list[str] = []
    try:
        s = load_settings(provider=cfg.provider, model=cfg.model, base_url=cfg.base_url)
        where = f" at {s.base_url}" if s.base_url else ""
        notes.append(f"configured: {s.provider}{where}, model {s.model or '(the embedded one)'}")
    except SgrError as e:
        notes.append(f"configured: unusable ({e})")
    rows = []
    for f in find_gguf_files(check_load=check):
        loads = {True: "yes", False: "NO", None: "not checked"}[f.loads]
        if f.problem:
            loads += f" ({f.problem})"
        rows.append((f.name, f.source, f"{f.size_bytes / 1e6:.1f} MB", loads, f.path))
    notes.append(
        "use a file with %config SgrMagics.model = 'PATH' (provider local) or SGR_MODEL=PATH"
        + ("" if check else "; `%sgr models --check` checks that each one loads")
    )
    return Table(
        f"{len(rows)} model file(s)", ("model", "source", "size", "loads", "path"), rows, notes
    )


def skills_table() -> Table:
    """Every skill a plan may use: name, description, capabilities, where it runs."""
    from sgr_kernel.skills.registry import SkillRegistry

    reg = SkillRegistry.default()
    rows = []
    for name in sorted(reg):
        skill = reg[name]
        caps = ", ".join(sorted(skill.capabilities)) or "none"
        placement = getattr(skill.placement, "value", skill.placement)
        runs = f"{placement}, {skill.isolation}"
        if not skill.idempotent:
            runs += ", side effects (not idempotent)"
        rows.append((name, skill.description, caps, runs))
    notes = [f"unavailable: {n} ({why})" for n, why in sorted(reg.unavailable.items())]
    return Table(
        f"{len(rows)} skill(s)", ("skill", "description", "capabilities", "resources"), rows, notes
    )
