"""Citation checks: every claim of an answer must cite a numbered source that supports it.

A claim survives when each number it cites names a source of this answer and, when it
quotes, the quote is in the first cited passage (whitespace and case aside). A claim citing
a number that does not exist, citing nothing, or quoting words its source does not hold is
rejected, with the reason. An answer left with no claim fails its step: it cited nothing real.
"""

from __future__ import annotations

from dataclasses import dataclass

from sgr_skills.research._extract import normalise
from sgr_skills.research.base import Claim, Source

__all__ = ["Verdict", "verify"]


@dataclass(frozen=True)
class Verdict:
    """The claims kept (in order) and the ones rejected with why."""

    kept: tuple[Claim, ...]
    rejected: tuple[tuple[Claim, str], ...]


def verify(claims: list[Claim], sources: list[Source]) -> Verdict:
    """Check ``claims`` against ``sources`` (see the module docstring)."""
    by_n = {s.n: s for s in sources}
    kept: list[Claim] = []
    rejected: list[tuple[Claim, str]] = []
    for c in claims:
        if not c.text.strip():
            rejected.append((c, "empty claim"))
            continue
        if not c.cites:
            rejected.append((c, "cites no source"))
            continue
        missing = [n for n in c.cites if n not in by_n]
        if missing:
            rejected.append((c, f"cites [{missing[0]}], which is not a source of this answer"))
            continue
        quote = normalise(c.quote)
        if quote and quote not in normalise(by_n[c.cites[0]].passage):
            rejected.append((c, f"its quote is not in source [{c.cites[0]}]"))
            continue
        kept.append(c)
    return Verdict(tuple(kept), tuple(rejected))
