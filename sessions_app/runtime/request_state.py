"""The 2026-07-28 `requestState`: what a multi-round request carries between rounds, sealed.

The state holds the answers a tool has used so far, bound to the request it belongs
to (method, tool/prompt name or resource URI, a digest of the arguments) and to the
caller (the token's subject when /mcp is protected). It is
signed with the deployment's SECRET_KEY (`django.core.signing`, a salt of its own)
and expires after MCP_REQUEST_STATE_MAX_AGE seconds, so any node can open it and
no client can forge, alter, replay elsewhere or keep it. It is signed, not
encrypted: it holds only what the client itself answered.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.core import signing

from ..wire.jsonrpc import INVALID_PARAMS, RpcError

SALT = "mcpsite.requestState.v1"


def _binding(method: str, params: dict[str, Any], subject: str) -> list[str]:
    """What a state is valid for: the same caller, method, target and arguments."""
    target = params.get("uri") if method == "resources/read" else params.get("name")
    arguments = json.dumps(params.get("arguments") or {}, sort_keys=True, separators=(",", ":"))
    return [method, str(target), hashlib.sha256(arguments.encode()).hexdigest()[:32], subject]


def seal(method: str, params: dict[str, Any], subject: str, answers: dict[str, Any]) -> str:
    return signing.dumps({"b": _binding(method, params, subject), "a": answers}, salt=SALT, compress=True)


def invalid(reason: str) -> RpcError:
    return RpcError(INVALID_PARAMS, "Invalid or expired requestState", {"reason": reason})


def open_state(method: str, params: dict[str, Any], subject: str) -> dict[str, Any]:
    """The answers of earlier rounds carried by `params.requestState` ({} if it has none).

    Raises -32602 (400 on the wire) when the state was altered, has expired, or belongs
    to another request or caller.
    """
    token = params.get("requestState")
    if token is None:
        return {}
    if not isinstance(token, str):
        raise invalid("invalid_request_state")
    try:
        state = signing.loads(token, salt=SALT, max_age=settings.MCP_REQUEST_STATE_MAX_AGE)
    except signing.SignatureExpired:
        raise invalid("expired_request_state") from None
    except signing.BadSignature:
        raise invalid("invalid_request_state") from None
    if state.get("b") != _binding(method, params, subject):
        raise invalid("request_state_mismatch")
    return dict(state.get("a") or {})
