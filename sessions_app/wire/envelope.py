"""The 2026-07-28 per-request `_meta` envelope: its keys, how a body claims the modern era, its validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .jsonrpc import INVALID_PARAMS, UNSUPPORTED_PROTOCOL_VERSION, HttpError
from .versions import LOG_LEVELS, MODERN_VERSIONS, STATELESS_META_VERSION

PROTOCOL_VERSION_KEY = STATELESS_META_VERSION
CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
SUBSCRIPTION_ID_KEY = "io.modelcontextprotocol/subscriptionId"


def meta_of(message: Any) -> dict[str, Any] | None:
    params = message.get("params") if isinstance(message, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    return meta if isinstance(meta, dict) else None


def claims_modern(message: Any) -> bool:
    """True when a message's params._meta names a protocol version: the body's own era claim."""
    meta = meta_of(message)
    return meta is not None and PROTOCOL_VERSION_KEY in meta


@dataclass(frozen=True, slots=True)
class Envelope:
    """What one modern request says about its client: this is all the 'session' it has."""

    protocol_version: Any
    client_capabilities: dict[str, Any]
    client_name: str = ""
    client_version: str = ""
    log_level: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _invalid(message: str, request_id: Any) -> HttpError:
    return HttpError(400, INVALID_PARAMS, message, request_id=request_id)


def read_envelope(message: dict[str, Any]) -> Envelope:
    """The envelope of a request; 400/-32602 when `_meta` or a required key is missing or malformed.

    The protocol version's type is checked later (after the routing headers, see `check_version`),
    so a client whose headers disagree with its body is told that first.
    """
    request_id = message.get("id")
    meta = meta_of(message)
    if meta is None:
        raise _invalid(
            f"params._meta must be an object carrying the required {PROTOCOL_VERSION_KEY!r} and "
            f"{CLIENT_CAPABILITIES_KEY!r} envelope keys",
            request_id,
        )
    missing = [key for key in (PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY) if key not in meta]
    if missing:
        raise _invalid(f"params._meta is missing the required envelope key(s): {', '.join(missing)}", request_id)
    capabilities = meta[CLIENT_CAPABILITIES_KEY]
    if not isinstance(capabilities, dict):
        raise _invalid(f"params._meta[{CLIENT_CAPABILITIES_KEY!r}] must be an object", request_id)
    info = meta.get(CLIENT_INFO_KEY)
    if info is not None and not isinstance(info, dict):
        raise _invalid(f"params._meta[{CLIENT_INFO_KEY!r}] must be an object", request_id)
    level = meta.get(LOG_LEVEL_KEY)
    if level is not None and level not in LOG_LEVELS:
        raise _invalid(f"params._meta[{LOG_LEVEL_KEY!r}] must be one of {', '.join(LOG_LEVELS)}", request_id)
    info = info or {}
    return Envelope(
        protocol_version=meta[PROTOCOL_VERSION_KEY],
        client_capabilities=capabilities,
        client_name=str(info.get("name") or "")[:200],
        client_version=str(info.get("version") or "")[:200],
        log_level=level,
    )


def unsupported_modern_version(requested: Any, request_id: Any = None) -> HttpError:
    text = str(requested)[:64]
    return HttpError(
        400,
        UNSUPPORTED_PROTOCOL_VERSION,
        "Unsupported protocol version",
        data={"supported": list(MODERN_VERSIONS), "requested": text},
        request_id=request_id,
    )


def check_version(envelope: Envelope, request_id: Any) -> str:
    """The envelope's revision if this server serves it: -32602 if not a string, -32022 if not served."""
    version = envelope.protocol_version
    if not isinstance(version, str):
        raise _invalid("the protocol-version envelope value must be a string", request_id)
    if version not in MODERN_VERSIONS:
        raise unsupported_modern_version(version, request_id)
    return version


def missing_capabilities(required: dict[str, Any], declared: dict[str, Any]) -> dict[str, Any]:
    """The part of `required` (a ClientCapabilities object) the client did not declare."""
    return {name: value for name, value in required.items() if name not in declared}
