"""Calling an offering's function, whether its author wrote it sync or async."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async


async def call_user_function(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Await an async function on the loop; run a sync one in a worker thread that returns its DB connection."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args, **kwargs)
    return await database_sync_to_async(fn, thread_sensitive=False)(*args, **kwargs)
