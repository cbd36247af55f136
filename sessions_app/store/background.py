"""A thread of its own for the node's upkeep (heartbeats, liveness checks).

`database_sync_to_async` runs every ORM call of a process on one thread by
default; a heartbeat queued behind request work there could miss its lease
although the node is healthy. Upkeep calls run here instead, one at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.db import database_sync_to_async

UPKEEP_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mcp-upkeep")


def on_upkeep_thread(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` as a coroutine function run on the upkeep thread (old connections closed around it)."""
    return database_sync_to_async(fn, thread_sensitive=False, executor=UPKEEP_EXECUTOR)
