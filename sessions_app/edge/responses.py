"""The one way middleware answers a request itself: a complete response with a JSON-RPC error body.

Clients of /mcp parse every error body as JSON-RPC, so refusals made before the consumer runs
(Host, Origin, rate limit) look like the consumer's own.
"""

from __future__ import annotations

from collections.abc import Iterable

from sessions_app.wire.jsonrpc import HttpError
from sessions_app.wire.versions import CONTENT_TYPE_JSON

from .headers import Send


async def send_error(send: Send, error: HttpError, extra_headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    headers = [(b"content-type", CONTENT_TYPE_JSON.encode()), *error.header_list(), *extra_headers]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": error.body(), "more_body": False})
