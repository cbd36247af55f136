"""Calculator tools that ask the client: the user confirms and chooses, the client's model explains.

The same code serves a session (a server-to-client request on the call's stream, answered
to any node) and a 2026-07-28 request (an input_required round): see ToolContext.elicit.
Each asks before it acts, so a calculation is stored once, after the answer.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from tools_app.registry import ToolContext, ToolError, registry

from . import history
from .arithmetic import CalculationError, binary, binary_expression, js_number
from .tools import BinaryOp, Finite

Operand = Annotated[Finite, Field(description="Operand")]


class Confirmation(BaseModel):
    """The form the user fills in before the calculation is run and stored."""

    confirm: bool = Field(default=True, description="Run and store this calculation")
    precision: int = Field(default=2, ge=0, le=10, description="Decimal places in the answer")


@registry.tool(
    description="Asks the user to confirm a calculation and choose its precision, then runs and stores it",
    annotations={"title": "Calculate, after the user confirms"},
)
async def solve_with_confirmation(
    ctx: ToolContext,
    a: Operand,
    b: Operand,
    op: Annotated[BinaryOp, Field(description="Operation to perform")],
) -> str:
    question = f"Calculate {js_number(a)} {op} {js_number(b)}? Choose how many decimal places to show."
    answer = await ctx.elicit(question, Confirmation)
    if not answer.accepted or not answer.data.confirm:
        return f"Not calculated: the user chose {answer.action if not answer.accepted else 'not to confirm'}"
    try:
        result = binary(op, a, b)
    except CalculationError as exc:
        raise ToolError(str(exc)) from None
    rounded = round(result, answer.data.precision)
    expression = binary_expression(op, a, b, rounded)
    await history.record(ctx.session_id, [history.Entry(op, [a, b], rounded, expression)], user_id=ctx.user.pk)
    return expression


@registry.tool(description="Calculates, then asks the client's model to explain the result to a student")
async def explain_calculation(
    ctx: ToolContext,
    a: Operand,
    b: Operand,
    op: Annotated[BinaryOp, Field(description="Operation to perform")],
) -> str:
    try:
        expression = binary_expression(op, a, b, binary(op, a, b))
    except CalculationError as exc:
        raise ToolError(str(exc)) from None
    explained = await ctx.sample(
        f"Explain in two sentences, for a student, why {expression}.",
        200,
        system_prompt="You are a patient mathematics teacher.",
        include_context="none",
    )
    return f"{expression}\n\n{explained.text} (explained by {explained.model})"
