"""Tool arguments checked against an explicit JSON Schema (`@registry.tool(input_schema=...)`).

For a tool whose schema cannot (or should not) come from type hints: the
schema is listed in tools/list exactly as given (`$schema`, `$defs`, `$anchor`,
`allOf`, `if`/`then`/`else`, vendor keys such as `x-mcp-header` all kept), and
a call's arguments are validated with the dialect the schema's `$schema` names
(JSON Schema 2020-12 when it names none). References resolve inside the schema
only: nothing is fetched from the network.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

from jsonschema import exceptions as schema_errors
from jsonschema import validators
from jsonschema.protocols import Validator

DEFAULT_DIALECT = validators.Draft202012Validator


class InvalidArguments(Exception):
    """A call's arguments do not satisfy the tool's explicit schema (answered as an error result)."""


class SchemaArguments:
    """An explicit input schema, checked once at registration and then against every call."""

    def __init__(self, tool_name: str, schema: dict[str, Any], fn: Callable[..., Any], context_param: str | None):
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise ValueError(f"tool {tool_name!r}: input_schema must be a JSON Schema object with type 'object'")
        dialect = validators.validator_for(schema, default=DEFAULT_DIALECT)
        try:
            dialect.check_schema(schema)
        except schema_errors.SchemaError as exc:
            raise ValueError(f"tool {tool_name!r}: input_schema is not a valid JSON Schema: {exc.message}") from None
        self._schema = copy.deepcopy(schema)
        self._validator: Validator = dialect(self._schema)
        _check_signature(tool_name, self._schema, fn, context_param)

    def definition(self) -> dict[str, Any]:
        """The schema as registered (a copy: a caller may not change the tool)."""
        return copy.deepcopy(self._schema)

    def validate(self, arguments: dict[str, Any] | None) -> dict[str, Any]:
        arguments = {} if arguments is None else arguments
        if not isinstance(arguments, dict):
            raise InvalidArguments("arguments: must be an object")
        error = schema_errors.best_match(self._validator.iter_errors(arguments))
        if error is not None:
            where = error.json_path.removeprefix("$.").removeprefix("$") or "arguments"
            raise InvalidArguments(f"{where}: {error.message}")
        return arguments


def _check_signature(tool_name: str, schema: dict[str, Any], fn: Callable[..., Any], context_param: str | None) -> None:
    """The function must accept, as keywords, every argument the schema lets through."""
    params = [p for p in inspect.signature(fn).parameters.values() if p.name != context_param]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    keyword = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    named = {p.name for p in params if p.kind in keyword}
    missing = sorted(set(schema.get("properties", {})) - named)
    if missing:
        raise ValueError(f"tool {tool_name!r}: the function takes no parameter for {', '.join(missing)} (or **kwargs)")
    if schema.get("additionalProperties") is not False:
        raise ValueError(f"tool {tool_name!r}: the schema allows additional properties, so the function needs **kwargs")
    required_params = [p.name for p in params if p.default is inspect.Parameter.empty]
    optional = sorted(set(required_params) - set(schema.get("required", [])))
    if optional:
        raise ValueError(f"tool {tool_name!r}: {', '.join(optional)} may be absent, so give them defaults")
