"""Which revision a request speaks: the MCP-Protocol-Version header and the stateless `_meta` envelope."""

from __future__ import annotations

from typing import Any

from .jsonrpc import UNSUPPORTED_PROTOCOL_VERSION, HttpError
from .messages import Incoming
from .versions import MODERN_VERSIONS, STATEFUL_VERSIONS, STATELESS_META_VERSION, VERSION_HEADER


def unsupported_version(requested: str, request_id: Any = None, *, modern_too: bool = False) -> HttpError:
    """-32022 from the stateful leg; `modern_too` where the request itself looked modern."""
    supported = [*STATEFUL_VERSIONS, *(MODERN_VERSIONS if modern_too else ())]
    return HttpError(
        400,
        UNSUPPORTED_PROTOCOL_VERSION,
        f"Unsupported protocol version: {requested[:64]}. This server serves the stateful revisions "
        f"{', '.join(STATEFUL_VERSIONS)} (send initialize to open a session)"
        + (f" and {', '.join(MODERN_VERSIONS)} (one request per POST, not in a batch)." if modern_too else "."),
        data={"supported": supported, "requested": requested[:64]},
        request_id=request_id,
    )


def version_header(headers: dict[str, str], request_id: Any = None) -> str | None:
    """The MCP-Protocol-Version a request names (None if it names none); 400 if we do not serve it."""
    value = headers.get(VERSION_HEADER)
    if value is None:
        return None
    value = value.strip()
    if value in STATEFUL_VERSIONS:
        return value
    raise unsupported_version(value, request_id)


def refuse_stateless(incoming: Incoming) -> None:
    """A batch carrying the 2026-07-28 envelope (the router sends batches here): say what is served."""
    for message in incoming.messages:
        params = message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        if isinstance(meta, dict) and STATELESS_META_VERSION in meta:
            raise unsupported_version(str(meta[STATELESS_META_VERSION]), incoming.first_request_id, modern_too=True)
