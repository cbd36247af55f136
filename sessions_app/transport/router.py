"""Which leg serves a request on /mcp: the stateless (2026-07-28) one or the stateful one. Body first.

1. Modern: the body (one object) has `params._meta` naming `io.modelcontextprotocol/protocolVersion`.
2. Legacy: the request names a session (Mcp-Session-Id): the session's own revision governs it.
3. Modern: the MCP-Protocol-Version header names a revision that does not open with initialize
   (2026-07-28, or an unknown one, which the modern leg refuses with -32022 and what it serves).
4. Legacy, to today's stateful leg unchanged: everything else: initialize, GET and DELETE without a
   modern header, batches, posted responses, bodies that are not JSON, and any header naming a
   handshake revision (2024-11-05 .. 2025-11-25).

Edge cases (docs/protocol.md): a modern header on an `initialize` body is modern, and gets
404/-32601 (initialize does not exist in 2026-07-28); an envelope with an Mcp-Session-Id is modern,
and the session id is ignored; an envelope under a handshake-revision header is modern, and the
header disagrees with the envelope (400/-32020).
"""

from __future__ import annotations

import json
from typing import Any

from ..edge.headers import header_map
from ..wire.envelope import claims_modern
from ..wire.versions import HANDSHAKE_VERSIONS, SESSION_HEADER, VERSION_HEADER


def header_is_modern(headers: dict[str, str]) -> bool:
    version = headers.get(VERSION_HEADER)
    return version is not None and version.strip() not in HANDSHAKE_VERSIONS


def _body_claims_modern(body: bytes) -> bool:
    try:
        data: Any = json.loads(body)
    except (ValueError, RecursionError):
        return False  # the stateful leg answers the parse error as it always has
    return isinstance(data, dict) and claims_modern(data)


def is_modern(scope: dict, body: bytes) -> bool:
    if scope.get("method") == "POST" and _body_claims_modern(body):
        return True
    headers = header_map(scope)
    return SESSION_HEADER not in headers and header_is_modern(headers)
