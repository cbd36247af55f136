"""The calculator's tools (parity with the TypeScript reference; domain errors are error results)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools_app.registry import ToolContext, ToolError, registry

from . import history
from .arithmetic import (
    CalculationError,
    advanced,
    advanced_expression,
    binary,
    binary_expression,
    js_number,
)

Finite = Annotated[float, Field(allow_inf_nan=False)]
BinaryOp = Literal["add", "subtract", "multiply", "divide"]
AdvancedOp = Literal["factorial", "power", "sqrt", "log", "sin", "cos", "tan"]
STREAM_PAUSE_SECONDS = 0.1
PROGRESS_PAUSE_SECONDS = 0.2


class BatchItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: Finite
    b: Finite
    op: BinaryOp


# The calculator's tools store nothing but their history, deferred to their answers (history.record).
@registry.tool(description="Performs arithmetic calculations", stored_effects_only=True)
async def calculate(
    ctx: ToolContext,
    a: Annotated[Finite, Field(description="First operand")],
    b: Annotated[Finite, Field(description="Second operand")],
    op: Annotated[BinaryOp, Field(description="Operation to perform")],
    stream: Annotated[bool, Field(description="Stream intermediate results as progress")] = False,
) -> str:
    if stream:
        await ctx.progress(0.2, 1.0, f"Starting {op} calculation...")
        await asyncio.sleep(STREAM_PAUSE_SECONDS)
        await ctx.progress(0.5, 1.0, f"Processing: {js_number(a)} {op} {js_number(b)}")
        await asyncio.sleep(STREAM_PAUSE_SECONDS)
    try:
        result = binary(op, a, b)
    except CalculationError as exc:
        raise ToolError(str(exc)) from None
    expression = binary_expression(op, a, b, result)
    await history.record(ctx.session_id, [history.Entry(op, [a, b], result, expression)], user_id=ctx.user.pk)
    if stream:
        await ctx.progress(1.0, 1.0, f"Calculation complete: {js_number(result)}")
    return expression


@registry.tool(description="Perform multiple calculations in batch", stored_effects_only=True)
async def batch_calculate(
    ctx: ToolContext,
    calculations: Annotated[
        list[BatchItem], Field(min_length=1, max_length=100, description="Array of calculations to perform")
    ],
    reportProgress: Annotated[bool, Field(description="Report progress during batch processing")] = False,  # noqa: N803
) -> str:
    lines, entries = [], []
    total = len(calculations)
    for index, item in enumerate(calculations, start=1):
        if reportProgress:
            await ctx.progress(
                index,
                total,
                f"Processing calculation {index}/{total}: {js_number(item.a)} {item.op} {js_number(item.b)}",
            )
        try:
            result = binary(item.op, item.a, item.b)
        except CalculationError as exc:
            lines.append(f"Error: {'Division by zero' if item.op == 'divide' and item.b == 0 else exc}")
            continue
        expression = binary_expression(item.op, item.a, item.b, result)
        lines.append(expression)
        entries.append(history.Entry(item.op, [item.a, item.b], result, expression))
    await history.record(ctx.session_id, entries, user_id=ctx.user.pk)
    return "Batch calculation completed. Results:\n" + "\n".join(lines)


# With MCP_AUTH on, only users holding this permission (the admin grants it) see and call it.
@registry.tool(
    description="Advanced mathematical operations", permission="tools_app.use_advanced", stored_effects_only=True
)
async def advanced_calculate(
    ctx: ToolContext,
    operation: Annotated[AdvancedOp, Field(description="Advanced operation")],
    value: Annotated[Finite, Field(description="Input value")],
    base: Annotated[Finite | None, Field(description="Base for power or logarithm operations")] = None,
) -> str:
    try:
        result = advanced(operation, value, base)
    except CalculationError as exc:
        raise ToolError(str(exc)) from None
    expression = advanced_expression(operation, value, base, result)
    inputs = [value, base] if base is not None else [value]
    await history.record(ctx.session_id, [history.Entry(operation, inputs, result, expression)], user_id=ctx.user.pk)
    return expression


@registry.tool(description="Demonstrate progress notifications", stored_effects_only=True)
async def demo_progress(
    ctx: ToolContext,
    steps: Annotated[int, Field(ge=1, le=1000, description="Number of progress steps")] = 5,
) -> str:
    for step in range(steps + 1):
        await ctx.progress(step, steps, f"Step {step}/{steps} completed")
        if step < steps:
            await asyncio.sleep(PROGRESS_PAUSE_SECONDS)
    return f"Progress demonstration completed with {steps} steps"
