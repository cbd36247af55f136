"""What a client POSTs in a session that is not a request: notifications, and answers to our questions."""

from __future__ import annotations

import logging
from typing import Any

from ..runtime import client_requests, lifecycle
from ..store.client_requests import Answer
from ..store.sessions import SessionState
from ..wire.jsonrpc import INVALID_REQUEST, HttpError, dumps

logger = logging.getLogger(__name__)


def on_notification(session: SessionState, message: dict[str, Any]) -> None:
    params = message.get("params") or {}
    if message["method"] == "notifications/cancelled":
        request_id = params.get("requestId")
        if lifecycle.cancel_request(session.id, request_id):
            logger.info("cancelling request %r of session %s: %s", request_id, session.id, params.get("reason"))
    # notifications/initialized, roots/list_changed, progress: nothing to do yet.


async def on_answer(session: SessionState, message: dict[str, Any]) -> None:
    """The client's answer to a question of ours (any node may get it): a late or repeated one is
    ignored, since the client cannot know it came too late; one for an id this session was never
    asked is refused with 400."""
    if await client_requests.accept_answer(session.id, message) is Answer.UNKNOWN:
        raise HttpError(
            400,
            INVALID_REQUEST,
            f"Invalid Request: this session was sent no request with id {dumps(message.get('id')).decode()[:80]}",
        )
