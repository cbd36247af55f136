"""Requests this server sent to clients, and their answers: the rows any node can settle.

A pending row is settled once. The client's answer, a timeout, a cancellation or
the loss of the waiting node each move it out of `pending` with one conditional
UPDATE, so whichever comes first wins on every node, and a second answer finds
the row closed.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from ..models import ClientRequest

Status = ClientRequest.Status


class Answer(enum.Enum):
    """What became of a client's answer."""

    ACCEPTED = "accepted"  # it settled a pending request
    LATE = "late"  # the request was already settled (a duplicate, or after a timeout or cancellation)
    UNKNOWN = "unknown"  # this session never asked that id


def _create(session_id: str, request_id: str, stream: str, related: Any, method: str, params: dict[str, Any]) -> None:
    ClientRequest.objects.create(
        session_id=session_id,
        request_id=request_id,
        stream=stream,
        related_request=related,
        method=method,
        params=params,
        node=settings.MCP_NODE_ID,
    )


def _answer(session_id: str, request_id: Any, response: dict[str, Any]) -> Answer:
    if not isinstance(request_id, str):
        return Answer.UNKNOWN  # this server mints string ids only
    rows = ClientRequest.objects.filter(session_id=session_id, request_id=request_id)
    settled = rows.filter(status=Status.PENDING).update(
        status=Status.ANSWERED,
        response=response,
        answered_on=settings.MCP_NODE_ID,
        closed_at=datetime.now(UTC),
    )
    if settled:
        return Answer.ACCEPTED
    return Answer.LATE if rows.exists() else Answer.UNKNOWN


def _close(session_id: str, request_id: str, status: str) -> dict[str, Any] | None:
    """Settle a pending request as `status`; if an answer won the race, that answer (else None)."""
    rows = ClientRequest.objects.filter(session_id=session_id, request_id=request_id)
    if rows.filter(status=Status.PENDING).update(status=status, closed_at=datetime.now(UTC)):
        return None
    return rows.filter(status=Status.ANSWERED).values_list("response", flat=True).first()


def _response(session_id: str, request_id: str) -> dict[str, Any] | None:
    """The stored answer, if it came (how a waiting node finds an answer the relay did not bring)."""
    return (
        ClientRequest.objects.filter(session_id=session_id, request_id=request_id, status=Status.ANSWERED)
        .values_list("response", flat=True)
        .first()
    )


def _lose_stream(session_id: str, stream: str) -> int:
    """The stream's node died: its pending questions will never be read."""
    return ClientRequest.objects.filter(session_id=session_id, stream=stream, status=Status.PENDING).update(
        status=Status.LOST, closed_at=datetime.now(UTC)
    )


acreate = database_sync_to_async(_create)
aanswer = database_sync_to_async(_answer)
aclose = database_sync_to_async(_close)
aresponse = database_sync_to_async(_response)
alose_stream = database_sync_to_async(_lose_stream)
