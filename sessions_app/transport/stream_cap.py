"""The cap on open GET streams per node, so descriptors never run out for /health and ordinary requests.

Every open stream holds a connection (a file descriptor) for as long as the client stays. Beyond
MCP_MAX_STREAMS (by default the open-files limit minus MCP_FD_HEADROOM), a GET that would open one
is answered 503 with Retry-After, and the refusal is logged at most once a minute.
"""

from __future__ import annotations

import logging
import resource

from django.conf import settings

from ..runtime.throttle import LogEvery
from ..wire.jsonrpc import INTERNAL_ERROR, HttpError

logger = logging.getLogger(__name__)
refusals = LogEvery(logger)
RETRY_AFTER_SECONDS = 2


def stream_limit() -> int:
    if settings.MCP_MAX_STREAMS > 0:
        return settings.MCP_MAX_STREAMS
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(1, soft - settings.MCP_FD_HEADROOM)


class StreamCap:
    def __init__(self) -> None:
        self.open = 0

    def take(self) -> None:
        """Count one more open stream, or refuse it (HttpError 503) at the limit."""
        limit = stream_limit()
        if self.open >= limit:
            refusals(
                logging.WARNING, "refusing GET streams: %d open, the limit is %d (MCP_MAX_STREAMS)", self.open, limit
            )
            raise HttpError(
                503,
                INTERNAL_ERROR,
                "Service Unavailable: this node holds as many streams as it may; retry later or elsewhere",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self.open += 1

    def release(self) -> None:
        self.open = max(0, self.open - 1)


stream_cap = StreamCap()
