"""The one way a pydantic validation error becomes text a client (or a model) can act on."""

from __future__ import annotations

from pydantic import ValidationError


def describe_validation_error(error: ValidationError, *, default_where: str, limit: int | None = None) -> str:
    """'where: what is wrong' for each error (the first `limit` of them), joined by '; '."""
    parts = []
    for item in error.errors()[:limit]:
        where = ".".join(str(part) for part in item.get("loc", ())) or default_where
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or f"{default_where}: invalid"
