"""Tools: typed Python functions whose parameters become a pydantic model.

The model gives the JSON Schema in tools/list and validates the arguments
before the function runs. A tool registered with an explicit `input_schema`
(any JSON Schema, 2020-12 by default) is listed with that schema exactly as
given and its arguments are validated against it (see `SchemaArguments`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from sessions_app.runtime.context import ToolContext
from sessions_app.wire.validation import describe_validation_error

from .access import Guard
from .invoke import call_user_function
from .schema import InvalidArguments, SchemaArguments


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
    explicit_schema: SchemaArguments | None = None  # registered with input_schema=...
    requires: dict[str, Any] = field(default_factory=dict)  # client capabilities it needs, e.g. {"sampling": {}}
    input_timeout: float | None = None  # seconds to wait for the client's answers (None: MCP_INPUT_TIMEOUT)
    guard: Guard | None = None  # the permission and scopes a caller needs (tools_app.access)
    stored_effects_only: bool = False  # no effect but what it stores through its request (registry.add_tool)

    def definition(self) -> dict[str, Any]:
        if self.explicit_schema is not None:
            schema = self.explicit_schema.definition()
        else:
            schema = plain_schema(self.arguments_model.model_json_schema())
        tool: dict[str, Any] = {"name": self.name, "description": self.description, "inputSchema": schema}
        if self.title:
            tool["title"] = self.title
        if self.annotations:
            tool["annotations"] = self.annotations
        return tool

    def validate(self, arguments: dict[str, Any] | None) -> BaseModel | dict[str, Any]:
        """The arguments the function gets; raises ValidationError or InvalidArguments."""
        if self.explicit_schema is not None:
            return self.explicit_schema.validate(arguments)
        return self.arguments_model.model_validate(arguments or {})

    async def call(self, ctx: ToolContext, arguments: BaseModel | dict[str, Any]) -> Any:
        if isinstance(arguments, dict):
            kwargs = dict(arguments)
        else:
            kwargs = {name: getattr(arguments, name) for name in type(arguments).model_fields}
        if self.context_param:
            kwargs[self.context_param] = ctx
        return await call_user_function(self.fn, **kwargs)


def plain_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline `$defs` references and drop pydantic's generated titles: what clients handle best."""
    definitions = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/") and ref[8:] in definitions:
            merged = {**definitions[ref[8:]], **{k: v for k, v in node.items() if k != "$ref"}}
            return walk(merged)
        options = node.get("anyOf")
        if (
            isinstance(options, list)
            and len(options) == 2
            and {"type": "null"} in options
            and node.get("default", 0) is None
        ):
            # `x: T | None = None` is an optional T; "or null" is noise to a model.
            rest = {k: v for k, v in node.items() if k not in ("anyOf", "default")}
            node = {**next(option for option in options if option != {"type": "null"}), **rest}
        out = {}
        for key, value in node.items():
            if key == "title":
                continue
            if key == "properties" and isinstance(value, dict):
                out[key] = {name: walk(prop) for name, prop in value.items()}
            else:
                out[key] = walk(value)
        return out

    return walk(schema)


def context_parameter(fn: Callable[..., Any]) -> str | None:
    """The name of `fn`'s ToolContext parameter, if it has one."""
    hints = get_type_hints(fn, include_extras=True)
    return next((name for name in inspect.signature(fn).parameters if hints.get(name) is ToolContext), None)


def arguments_model(name: str, fn: Callable[..., Any]) -> tuple[type[BaseModel], str | None]:
    """A pydantic model of `fn`'s parameters, and the name of its context parameter if any."""
    hints = get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {}
    context_param = None
    for param in inspect.signature(fn).parameters.values():
        annotation = hints.get(param.name, Any)
        if annotation is ToolContext:
            context_param = param.name
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (annotation, default)
    model_name = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part) + "Arguments"
    model = create_model(model_name, __config__=ConfigDict(extra="forbid"), **fields)
    return model, context_param


def invalid_arguments(error: ValidationError | InvalidArguments) -> str:
    """A message a model can act on: which argument, and what is wrong with it."""
    if isinstance(error, InvalidArguments):
        return f"Invalid arguments: {error}"
    return "Invalid arguments: " + describe_validation_error(error, default_where="arguments")
