"""One standalone GET stream per session, across every node (the cache is shared in production).

The slot is a cache key holding the token of the connection that has it; the
holder refreshes it on every keep-alive tick, and it expires by itself when a
node dies holding it.
"""

from __future__ import annotations

import logging

from django.conf import settings

from ..store.cache import cache

logger = logging.getLogger(__name__)


def _slot_key(session_id: str) -> str:
    return f"mcp:getstream:{session_id}"


class GetStreamSlot:
    def __init__(self, session_id: str, token: str) -> None:
        self.session_id = session_id
        self.token = token
        self.held = False

    @staticmethod
    def _lifetime() -> int:
        return settings.MCP_KEEPALIVE_SECONDS * 3

    async def claim(self) -> bool:
        self.held = await cache.aadd(_slot_key(self.session_id), self.token, self._lifetime())
        return self.held

    async def refresh(self) -> None:
        if self.held:
            try:
                await cache.aset(_slot_key(self.session_id), self.token, self._lifetime())
            except Exception as exc:
                logger.warning("refreshing the GET slot of %s failed: %s", self.session_id, exc)

    async def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            await cache.run(self._release_if_ours)
        except Exception as exc:  # the slot expires by itself
            logger.warning("releasing the GET slot of %s failed: %s", self.session_id, exc)

    def _release_if_ours(self) -> None:
        key = _slot_key(self.session_id)
        if cache.backend.get(key) == self.token:
            cache.backend.delete(key)
