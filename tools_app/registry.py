"""The registry of what this server offers: tools, resources, resource templates, prompts.

Any installed Django app adds to it from an ``mcp_tools.py`` module, found at
start-up like ``admin.py`` (see ``tools_app.apps``):

    from tools_app.registry import ToolContext, registry

    @registry.tool(description="Add two numbers")
    async def add(ctx: ToolContext, a: float, b: float) -> str:
        return f"{a + b}"

    @registry.resource("notes://today", mime_type="text/plain")
    async def today(ctx: ToolContext) -> str:
        return "nothing yet"

    @registry.prompt(description="Summarise a text")
    def summarise(text: str, style: str | None = None) -> str:
        return f"Summarise this{' in a ' + style + ' style' if style else ''}: {text}"
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from .access import Guard
from .prompts import Prompt, prompt_arguments
from .resources import Completer, Resource, ResourceTemplate
from .schema import SchemaArguments
from .tools import Tool, ToolContext, ToolError, arguments_model, context_parameter

__all__ = ["Registry", "ToolContext", "ToolError", "registry"]

TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
ResourceLister = Callable[[ToolContext], Any]


class Registry:
    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self._resources: dict[str, Resource] = {}
        self._templates: dict[str, ResourceTemplate] = {}
        self._prompts: dict[str, Prompt] = {}
        self._listers: list[ResourceLister] = []
        self._announced: set[str] = set()

    # --- tools -------------------------------------------------------------------
    def tool(self, name: str | None = None, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add_tool(fn, name=name, **options)
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
        input_schema: dict[str, Any] | None = None,
        requires: dict[str, Any] | None = None,
        input_timeout: float | None = None,
        permission: str | None = None,
        scopes: list[str] | None = None,
        stored_effects_only: bool = False,
    ) -> Tool:
        """`input_schema`: list this JSON Schema as is and validate arguments with it (else: type hints).

        `requires`: client capabilities the tool needs (e.g. {"sampling": {}}); a call from a client
        without them gets -32021 before the tool runs. `input_timeout`: seconds the tool waits for the
        client's answer to each of its questions (ctx.elicit, ctx.sample, ctx.list_roots) in a session;
        default MCP_INPUT_TIMEOUT. `permission` ("app_label.codename") and `scopes`: what a caller's
        user and token need to see and call it (tools_app.access). `stored_effects_only`: the tool has no
        effect but the messages it sends on its own stream (progress, log, notify; no questions, nothing for
        the session's GET stream) and the writes it defers to its answer (sessions_app.store.answer_writes, as
        the calculator's history does); a call then runs before its request id is claimed across nodes, the
        claim riding the commit of its first stored events.
        """
        tool_name = name or fn.__name__
        if not TOOL_NAME.match(tool_name):
            raise ValueError(f"tool name {tool_name!r} must be 1-128 characters of A-Z a-z 0-9 _ . -")
        if tool_name in self._tools:
            raise ValueError(f"tool {tool_name!r} is registered twice")
        explicit = None
        if input_schema is not None:
            model, context_param = BaseModel, context_parameter(fn)
            explicit = SchemaArguments(tool_name, input_schema, fn, context_param)
        else:
            model, context_param = arguments_model(tool_name, fn)
        tool = Tool(
            name=tool_name,
            fn=fn,
            description=description if description is not None else inspect.getdoc(fn) or "",
            title=title,
            annotations=annotations,
            arguments_model=model,
            context_param=context_param,
            explicit_schema=explicit,
            requires=dict(requires or {}),
            input_timeout=input_timeout,
            guard=Guard.of(permission, scopes),
            stored_effects_only=stored_effects_only,
        )
        self._tools[tool_name] = tool
        return tool

    def get_tool(self, name: Any) -> Tool | None:
        """The tool named `name`; None for an unknown name, or anything but a string (a client's name is
        looked up before its params are validated)."""
        return self._tools.get(name) if isinstance(name, str) else None

    def tool_input_schema(self, name: Any) -> dict[str, Any] | None:
        tool = self.get_tool(name)
        return tool.definition()["inputSchema"] if tool else None

    def tool_requirements(self, name: Any) -> dict[str, Any]:
        tool = self.get_tool(name)
        return dict(tool.requires) if tool else {}

    def tools(self) -> list[Tool]:
        return list(self._tools.values())

    # --- resources ---------------------------------------------------------------
    def resource(
        self,
        uri: str,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        complete: dict[str, Completer] | None = None,
        session_scoped: bool = False,
        cache: tuple[int, str] | None = None,
        permission: str | None = None,
        scopes: list[str] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A fixed resource, or a template when `uri` has `{variables}`.

        `session_scoped`: its meaning is "this session"; stateless (2026-07-28) requests have none, so
        it is left out of their lists and reading it answers -32602. `cache`: (ttlMs, "public" or
        "private"), the caching hints of its resources/read in 2026-07-28 (default 0, private).
        """
        hints = {"ttlMs": cache[0], "cacheScope": cache[1]} if cache else None
        guard = Guard.of(permission, scopes)

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            label = name or fn.__name__
            doc = description if description is not None else inspect.getdoc(fn)
            if "{" in uri:
                if uri in self._templates:
                    raise ValueError(f"resource template {uri!r} is registered twice")
                self._templates[uri] = ResourceTemplate(
                    uri, label, fn, title, doc, mime_type, dict(complete or {}), session_scoped, hints, guard
                )
            else:
                if uri in self._resources:
                    raise ValueError(f"resource {uri!r} is registered twice")
                self._resources[uri] = Resource(uri, label, fn, title, doc, mime_type, session_scoped, hints, guard)
            return fn

        return register

    def resource_lister(self, fn: ResourceLister) -> ResourceLister:
        """Adds per-session entries to resources/list: fn(ctx) returns resource definitions."""
        self._listers.append(fn)
        return fn

    def resources(self) -> list[Resource]:
        return list(self._resources.values())

    def templates(self) -> list[ResourceTemplate]:
        return list(self._templates.values())

    def listers(self) -> list[ResourceLister]:
        return list(self._listers)

    def find_resource(self, uri: str) -> tuple[Resource | ResourceTemplate, dict[str, str]] | None:
        if uri in self._resources:
            return self._resources[uri], {}
        for template in self._templates.values():
            variables = template.match(uri)
            if variables is not None:
                return template, variables
        return None

    def get_template(self, uri_template: str) -> ResourceTemplate | None:
        return self._templates.get(uri_template)

    # --- prompts -----------------------------------------------------------------
    def prompt(
        self,
        name: str | None = None,
        *,
        title: str | None = None,
        description: str | None = None,
        complete: dict[str, Completer] | None = None,
        permission: str | None = None,
        scopes: list[str] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        guard = Guard.of(permission, scopes)

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            prompt_name = name or fn.__name__
            if prompt_name in self._prompts:
                raise ValueError(f"prompt {prompt_name!r} is registered twice")
            arguments, context_param = prompt_arguments(fn)
            doc = description if description is not None else inspect.getdoc(fn)
            self._prompts[prompt_name] = Prompt(
                prompt_name, fn, title, doc, arguments, context_param, dict(complete or {}), guard
            )
            return fn

        return register

    def get_prompt(self, name: Any) -> Prompt | None:
        return self._prompts.get(name) if isinstance(name, str) else None

    def prompts(self) -> list[Prompt]:
        return list(self._prompts.values())

    def announce_list_changes(self, *kinds: str) -> None:
        """Advertise listChanged for "tools" and/or "prompts": an app that sends notifications/*/list_changed
        (runtime.notifications.tools_list_changed, prompts_list_changed) says so here."""
        self._announced.update(kinds)

    # --- capabilities ------------------------------------------------------------
    def capabilities(self) -> dict[str, Any]:
        """What initialize advertises, from what is registered."""
        caps: dict[str, Any] = {}
        if self._tools:
            caps["tools"] = {"listChanged": "tools" in self._announced}
        if self._resources or self._templates or self._listers:
            # listChanged: per-session listings change (see resource_lister), and the
            # server says so on the session's GET stream.
            caps["resources"] = {"subscribe": True, "listChanged": bool(self._listers)}
        if self._prompts:
            caps["prompts"] = {"listChanged": "prompts" in self._announced}
        if any(p.complete for p in self._prompts.values()) or any(t.complete for t in self._templates.values()):
            caps["completions"] = {}
        return caps


registry = Registry()
