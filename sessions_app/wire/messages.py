"""A POST body as JSON-RPC: strict parsing into one `Incoming` shape, and the session id format."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mcp_types import jsonrpc_message_adapter
from pydantic import ValidationError

from .jsonrpc import INVALID_REQUEST, PARSE_ERROR, HttpError
from .validation import describe_validation_error

# A 2025-03-26 batch runs each request as a task; more than this in one POST is refused.
MAX_BATCH_MESSAGES = 100
# Cheap pre-filters on the raw text: a NUL or a surrogate can only come from such an escape. They may
# also match an escaped backslash followed by "u0000" (the JSON text "C:\\\\u0000dir"), so the decoded strings decide.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_NUL_ESCAPE = "\\u0000"
_SESSION_ID_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F))


def plausible_session_id(value: str) -> bool:
    """Session ids are 1-64 visible ASCII characters: anything else is refused before any lookup."""
    return 0 < len(value) <= 64 and all(ch in _SESSION_ID_CHARS for ch in value)


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
    def responses(self) -> list[dict[str, Any]]:
        """Answers to this server's own requests (elicitation, sampling, roots)."""
        return [m for m in self.messages if "method" not in m]

    @property
    def first_request_id(self) -> Any:
        requests = self.requests
        return requests[0]["id"] if len(requests) == 1 and not self.batch else None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _strings(data: Any) -> Iterator[str]:
    """Every string in decoded JSON, object keys included (iterative: nesting depth costs no stack)."""
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from item.keys()
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _check_strings(text: str, data: Any) -> None:
    """Refuse U+0000 and lone surrogates (\\ud800): valid JSON escapes, but not text we store or echo."""
    check_nul = _NUL_ESCAPE in text
    check_surrogates = _SURROGATE_ESCAPE.search(text) is not None
    if not (check_nul or check_surrogates):
        return
    for string in _strings(data):
        if check_nul and "\x00" in string:
            raise ValueError("strings must not contain U+0000 (NUL)")
        if check_surrogates:
            try:
                string.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("a string holds a lone UTF-16 surrogate") from None


def _decode(body: bytes) -> Any:
    try:
        # JSON on the wire is UTF-8 (RFC 8259 8.1); json.loads would also guess UTF-16/32.
        text = body.decode("utf-8")
        data = json.loads(text, parse_constant=_reject_constant)
        _check_strings(text, data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise HttpError(400, PARSE_ERROR, f"Parse error: {exc}") from None
    return data


def _check_message(item: Any) -> None:
    if not isinstance(item, dict):
        raise HttpError(400, INVALID_REQUEST, "Invalid Request: a JSON-RPC message must be an object")
    try:
        jsonrpc_message_adapter.validate_python(item, by_name=False)
    except RecursionError:
        raise HttpError(400, INVALID_REQUEST, "Invalid Request: the message is nested too deeply") from None
    except ValidationError as exc:
        summary = describe_validation_error(exc, default_where="message", limit=3)
        raise HttpError(400, INVALID_REQUEST, f"Invalid Request: not a JSON-RPC 2.0 message ({summary})") from None
    if "method" in item and "id" in item and type(item["id"]) not in (int, str):
        raise HttpError(400, INVALID_REQUEST, "Invalid Request: a request id must be a string or an integer")
    if "method" in item and ("result" in item or "error" in item):
        raise HttpError(400, INVALID_REQUEST, "Invalid Request: a message cannot be both a request and a response")


def parse_body(body: bytes) -> Incoming:
    data = _decode(body)
    batch = isinstance(data, list)
    items = data if batch else [data]
    if batch and not items:
        raise HttpError(400, INVALID_REQUEST, "Invalid Request: empty batch")
    if len(items) > MAX_BATCH_MESSAGES:
        raise HttpError(400, INVALID_REQUEST, f"Invalid Request: a batch holds at most {MAX_BATCH_MESSAGES} messages")
    for item in items:
        _check_message(item)
    return Incoming(items, batch)
