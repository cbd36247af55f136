"""Who may see and use an offering: a Django permission and/or token scopes, per tool, resource or prompt.

`@registry.tool(permission="app_label.codename", scopes=["..."])` (and the same on `resource` and
`prompt`) attaches a `Guard`. A caller without it does not see the offering in lists, and calling
it anyway answers a JSON-RPC error naming what is missing. With MCP_AUTH=none there is no caller
to ask: /mcp is open and every offering is available, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async

from sessions_app.wire.jsonrpc import FORBIDDEN, RpcError


@dataclass(frozen=True)
class Guard:
    permission: str | None = None
    scopes: frozenset[str] = frozenset()

    @classmethod
    def of(cls, permission: str | None, scopes: Iterable[str] | None) -> Guard | None:
        if isinstance(scopes, str):
            raise TypeError("scopes must be a list of scope names, not a string")
        if permission is not None and permission.count(".") != 1:
            raise ValueError(f"permission {permission!r} must be 'app_label.codename'")
        guard = cls(permission, frozenset(scopes or ()))
        return guard if guard.permission or guard.scopes else None


class Caller:
    """The request's principal as far as guards care; its permissions are read once, when first needed."""

    def __init__(self, principal: Any) -> None:
        self.principal = principal
        self._permissions: set[str] | None = None

    async def permissions(self) -> set[str]:
        if self._permissions is None:
            user = getattr(self.principal, "user", None)
            self._permissions = set(await database_sync_to_async(user.get_all_permissions)()) if user else set()
        return self._permissions

    async def missing(self, guard: Guard | None) -> dict[str, Any]:
        """What the caller lacks for `guard` ({} when allowed)."""
        if guard is None or self.principal is None:
            return {}
        lacking: dict[str, Any] = {}
        scopes = guard.scopes - self.principal.scopes
        if scopes:
            lacking["scopes"] = sorted(scopes)
        if guard.permission and guard.permission not in await self.permissions():
            lacking["permission"] = guard.permission
        return lacking

    async def allows(self, guard: Guard | None) -> bool:
        return not await self.missing(guard)

    async def require(self, guard: Guard | None, what: str) -> None:
        """RpcError FORBIDDEN naming the permission or scopes `what` needs and the caller lacks."""
        lacking = await self.missing(guard)
        if lacking:
            needs = [f"the permission {lacking['permission']}"] if "permission" in lacking else []
            needs += [f"the scope {s}" for s in lacking.get("scopes", [])]
            raise RpcError(FORBIDDEN, f"Forbidden: {what} needs {' and '.join(needs)}", lacking)

    async def visible(self, items: Iterable[Any]) -> list[Any]:
        """Those of `items` (each with a `guard`) the caller may see."""
        return [item for item in items if await self.allows(item.guard)]
