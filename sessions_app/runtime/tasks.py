"""Background tasks that nobody awaits, kept referenced until they end (asyncio holds only weak ones)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class TaskSet:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()
        self._timers: set[asyncio.TimerHandle] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def spawn_later(self, delay: float, start: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """spawn(start()) in `delay` seconds unless cancel_all() comes first: until then a timer, not a task
        (most exchanges end long before their first keep-alive is due)."""

        def fire() -> None:
            self._timers.discard(handle)
            self.spawn(start())

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)

    def cancel_all(self) -> None:
        for timer in list(self._timers):
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()

    def __len__(self) -> int:
        return len(self._tasks) + len(self._timers)
