"""Reading an ASGI HTTP request: headers, Accept and Content-Type, the JSON-RPC body."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from mcp_types import jsonrpc_message_adapter
from pydantic import ValidationError

from .jsonrpc import INVALID_REQUEST, PARSE_ERROR, HttpError
from .protocol import CONTENT_TYPE_JSON, CONTENT_TYPE_SSE

# A 2025-03-26 batch runs each request as a task; more than this in one POST is refused.
MAX_BATCH_MESSAGES = 100
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_NUL_ESCAPE = re.compile(r"\\u0000")


def header_map(scope: dict) -> dict[str, str]:
    """The request's headers by lower-case name, parsed once per request (the middleware and the
    consumer all read them; the result is kept in the scope)."""
    headers = scope.get("mcp.headers")
    if headers is None:
        headers = {}
        for raw_name, raw_value in scope.get("headers", []):
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        scope["mcp.headers"] = headers
    return headers


async def send_error(send, error: HttpError, extra_headers: list[tuple[bytes, bytes]] = ()) -> None:
    """A complete ASGI response carrying a JSON-RPC error (for middleware that answers itself)."""
    headers = [(b"content-type", b"application/json")]
    headers += [(name.lower().encode(), value.encode()) for name, value in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers + list(extra_headers)})
    await send({"type": "http.response.body", "body": error.body(), "more_body": False})


def accepts(headers: dict[str, str]) -> tuple[bool, bool]:
    """(accepts JSON, accepts SSE), with wildcards counted."""
    media = {part.split(";")[0].strip().lower() for part in headers.get("accept", "").split(",")}
    wildcard = "*/*" in media
    return (
        wildcard or CONTENT_TYPE_JSON in media or "application/*" in media,
        wildcard or CONTENT_TYPE_SSE in media or "text/*" in media,
    )


def is_json_content(headers: dict[str, str]) -> bool:
    return headers.get("content-type", "").split(";")[0].strip().lower() == CONTENT_TYPE_JSON


@dataclass
class Incoming:
    """A POST body as JSON-RPC: its messages, and whether it came as a batch."""

    messages: list[dict[str, Any]]
    batch: bool

    @property
    def requests(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if "method" in m and "id" in m]

    @property
    def notifications(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if "method" in m and "id" not in m]

    @property
    def first_request_id(self) -> Any:
        requests = self.requests
        return requests[0]["id"] if len(requests) == 1 and not self.batch else None


def _validation_summary(error: ValidationError) -> str:
    messages = sorted({item.get("msg", "invalid") for item in error.errors()})
    return "; ".join(messages[:3])


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _check_scalar_values(text: str, data: Any) -> None:
    """Refuse lone surrogates (\\ud800): valid JSON escapes, but not Unicode text."""
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a string holds a lone UTF-16 surrogate") from None


def parse_body(body: bytes) -> Incoming:
    try:
        # JSON on the wire is UTF-8 (RFC 8259 8.1); json.loads would also guess UTF-16/32.
        text = body.decode("utf-8")
        if _NUL_ESCAPE.search(text):
            raise ValueError("strings must not contain U+0000 (NUL)")
        data = json.loads(text, parse_constant=_reject_constant)
        _check_scalar_values(text, data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise HttpError(400, PARSE_ERROR, f"Parse error: {exc}") from None
    batch = isinstance(data, list)
    items = data if batch else [data]
    if batch and not items:
        raise HttpError(400, INVALID_REQUEST, "Invalid Request: empty batch")
    if len(items) > MAX_BATCH_MESSAGES:
        raise HttpError(400, INVALID_REQUEST, f"Invalid Request: a batch holds at most {MAX_BATCH_MESSAGES} messages")
    for item in items:
        if not isinstance(item, dict):
            raise HttpError(400, INVALID_REQUEST, "Invalid Request: a JSON-RPC message must be an object")
        try:
            jsonrpc_message_adapter.validate_python(item, by_name=False)
        except RecursionError:
            raise HttpError(400, INVALID_REQUEST, "Invalid Request: the message is nested too deeply") from None
        except ValidationError as exc:
            raise HttpError(
                400, INVALID_REQUEST, f"Invalid Request: not a JSON-RPC 2.0 message ({_validation_summary(exc)})"
            ) from None
        if "method" in item and "id" in item and type(item["id"]) not in (int, str):
            raise HttpError(400, INVALID_REQUEST, "Invalid Request: a request id must be a string or an integer")
        if "method" in item and ("result" in item or "error" in item):
            raise HttpError(400, INVALID_REQUEST, "Invalid Request: a message cannot be both a request and a response")
    return Incoming(items, batch)
