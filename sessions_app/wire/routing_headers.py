"""The 2026-07-28 routing headers (SEP-2243): MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Param-*.

Each must agree with the body; any disagreement (missing, different, duplicated,
badly encoded) is 400 / -32020. Header names are case-insensitive, values are
case-sensitive, surrounding whitespace is tolerated. A value that is not safe
ASCII travels as `=?base64?<standard base64 of its UTF-8>?=`, decoded before
comparing; malformed or non-canonical base64 never matches.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from typing import Any

from mcp_types import HEADER_MISMATCH

from .jsonrpc import HttpError
from .versions import VERSION_HEADER

METHOD_HEADER = "mcp-method"
NAME_HEADER = "mcp-name"
PARAM_HEADER_PREFIX = "mcp-param-"
X_MCP_HEADER = "x-mcp-header"
ROUTING_HEADERS = frozenset({VERSION_HEADER, METHOD_HEADER, NAME_HEADER})
# Which body parameter Mcp-Name mirrors, by method.
NAME_PARAMS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_SENTINEL = re.compile(r"=\?base64\?(?P<payload>[A-Za-z0-9+/=]*)\?=")
_CANONICAL_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def mismatch(message: str, request_id: Any = None) -> HttpError:
    return HttpError(400, HEADER_MISMATCH, f"Header mismatch: {message}", request_id=request_id)


def decode_value(value: str | None) -> str | None:
    """A header value as the client meant it (the base64 sentinel decoded); None if absent or malformed."""
    if value is None:
        return None
    value = value.strip()
    match = _SENTINEL.fullmatch(value)
    if match is None:
        return value
    payload = match.group("payload")
    try:
        decoded = base64.b64decode(payload, validate=True)
    except binascii.Error:
        return None
    if base64.b64encode(decoded).decode("ascii") != payload:  # e.g. non-zero trailing bits
        return None
    try:
        return decoded.decode("utf-8")
    except UnicodeDecodeError:
        return None


def check_duplicates(pairs: Iterable[tuple[str, str]], request_id: Any = None) -> None:
    """A routing or Mcp-Param-* header sent twice: readers of the first and last copy would disagree."""
    seen: set[str] = set()
    for name, _ in pairs:
        key = name.lower()
        if key in ROUTING_HEADERS or key.startswith(PARAM_HEADER_PREFIX):
            if key in seen:
                raise mismatch(f"the {key} header appears more than once", request_id)
            seen.add(key)


def check_routing(headers: dict[str, str], message: dict[str, Any], version: Any) -> None:
    """MCP-Protocol-Version equals the envelope's version, Mcp-Method the method, Mcp-Name the name or uri."""
    request_id = message.get("id")
    sent_version = headers.get(VERSION_HEADER)
    if sent_version is None or sent_version.strip() != version:
        raise mismatch("MCP-Protocol-Version header does not match the envelope's protocol version", request_id)
    method = message.get("method")
    sent_method = headers.get(METHOD_HEADER)
    if sent_method is None or sent_method.strip() != method:
        raise mismatch("Mcp-Method header does not match the request body's method", request_id)
    name_param = NAME_PARAMS.get(method)
    params = message.get("params") or {}
    if name_param is not None and params.get(name_param) is not None:
        sent = headers.get(NAME_HEADER)
        if decode_value(sent) != params[name_param]:
            raise mismatch(f"Mcp-Name header does not match the request body's {name_param!r} parameter", request_id)


def annotated_properties(schema: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str, dict]]:
    """(argument path, header token, property schema) for each `x-mcp-header` reachable through `properties`."""
    if not isinstance(schema, dict):
        return
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return
    for name, prop in properties.items():
        if not isinstance(prop, dict):
            continue
        token = prop.get(X_MCP_HEADER)
        if isinstance(token, str) and prop.get("type") in ("string", "integer", "boolean"):
            yield (*path, name), token, prop
        yield from annotated_properties(prop, (*path, name))


def _value_at(arguments: Any, path: tuple[str, ...]) -> Any:
    node = arguments
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _render(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return None


def _matches(prop_type: Any, value: Any, rendered: str, sent: str) -> bool:
    """Integers compare numerically (`42` matches `42.0`); everything else as rendered text."""
    numeric = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if prop_type == "integer" and numeric and not isinstance(value, bool) and _CANONICAL_DECIMAL.fullmatch(sent):
        whole, _, fraction = sent.partition(".")
        return set(fraction) <= {"0"} and int(whole) == int(value)
    return sent == rendered


def check_param_headers(headers: dict[str, str], schema: Any, arguments: Any, request_id: Any = None) -> None:
    """Each `x-mcp-header` argument and its Mcp-Param-{token} header: present together and equal, or both absent."""
    for path, token, prop in annotated_properties(schema):
        header = f"Mcp-Param-{token}"
        sent = headers.get(f"{PARAM_HEADER_PREFIX}{token.lower()}")
        value = _value_at(arguments, path)
        argument = ".".join(path)
        if value is None:
            if sent is not None:
                raise mismatch(f"{header} header is present but the {argument!r} argument is absent", request_id)
            continue
        rendered = _render(value)
        if sent is None:
            if rendered is None:
                continue
            raise mismatch(f"{header} header is missing but the {argument!r} argument is present", request_id)
        decoded = decode_value(sent)
        if decoded is None:
            raise mismatch(f"{header} header carries a malformed base64 value", request_id)
        if rendered is None or not _matches(prop.get("type"), value, rendered, decoded):
            raise mismatch(f"{header} header does not match the {argument!r} argument", request_id)
