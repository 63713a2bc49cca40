"""Strict replay, in three sizes; divergence is a named error (``ReplayDivergenceError``)."""

from sgr_kernel.replay.engine import Divergence, ReplayEngine, ReplayReport

__all__ = ["Divergence", "ReplayEngine", "ReplayReport"]
