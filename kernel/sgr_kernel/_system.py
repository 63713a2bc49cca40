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

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

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
