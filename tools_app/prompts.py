"""Prompts: functions of string arguments that return messages for the model."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from pydantic.fields import FieldInfo

from sessions_app.runtime.context import ToolContext

from .access import Guard
from .invoke import call_user_function
from .resources import Completer


class PromptError(Exception):
    """Raised by a prompt function for arguments it cannot use; answered as invalid params."""


@dataclass
class PromptArgument:
    name: str
    description: str | None
    required: bool

    def definition(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "required": self.required}
        if self.description:
            entry["description"] = self.description
        return entry


@dataclass
class Prompt:
    name: str
    fn: Callable[..., Any]
    title: str | None = None
    description: str | None = None
    arguments: list[PromptArgument] = field(default_factory=list)
    context_param: str | None = None
    complete: dict[str, Completer] = field(default_factory=dict)
    guard: Guard | None = None  # the permission and scopes a caller needs (tools_app.access)

    def definition(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "arguments": [a.definition() for a in self.arguments]}
        if self.title:
            entry["title"] = self.title
        if self.description:
            entry["description"] = self.description
        return entry

    def missing(self, given: dict[str, str]) -> list[str]:
        return [a.name for a in self.arguments if a.required and given.get(a.name) in (None, "")]

    async def render(self, ctx: ToolContext, given: dict[str, str]) -> dict[str, Any]:
        known = {a.name for a in self.arguments}
        kwargs: dict[str, Any] = {name: value for name, value in given.items() if name in known}
        if self.context_param:
            kwargs[self.context_param] = ctx
        result = await call_user_function(self.fn, **kwargs)
        if isinstance(result, str):
            result = {"messages": [{"role": "user", "content": {"type": "text", "text": result}}]}
        return result


def prompt_arguments(fn: Callable[..., Any]) -> tuple[list[PromptArgument], str | None]:
    """Arguments from `fn`'s signature: `str` parameters, optional when they have a default."""
    hints = get_type_hints(fn, include_extras=True)
    arguments, context_param = [], None
    for param in inspect.signature(fn).parameters.values():
        annotation = hints.get(param.name, str)
        if annotation is ToolContext:
            context_param = param.name
            continue
        description = None
        if get_origin(annotation) is Annotated:
            for extra in get_args(annotation)[1:]:
                if isinstance(extra, FieldInfo) and extra.description:
                    description = extra.description
        required = param.default is inspect.Parameter.empty
        arguments.append(PromptArgument(param.name, description, required))
    return arguments, context_param
