"""The skill registry: built-ins and plug-ins found through the ``sgr.skills`` entry points,
plus skills registered in this process with :func:`register_skill` (a notebook's own)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import entry_points
from typing import Any

from sgr_kernel.errors import ConfigError
from sgr_kernel.skills.base import Skill

__all__ = ["ENTRY_POINT_GROUP", "SkillRegistry", "register_skill"]

ENTRY_POINT_GROUP = "sgr.skills"

_LOCAL: dict[str, type[Skill]] = {}


def register_skill(skill: type[Skill]) -> type[Skill]:
    """Add a skill to every default registry made after this call (usable as a decorator).

    Kernels made earlier keep the skills they started with."""
    SkillRegistry().register(skill)  # the same checks as any skill
    _LOCAL[skill.name] = skill
    return skill


class SkillRegistry(Mapping[str, type[Skill]]):
    """Skill classes by name. ``SkillRegistry.default()`` loads every installed entry point."""

    def __init__(self, skills: Iterable[type[Skill]] = ()) -> None:
        self._skills: dict[str, type[Skill]] = {}
        for s in skills:
            self.register(s)

    @classmethod
    def default(cls) -> SkillRegistry:
        reg = cls()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                obj = ep.load()
            except ImportError as e:
                # A plug-in whose optional dependency is missing is left out, not fatal.
                reg.unavailable[ep.name] = f"{type(e).__name__}: {e}"
                continue
            if not (isinstance(obj, type) and issubclass(obj, Skill)):
                raise ConfigError(f"entry point {ep.name!r} ({ep.value}) is not a Skill subclass")
            reg.register(obj)
        for skill in _LOCAL.values():
            reg.register(skill)
        return reg

    @property
    def unavailable(self) -> dict[str, str]:
        """Entry points that could not be imported, with why."""
        if not hasattr(self, "_unavailable"):
            self._unavailable: dict[str, str] = {}
        return self._unavailable

    def register(self, skill: type[Skill]) -> type[Skill]:
        for attr in ("name", "description", "Input", "Output"):
            if not hasattr(skill, attr):
                raise ConfigError(f"skill class {skill.__qualname__} does not set {attr!r}")
        self._skills[skill.name] = skill
        return skill

    def __getitem__(self, name: str) -> type[Skill]:
        return self._skills[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._skills)

    def __len__(self) -> int:
        return len(self._skills)

    def catalogue(self) -> list[dict[str, Any]]:
        """What the planner is shown: one entry per skill, sorted by name."""
        return [self._skills[n].catalogue_entry() for n in sorted(self._skills)]
