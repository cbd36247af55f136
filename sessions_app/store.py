"""The session store: the cache in front, the database behind.

A request looks its session up in the cache (local memory, or Redis shared by
every node); only a miss reads the database. Writes go to the database first,
then refresh the cache, so the database is always the truth.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db.models import Q

from . import cachecalls
from .models import McpSession

# How stale last_activity may get before a request writes it back (a fraction of the TTL).
TOUCH_INTERVAL_SECONDS = 30


def _touch_interval() -> float:
    return min(TOUCH_INTERVAL_SECONDS, settings.MCP_SESSION_TTL / 4)
# Bounds how long another process may serve from a stale entry when the cache is per process.
CACHE_SECONDS = 60
_SESSION_ID_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F))


@dataclass(slots=True)
class SessionState:
    id: str
    protocol_version: str
    log_level: str | None = None
    client_name: str = ""
    client_version: str = ""
    client_capabilities: dict[str, Any] = field(default_factory=dict)
    last_activity: float = 0.0
    terminated: bool = False

    def expired(self, now: float | None = None) -> bool:
        return (now or time.time()) - self.last_activity > settings.MCP_SESSION_TTL

    @property
    def live(self) -> bool:
        return not self.terminated and not self.expired()


def _key(session_id: str) -> str:
    return f"mcp:session:{session_id}"


def new_session_id() -> str:
    """128 random bits as 32 hex characters: visible ASCII, unguessable."""
    return secrets.token_hex(16)


def plausible_session_id(value: str) -> bool:
    """Rejects header values that cannot be one of ours before any lookup."""
    return 0 < len(value) <= 64 and all(ch in _SESSION_ID_CHARS for ch in value)


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
    )


def _remember(state: SessionState) -> None:
    cache.set(_key(state.id), asdict(state), CACHE_SECONDS)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _live_count() -> int:
    cutoff = _now() - timedelta(seconds=settings.MCP_SESSION_TTL)
    return McpSession.objects.filter(terminated_at__isnull=True, last_activity_at__gte=cutoff).count()


def _create(protocol_version: str, client_info: dict[str, Any], capabilities: dict[str, Any]) -> SessionState | None:
    if settings.MCP_MAX_SESSIONS and _live_count() >= settings.MCP_MAX_SESSIONS:
        return None
    row = McpSession.objects.create(
        id=new_session_id(),
        protocol_version=protocol_version,
        client_name=str(client_info.get("name", ""))[:200],
        client_version=str(client_info.get("version", ""))[:100],
        client_info=client_info,
        client_capabilities=capabilities,
        last_activity_at=_now(),
    )
    state = _state_from_row(row)
    _remember(state)
    return state


create_session = database_sync_to_async(_create)


def _load(session_id: str) -> SessionState | None:
    row = McpSession.objects.filter(pk=session_id).first()
    if row is None:
        return None
    state = _state_from_row(row)
    _remember(state)
    return state


_load_async = database_sync_to_async(_load)


async def get_session(session_id: str, *, shared_truth: bool = False) -> SessionState | None:
    """The session as last stored, terminated or expired ones included; None if unknown.

    `shared_truth`: what every process sees, so skip a cache that is private to this process.
    """
    if not plausible_session_id(session_id):
        return None
    if shared_truth and not settings.USE_REDIS:
        return await _load_async(session_id)
    cached = await cachecalls.call("get", _key(session_id))
    if cached is not None:
        return SessionState(**cached)
    return await _load_async(session_id)


def _touch(state: SessionState, now: float) -> None:
    McpSession.objects.filter(pk=state.id, terminated_at__isnull=True).update(
        last_activity_at=datetime.fromtimestamp(now, timezone.utc)
    )
    state.last_activity = now
    # Cache what the database says now: a DELETE or setLevel that raced this must win.
    row = McpSession.objects.filter(pk=state.id).first()
    if row is None:
        cache.delete(_key(state.id))
    else:
        _remember(_state_from_row(row))


_touch_async = database_sync_to_async(_touch)


async def touch(state: SessionState) -> None:
    """Record activity, writing to the database at most every TOUCH_INTERVAL_SECONDS."""
    now = time.time()
    if now - state.last_activity >= _touch_interval():
        await _touch_async(state, now)


def _set_log_level(session_id: str, level: str) -> None:
    McpSession.objects.filter(pk=session_id).update(log_level=level)
    cache.delete(_key(session_id))


set_log_level = database_sync_to_async(_set_log_level)


def _terminate(session_id: str) -> bool:
    """Mark the session ended; False if it already was (or never existed)."""
    updated = McpSession.objects.filter(Q(pk=session_id) & Q(terminated_at__isnull=True)).update(terminated_at=_now())
    cache.delete(_key(session_id))
    return bool(updated)


terminate_session = database_sync_to_async(_terminate)
