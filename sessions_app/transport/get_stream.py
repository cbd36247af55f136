"""One standalone GET stream per session, across every node.

The slot lives in the session's database row (store/get_slots.py), never in a
cache: it cannot be evicted, and a Redis restart cannot free it. The holder
refreshes it on every keep-alive tick and releases it when its stream ends; it
expires by itself after three keep-alive intervals, or as soon as the holder's
node lease lapses (a killed node), so a new GET then gets it.
"""

from __future__ import annotations

import logging

from django.conf import settings

from ..store import get_slots

logger = logging.getLogger(__name__)


class GetStreamSlot:
    def __init__(self, session_id: str, token: str) -> None:
        self.session_id = session_id
        self.token = token
        self.held = False

    @staticmethod
    def _lifetime() -> int:
        return settings.MCP_KEEPALIVE_SECONDS * 3

    async def claim(self) -> bool:
        self.held = await get_slots.aclaim(self.session_id, self.token, settings.MCP_NODE_ID, self._lifetime())
        return self.held

    async def refresh(self) -> bool:
        """Extend the slot; False when another stream took it over (this one must then end)."""
        if not self.held:
            return True
        try:
            self.held = await get_slots.arefresh(self.session_id, self.token, self._lifetime())
        except Exception as exc:  # an outage: keep the stream; the slot expires if this lasts
            logger.warning("refreshing the GET slot of %s failed: %s", self.session_id, exc)
            return True
        if not self.held:
            logger.info("the GET slot of %s was taken over; closing this stream", self.session_id)
        return self.held

    async def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            await get_slots.arelease(self.session_id, self.token)
        except Exception as exc:  # the slot expires by itself
            logger.warning("releasing the GET slot of %s failed: %s", self.session_id, exc)
