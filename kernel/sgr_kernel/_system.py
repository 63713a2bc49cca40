"""The real clock and entropy. The only kernel module that reads them directly."""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid

__all__ = ["SystemClock", "SystemEntropy"]


class SystemClock:
    """Wall and monotonic time from the OS."""

    # The OS functions themselves, not methods that call them: a run reads the clock for
    # every record it writes.
    now = staticmethod(time.time)
    monotonic = staticmethod(time.monotonic)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class SystemEntropy:
    """Randomness from a per-process generator seeded by the OS; ids are uuid4 hex."""

    def __init__(self) -> None:
        self._rng = random.Random(os.urandom(16))

    def random(self) -> float:
        return self._rng.random()

    def new_id(self) -> str:
        return uuid.uuid4().hex
