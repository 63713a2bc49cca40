"""The values deep research exchanges: passages found, sources cited, a verified answer.

The index (``_index.py``), the web fetcher (``_web.py``), the retrieval job (``_jobs.py``)
and the citation check (``_cite.py``) all speak these; nothing else crosses between them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SCHEMA_VERSION", "Claim", "Passage", "Source"]

SCHEMA_VERSION = 1


class Passage(BaseModel):
    """One retrieved chunk of a document, with where it came from."""

    model_config = ConfigDict(frozen=True)

    v: int = Field(SCHEMA_VERSION, description="Schema version of this record.")
    title: str = Field(description="The document's title (first heading, <title> or file name).")
    location: str = Field(description="Absolute file path, or the URL it was fetched from.")
    text: str = Field(description="The passage itself, exactly as indexed.")
    score: float = Field(0.0, description="Retrieval score, higher is better (BM25, negated).")
    query: str = Field("", description="The sub-query that found it.")
    chunk_id: str = Field("", description="sha256 of location + text: dedupes hits.")


class Source(BaseModel):
    """A numbered source of an answer: what ``[n]`` points at."""

    model_config = ConfigDict(frozen=True)

    n: int = Field(ge=1, description="The number cited as [n] in the answer.")
    title: str = Field(description="Title of the document.")
    location: str = Field(description="Path or URL of the document.")
    passage: str = Field(description="The passage the answer relies on.")


class Claim(BaseModel):
    """One sentence of an answer and the sources it cites."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(description="The claim, one or two sentences.")
    cites: list[int] = Field(description="Numbers of the sources that support it.")
    quote: str = Field("", description="Words copied from the first cited source.")
