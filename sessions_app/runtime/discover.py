"""server/discover (2026-07-28): what the server serves, answered without a session."""

from __future__ import annotations

from typing import Any

from ..wire.versions import MODERN_VERSIONS
from .context import RequestContext
from .methods import INSTRUCTIONS, methods


async def discover(ctx: RequestContext) -> dict[str, Any]:
    return {
        "supportedVersions": list(MODERN_VERSIONS),
        "capabilities": methods.capabilities(),
        "instructions": INSTRUCTIONS,
    }


methods.register("server/discover", discover)
