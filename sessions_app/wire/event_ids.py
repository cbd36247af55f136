"""SSE event ids: ``<stream>-<sequence>``, unique within a session, and naming the stream to resume.

``g`` is the session's standalone GET stream; ``r<12 hex>`` is the stream of one POST.
The sequence is the stored event's primary key, so ids are ordered within a stream.
"""

from __future__ import annotations

import re
import secrets

GET_STREAM = "g"
MAX_SEQUENCE = 2**63 - 1  # a 64-bit primary key; larger numbers cannot name an event
_EVENT_ID = re.compile(r"^(g|r[0-9a-f]{12})-([1-9][0-9]{0,18})$")


def new_request_stream() -> str:
    return "r" + secrets.token_hex(6)


def format_event_id(stream: str, sequence: int) -> str:
    return f"{stream}-{sequence}"


def parse_event_id(value: str) -> tuple[str, int] | None:
    """(stream, sequence) of a well-formed event id, else None."""
    match = _EVENT_ID.match(value.strip())
    if not match or int(match.group(2)) > MAX_SEQUENCE:
        return None
    return match.group(1), int(match.group(2))
