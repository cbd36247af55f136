"""OAuth 2.0 bearer tokens on a protected resource, as data (RFC 6750, RFC 8707, RFC 9728).

Pure functions the edge middleware and the metadata view share: where a resource's metadata
document lives, the `Authorization` header's token, and the `WWW-Authenticate` challenge.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

WELL_KNOWN_RESOURCE = "/.well-known/oauth-protected-resource"
# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def resource_url(scheme: str, host: str, path: str) -> str:
    """The canonical resource identifier of `path` on `host` (RFC 8707: lower-case scheme and host, no fragment)."""
    return f"{scheme.lower()}://{host.lower()}{path}"


def metadata_url(resource: str) -> str:
    """RFC 9728 section 3.1: the well-known segment goes between the host and the resource's path."""
    parts = urlsplit(resource)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN_RESOURCE}{path}"


class MalformedAuthorization(ValueError):
    """An Authorization header with the Bearer scheme whose credentials are not one token68."""


def bearer_token(authorization: str | None) -> str | None:
    """The token of `Authorization: Bearer <token>`; None when there is no Bearer credential at all.

    Another scheme (Basic, ...) counts as no credential (RFC 6750 section 3.1), a Bearer header whose
    value is empty, holds spaces or characters outside token68 raises MalformedAuthorization.
    """
    if authorization is None or not authorization.strip():
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    credentials = credentials.strip()
    if not _TOKEN68.fullmatch(credentials):
        raise MalformedAuthorization("the Bearer credentials must be one token68 value")
    return credentials


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge(
    resource_metadata: str, *, error: str | None = None, description: str | None = None, scope: str | None = None
) -> str:
    """A `WWW-Authenticate: Bearer ...` value: resource_metadata always (MCP), error and scope where they apply."""
    params = [f"resource_metadata={_quoted(resource_metadata)}"]
    if error is not None:
        params.append(f"error={_quoted(error)}")
    if description is not None:
        params.append(f"error_description={_quoted(description)}")
    if scope:
        params.append(f"scope={_quoted(scope)}")
    return "Bearer " + ", ".join(params)
