"""Retrying work while a dependency is down: the one backoff loop (0.25 s doubling to 2 s)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..store.outages import dependency_down

logger = logging.getLogger(__name__)
T = TypeVar("T")
FIRST_DELAY = 0.25
MAX_DELAY = 2.0


async def retry_while_down(work: Callable[[], Awaitable[T]], what: str) -> T:
    """Run `work` until it succeeds; an outage waits and retries, any other error propagates."""
    delay = FIRST_DELAY
    while True:
        try:
            return await work()
        except Exception as exc:
            down = dependency_down(exc)
            if down is None:
                raise
            logger.warning("%s waits for %s: %s", what, down, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)
