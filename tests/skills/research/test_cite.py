"""Citation checks: a claim must cite a real source that holds its quote."""

from __future__ import annotations

from sgr_skills.research._cite import verify
from sgr_skills.research.base import Claim, Source

SOURCES = [
    Source(n=1, title="A", location="/a.md", passage="The event loop runs coroutines."),
    Source(n=2, title="B", location="/b.md", passage="FTS5 ranks matches with bm25."),
]


def test_supported_claims_are_kept_in_order() -> None:
    claims = [
        Claim(text="Loops run coroutines.", cites=[1], quote="runs  COROUTINES"),
        Claim(text="FTS5 uses bm25.", cites=[2, 1], quote=""),
    ]
    v = verify(claims, SOURCES)
    assert v.kept == tuple(claims) and v.rejected == ()


def test_unsupported_claims_are_rejected_with_the_reason() -> None:
    claims = [
        Claim(text="Made up.", cites=[3], quote=""),
        Claim(text="No cite.", cites=[], quote=""),
        Claim(text="Wrong quote.", cites=[1], quote="bm25"),
        Claim(text="  ", cites=[1], quote=""),
    ]
    v = verify(claims, SOURCES)
    assert v.kept == ()
    reasons = [why for _, why in v.rejected]
    assert reasons == [
        "cites [3], which is not a source of this answer",
        "cites no source",
        "its quote is not in source [1]",
        "empty claim",
    ]
