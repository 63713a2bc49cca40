"""Deep research: cited answers from the user's corpora (and the web when configured).

``DeepResearchSkill`` is the skill (``deep_research``); ``CorpusIndex`` the on-disk index
behind ``sgr corpus add`` / ``sgr corpus list``. See docs/research.md.
"""

from sgr_skills.research._index import CorpusIndex
from sgr_skills.research.base import Claim, Passage, Source
from sgr_skills.research.skill import DeepResearchSkill

__all__ = ["Claim", "CorpusIndex", "DeepResearchSkill", "Passage", "Source"]
