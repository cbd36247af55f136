"""JSON-RPC messages: builders, every error code this server answers with, and the two error kinds."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from mcp_types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    UNSUPPORTED_PROTOCOL_VERSION,
)

# Implementation-defined codes (the -32000..-32099 server range, and MCP's own).
TOO_MANY_REQUESTS = -32000  # the rate limit (the TypeScript reference's code)
RESOURCE_NOT_FOUND = -32002  # the 2025-era code for an unknown resource
REQUEST_LOST = -32003  # the node running the request went away before it answered
EVENT_LIMIT = -32004  # a POST's stream reached MCP_MAX_STREAM_EVENTS
FORBIDDEN = -32005  # the caller lacks the permission or scopes an offering needs (tools_app.access)
REQUEST_TIMEOUT = -32001  # a server-to-client request got no answer in time (the SDKs' code)
MISSING_REQUIRED_CLIENT_CAPABILITY = -32021  # the client did not declare a capability the call needs
REQUEST_CANCELLED = -32800  # JSON response mode: a cancelled request still needs a body

__all__ = [
    "EVENT_LIMIT",
    "FORBIDDEN",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "MISSING_REQUIRED_CLIENT_CAPABILITY",
    "PARSE_ERROR",
    "REQUEST_CANCELLED",
    "REQUEST_LOST",
    "REQUEST_TIMEOUT",
    "RESOURCE_NOT_FOUND",
    "TOO_MANY_REQUESTS",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "HttpError",
    "RpcError",
    "dumps",
    "error_message",
    "notification",
    "payload_too_large",
    "result_message",
]


def dumps(message: Any) -> bytes:
    """Compact UTF-8 JSON for the wire (escaped ASCII if a string cannot be encoded)."""
    try:
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate: \\u-escapes are still valid JSON
        return json.dumps(message, separators=(",", ":")).encode()


UNENCODABLE = "Internal error: the response could not be encoded"


def encode_response(
    response: dict[str, Any], encode: Callable[[dict[str, Any]], bytes] = dumps
) -> tuple[dict[str, Any], bytes]:
    """(the response sent, its bytes by `encode`). One holding a value JSON cannot carry (an object a tool
    returned, say) is replaced by -32603: the client is answered either way, and the caller can say why."""
    try:
        return response, encode(response)
    except (TypeError, ValueError):
        replacement = error_message(response.get("id"), INTERNAL_ERROR, UNENCODABLE)
        return replacement, encode(replacement)


def error_message(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def result_message(request_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def notification(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


class RpcError(Exception):
    """A JSON-RPC error answered as the response to one request."""

    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_message(self, request_id: Any) -> dict[str, Any]:
        return error_message(request_id, self.code, self.message, self.data)


class HttpError(Exception):
    """A request refused at the HTTP level: a status and a JSON-RPC error body (id null unless known)."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        data: Any = None,
        headers: dict[str, str] | None = None,
        request_id: Any = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.data = data
        self.headers = headers or {}
        self.request_id = request_id

    def body(self) -> bytes:
        return dumps(error_message(self.request_id, self.code, self.message, self.data))

    def header_list(self) -> list[tuple[bytes, bytes]]:
        """The extra headers as ASGI wants them."""
        return [(name.lower().encode(), value.encode()) for name, value in self.headers.items()]

    def closing_response(self) -> bytes:
        """The whole HTTP/1.1 response, ending the connection: for a server refusing before any application runs."""
        body = self.body()
        head = [f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}", "Content-Type: application/json"]
        head += [f"{name}: {value}" for name, value in self.headers.items()]
        head += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
        return "\r\n".join(head).encode("latin-1") + body


def payload_too_large(limit: int) -> HttpError:
    return HttpError(413, INVALID_REQUEST, f"Payload Too Large: the body exceeds {limit} bytes")
