"""The calculator's resources. Session-scoped ones answer only their own session (none in 2026-07-28)."""

from __future__ import annotations

import math

from tools_app.registry import ToolContext, registry
from tools_app.resources import ResourceNotFound

from . import history

JSON = "application/json"
# resources/read caching hints (2026-07-28): fixed tables may be cached by anyone for an hour;
# calculator://stats changes with every calculation (default: 0, private).
HOUR_MS = 3_600_000

FORMULAS = {
    "quadratic": {"formula": "ax² + bx + c = 0", "solution": "x = (-b ± √(b²-4ac)) / 2a"},
    "pythagorean": {"formula": "a² + b² = c²", "description": "For right triangles"},
    "compound_interest": {
        "formula": "A = P(1 + r/n)^(nt)",
        "variables": {
            "A": "Final amount",
            "P": "Principal",
            "r": "Annual interest rate",
            "n": "Compounding frequency",
            "t": "Time in years",
        },
    },
}


@registry.resource(
    "calculator://constants",
    name="calculator-constants",
    title="Calculator Constants",
    mime_type=JSON,
    description="Mathematical constants",
    cache=(HOUR_MS, "public"),
)
def constants(ctx: ToolContext) -> dict:
    return {"pi": math.pi, "e": math.e, "sqrt2": math.sqrt(2), "ln2": math.log(2), "ln10": math.log(10)}


@registry.resource(
    "calculator://stats",
    name="calculator-stats",
    title="Calculator Statistics",
    mime_type=JSON,
    description="Aggregate statistics across all sessions (from the database, so across all nodes)",
)
async def stats(ctx: ToolContext) -> dict:
    return await history.stats()


@registry.resource(
    history.HISTORY_URI,
    name="calculation-history-list",
    title="Calculation History",
    mime_type=JSON,
    description="This session's last 50 calculations, oldest first, each with its id",
    session_scoped=True,
)
async def history_list(ctx: ToolContext) -> list:
    return await history.recent(ctx.session_id)


async def _own_calculation_ids(ctx: ToolContext, typed: str) -> list[str]:
    return [entry["id"] for entry in reversed(await history.recent(ctx.session_id))]


@registry.resource(
    "calculator://history/{calculationId}",
    name="calculation-history",
    title="Calculation History",
    mime_type=JSON,
    description="Retrieve specific calculation from history",
    complete={"calculationId": _own_calculation_ids},
    session_scoped=True,
)
async def history_entry(ctx: ToolContext, calculationId: str) -> dict:  # noqa: N803
    entry = await history.get(ctx.session_id, calculationId)
    if entry is None:
        raise ResourceNotFound(calculationId)
    return entry


@registry.resource(
    "session://info/{sessionId}",
    name="session-info",
    title="Session Information",
    mime_type=JSON,
    description="Current session details",
    complete={"sessionId": lambda ctx, typed: [ctx.session_id]},
    session_scoped=True,
)
async def session_info(ctx: ToolContext, sessionId: str) -> dict:  # noqa: N803
    if sessionId != ctx.session_id:  # another session's details are not this client's to read
        raise ResourceNotFound(sessionId)
    info = await history.session_info(sessionId)
    if info is None:
        raise ResourceNotFound(sessionId)
    return info


@registry.resource(
    "formulas://library",
    name="formulas-library",
    title="Formula Library",
    mime_type=JSON,
    description="Mathematical formulas",
    cache=(HOUR_MS, "public"),
)
def formulas(ctx: ToolContext) -> dict:
    return FORMULAS


@registry.resource_lister
async def session_resources(ctx: ToolContext) -> list[dict]:
    """This session's own resources: its info, and each calculation in its history."""
    entries = [
        {
            "uri": f"session://info/{ctx.session_id}",
            "name": "session-info",
            "title": "Session Information",
            "description": "Current session details",
            "mimeType": JSON,
        },
    ]
    for entry in await history.recent(ctx.session_id):
        entries.append(
            {
                "uri": f"calculator://history/{entry['id']}",
                "name": f"calculation-{entry['id']}",
                "title": entry["expression"],
                "mimeType": JSON,
            }
        )
    return entries
