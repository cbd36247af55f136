"""subscriptions/listen (2026-07-28): not served yet; answered 404 / -32601 like any unknown method."""

from __future__ import annotations

from typing import Any

from ..runtime.stateless import StatelessState
from ..runtime.tasks import TaskSet
from ..wire.jsonrpc import METHOD_NOT_FOUND, HttpError
from .streams import Exchange

METHOD = "subscriptions/listen"


async def open_listen(exchange: Exchange, state: StatelessState, request_id: Any, params: dict, tasks: TaskSet) -> None:
    raise HttpError(404, METHOD_NOT_FOUND, "Method not found", data=METHOD, request_id=request_id)
