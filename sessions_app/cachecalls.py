"""Cache calls that never block the event loop on the network.

The local-memory cache answers in microseconds, so it is called directly.
Redis (django-redis is synchronous) is called from a worker thread: a slow or
unreachable Redis then delays only the requests that need it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache


async def call(method: str, *args: Any, **kwargs: Any) -> Any:
    fn: Callable[..., Any] = getattr(cache, method)
    if settings.USE_REDIS:
        return await sync_to_async(fn, thread_sensitive=False)(*args, **kwargs)
    return fn(*args, **kwargs)


async def run(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a function that makes several cache calls, off the loop when they go to Redis."""
    if settings.USE_REDIS:
        return await sync_to_async(fn, thread_sensitive=False)(*args)
    return fn(*args)
