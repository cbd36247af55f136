"""The registry of what this server offers. Any installed app can add to it.

A tool is a typed Python function; its parameters become a pydantic model,
which gives the JSON Schema in tools/list and validates the arguments before
the function runs. An app declares its tools in an ``mcp_tools.py`` module,
found at start-up like ``admin.py`` (see ``tools_app.apps``).

    from tools_app.registry import registry

    @registry.tool(description="Add two numbers")
    async def add(ctx: ToolContext, a: float, b: float) -> str:
        return f"{a + b}"
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from channels.db import database_sync_to_async
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from sessions_app.context import RequestContext

logger = logging.getLogger(__name__)

ToolContext = RequestContext
"""The context a tool receives when it declares a parameter of this type."""


class ToolError(Exception):
    """Raised by a tool to answer an error result (isError) with this message."""


@dataclass
class Tool:
    name: str
    fn: Callable[..., Any]
    description: str = ""
    title: str | None = None
    annotations: dict[str, Any] | None = None
    arguments_model: type[BaseModel] = field(default=BaseModel)
    context_param: str | None = None

    def definition(self) -> dict[str, Any]:
        schema = self.arguments_model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        tool: dict[str, Any] = {"name": self.name, "description": self.description, "inputSchema": schema}
        if self.title:
            tool["title"] = self.title
        if self.annotations:
            tool["annotations"] = self.annotations
        return tool

    def validate(self, arguments: dict[str, Any] | None) -> BaseModel:
        return self.arguments_model.model_validate(arguments or {})

    async def call(self, ctx: RequestContext, arguments: BaseModel) -> Any:
        kwargs = {name: getattr(arguments, name) for name in type(arguments).model_fields}
        if self.context_param:
            kwargs[self.context_param] = ctx
        if inspect.iscoroutinefunction(self.fn):
            return await self.fn(**kwargs)
        # Off the event loop, in a worker thread that returns its DB connection.
        return await database_sync_to_async(self.fn, thread_sensitive=False)(**kwargs)


def _arguments_model(name: str, fn: Callable[..., Any]) -> tuple[type[BaseModel], str | None]:
    hints = get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {}
    context_param = None
    for param in inspect.signature(fn).parameters.values():
        annotation = hints.get(param.name, Any)
        if annotation is RequestContext:
            context_param = param.name
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (annotation, default)
    model_name = "".join(part.capitalize() for part in name.replace("-", "_").split("_")) + "Arguments"
    model = create_model(model_name, __config__=ConfigDict(extra="forbid"), **fields)
    return model, context_param


class Registry:
    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def tool(
        self,
        name: str | None = None,
        *,
        description: str | None = None,
        title: str | None = None,
        annotations: dict[str, Any] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add_tool(fn, name=name, description=description, title=title, annotations=annotations)
            return fn

        return register

    def add_tool(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        title: str | None = None,
        annotations: dict[str, Any] | None = None,
    ) -> Tool:
        tool_name = name or fn.__name__
        if tool_name in self._tools:
            raise ValueError(f"tool {tool_name!r} is registered twice")
        model, context_param = _arguments_model(tool_name, fn)
        tool = Tool(
            name=tool_name,
            fn=fn,
            description=description if description is not None else inspect.getdoc(fn) or "",
            title=title,
            annotations=annotations,
            arguments_model=model,
            context_param=context_param,
        )
        self._tools[tool_name] = tool
        return tool

    def remove_tool(self, name: str) -> None:
        self._tools.pop(name, None)

    def get_tool(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def tools(self) -> list[Tool]:
        return list(self._tools.values())

    def capabilities(self) -> dict[str, Any]:
        return {"tools": {"listChanged": False}} if self._tools else {}


registry = Registry()


def describe_validation_error(error: ValidationError) -> str:
    """A message a model can act on: which argument, and what is wrong with it."""
    parts = []
    for item in error.errors():
        where = ".".join(str(loc) for loc in item.get("loc", ())) or "arguments"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "Invalid arguments: " + "; ".join(parts)
