"""Log a recurring condition at most once per interval (refusals under load, slow clients cut off)."""

from __future__ import annotations

import logging
import time


class LogEvery:
    """One log line per `interval` seconds for a condition that may repeat thousands of times a second."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0) -> None:
        self.logger = logger
        self.interval = interval
        self._next = 0.0
        self._suppressed = 0

    def __call__(self, level: int, message: str, *args) -> bool:
        """Log now if the interval has passed (saying how many were not logged since); True if logged."""
        now = time.monotonic()
        if now < self._next:
            self._suppressed += 1
            return False
        self._next = now + self.interval
        if self._suppressed:
            message += f" ({self._suppressed} more since the last report)"
            self._suppressed = 0
        self.logger.log(level, message, *args)
        return True
