"""Server-sent event framing (the text/event-stream wire format)."""

from __future__ import annotations

from .jsonrpc import dumps


def event_frame(event_id: str | None, message: dict | None, retry_ms: int | None = None) -> bytes:
    """One SSE event. A None message is a priming event: an id and an empty data line."""
    lines: list[bytes] = []
    if event_id is not None:
        lines.append(b"id: " + event_id.encode())
    if retry_ms is not None:
        lines.append(b"retry: " + str(int(retry_ms)).encode())
    if message is None:
        lines.append(b"data: ")
    else:
        lines.append(b"event: message")
        # Compact JSON has no raw newlines, so one data line carries it.
        lines.append(b"data: " + dumps(message))
    return b"\n".join(lines) + b"\n\n"


def comment_frame(text: str = "") -> bytes:
    """An SSE comment: ignored by clients, keeps proxies and the TCP path alive."""
    return b": " + text.encode() + b"\n\n"


def retry_frame(retry_ms: int) -> bytes:
    """A bare reconnection-delay hint, sent before the server closes a stream early."""
    return b"retry: " + str(int(retry_ms)).encode() + b"\n\n"
