"""The session store: the cache in front, the database behind (like django.contrib.sessions' cached_db).

A request looks its session up in the cache (local memory, or Redis shared by
every node); only a miss reads the database. Writes go to the database first,
then refresh the cache, so the database is always the truth.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from ..models import McpSession
from ..wire.messages import plausible_session_id
from .background import on_upkeep_thread
from .cache import cache

# How stale last_activity may get before a request writes it back (a fraction of the TTL).
TOUCH_INTERVAL_SECONDS = 30
# Bounds how long another process may serve from a stale entry when the cache is per process.
CACHE_SECONDS = 60


@dataclass(slots=True)
class SessionState:
    """A session as a request needs it: small enough to cache whole."""

    id: str
    protocol_version: str
    log_level: str | None = None
    client_name: str = ""
    client_version: str = ""
    client_capabilities: dict[str, Any] = field(default_factory=dict)
    last_activity: float = 0.0
    terminated: bool = False
    principal: str = ""  # who opened it (edge.bearer.Principal.subject); "" when /mcp is open

    def expired(self, now: float | None = None) -> bool:
        return (now or time.time()) - self.last_activity > settings.MCP_SESSION_TTL

    @property
    def live(self) -> bool:
        return not self.terminated and not self.expired()


def new_session_id() -> str:
    """128 random bits as 32 hex characters: visible ASCII, unguessable."""
    return secrets.token_hex(16)


def _key(session_id: str) -> str:
    return f"mcp:session:{session_id}"


def _state_from_row(row: McpSession) -> SessionState:
    return SessionState(
        id=row.id,
        protocol_version=row.protocol_version,
        log_level=row.log_level,
        client_name=row.client_name,
        client_version=row.client_version,
        client_capabilities=row.client_capabilities or {},
        last_activity=row.last_activity_at.timestamp(),
        terminated=row.terminated_at is not None,
        principal=row.principal,
    )


class SessionStore:
    """aget / acreate / atouch / aset_log_level / aterminate, and `terminate` for sync callers."""

    # --- sync, on the ORM thread ----------------------------------------------------
    def _cache_state(self, state: SessionState) -> None:
        cache.backend.set(_key(state.id), asdict(state), CACHE_SECONDS)

    def _create(
        self,
        version: str,
        client_info: dict[str, Any],
        capabilities: dict[str, Any],
        principal: str = "",
        owner_id: int | None = None,
    ) -> SessionState | None:
        if settings.MCP_MAX_SESSIONS and McpSession.objects.live().count() >= settings.MCP_MAX_SESSIONS:
            return None
        row = McpSession.objects.create(
            id=new_session_id(),
            protocol_version=version,
            client_name=str(client_info.get("name", ""))[:200],
            client_version=str(client_info.get("version", ""))[:100],
            client_info=client_info,
            client_capabilities=capabilities,
            last_activity_at=datetime.now(UTC),
            principal=principal[:255],
            owner_id=owner_id,
        )
        state = _state_from_row(row)
        self._cache_state(state)
        return state

    def _load(self, session_id: str) -> SessionState | None:
        row = McpSession.objects.filter(pk=session_id).first()
        if row is None:
            return None
        state = _state_from_row(row)
        self._cache_state(state)
        return state

    def _touch(self, state: SessionState, now: float) -> None:
        McpSession.objects.filter(pk=state.id, terminated_at__isnull=True).update(
            last_activity_at=datetime.fromtimestamp(now, UTC)
        )
        state.last_activity = now
        # Cache what the database says now: a DELETE or setLevel that raced this must win.
        if self._load(state.id) is None:
            cache.backend.delete(_key(state.id))

    def _set_log_level(self, session_id: str, level: str) -> None:
        McpSession.objects.filter(pk=session_id).update(log_level=level)
        cache.backend.delete(_key(session_id))

    def terminate(self, session_id: str) -> bool:
        """Mark the session ended; False if it already was (or never existed)."""
        updated = McpSession.objects.filter(pk=session_id, terminated_at__isnull=True).update(
            terminated_at=datetime.now(UTC)
        )
        cache.backend.delete(_key(session_id))
        return bool(updated)

    def ended_among(self, session_ids: set[str]) -> set[str]:
        """Those of `session_ids` that are terminated, expired or gone (the database's word)."""
        ids = sorted(session_ids)
        live: set[str] = set()
        for start in range(0, len(ids), 500):  # SQLite caps the parameters of one query
            live.update(McpSession.objects.live().filter(pk__in=ids[start : start + 500]).values_list("pk", flat=True))
        return set(ids) - live

    # --- async ------------------------------------------------------------------------
    async def acreate(
        self,
        version: str,
        client_info: dict[str, Any],
        capabilities: dict[str, Any],
        principal: str = "",
        owner_id: int | None = None,
    ) -> SessionState | None:
        """A new session, bound to `principal` (and its user); None when MCP_MAX_SESSIONS live sessions exist."""
        return await database_sync_to_async(self._create)(version, client_info, capabilities, principal, owner_id)

    async def aget(self, session_id: str, *, shared_truth: bool = False) -> SessionState | None:
        """The session as last stored, terminated or expired ones included; None if unknown.

        `shared_truth`: what every process sees, so skip a cache that is private to this process.
        """
        if not plausible_session_id(session_id):
            return None
        if not shared_truth or cache.remote:
            cached = await cache.aget(_key(session_id))
            if cached is not None:
                return SessionState(**cached)
        return await database_sync_to_async(self._load)(session_id)

    async def atouch(self, state: SessionState) -> None:
        """Record activity, writing to the database at most every TOUCH_INTERVAL_SECONDS."""
        now = time.time()
        if now - state.last_activity >= min(TOUCH_INTERVAL_SECONDS, settings.MCP_SESSION_TTL / 4):
            await database_sync_to_async(self._touch)(state, now)

    async def aset_log_level(self, session_id: str, level: str) -> None:
        await database_sync_to_async(self._set_log_level)(session_id, level)

    async def aended_among(self, session_ids: set[str]) -> set[str]:
        return await on_upkeep_thread(self.ended_among)(session_ids)  # the node's upkeep, not request work

    async def aterminate(self, session_id: str) -> bool:
        return await database_sync_to_async(self.terminate)(session_id)


sessions = SessionStore()
