"""JSON-RPC envelopes and the errors the transport answers with."""

from __future__ import annotations

import json
from typing import Any

from mcp_types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    UNSUPPORTED_PROTOCOL_VERSION,
)

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "HttpError",
    "RpcError",
    "dumps",
    "error_message",
    "result_message",
]


def dumps(message: Any) -> bytes:
    """Compact UTF-8 JSON for the wire (escaped ASCII if a string cannot be encoded)."""
    try:
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate: \\u-escapes are still valid JSON
        return json.dumps(message, separators=(",", ":")).encode()


def error_message(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def result_message(request_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


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
    """A request rejected at the HTTP level: a status and a JSON-RPC error body with id null."""

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
