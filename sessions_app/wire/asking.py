"""What a tool may ask the client, as data: the three questions, and their typed answers.

An `Ask` is one question (`elicitation/create`, `sampling/createMessage` or
`roots/list`): its params, the client capability it needs, and how to read the
client's answer into a typed result. The runtime sends it as a server-to-client
request (stateful era) or returns it in an `input_required` result (2026-07-28);
the question and the reading of its answer are the same in both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from jsonschema import exceptions as schema_errors
from jsonschema import validators
from pydantic import BaseModel, ValidationError

T = TypeVar("T")
ELICIT = "elicitation/create"
SAMPLE = "sampling/createMessage"
LIST_ROOTS = "roots/list"
ACTIONS = ("accept", "decline", "cancel")
FORM_TYPES = frozenset({"string", "number", "integer", "boolean", "array"})  # the spec's primitive fields


class BadAnswer(ValueError):
    """The client's answer is not a valid answer to the question asked."""


@dataclass(frozen=True)
class Elicitation:
    """The user's answer: `action` is accept, decline or cancel; `content` (and `data`) only on accept.

    `content` is the answer as JSON, checked against the requested schema; `data` is
    the same as an instance of the pydantic model when the schema was given as one.
    """

    action: Literal["accept", "decline", "cancel"]
    content: dict[str, Any] | None = None
    data: Any = None

    @property
    def accepted(self) -> bool:
        return self.action == "accept"


@dataclass(frozen=True)
class Sampled:
    """The client's model's message: `text` is its text (empty when the content is not text)."""

    role: str
    content: dict[str, Any] | list[dict[str, Any]]
    model: str
    stop_reason: str | None = None

    @property
    def text(self) -> str:
        parts = self.content if isinstance(self.content, list) else [self.content]
        return "".join(str(part.get("text", "")) for part in parts if part.get("type") == "text")


@dataclass(frozen=True)
class Root:
    uri: str
    name: str | None = None


@dataclass(frozen=True)
class Ask(Generic[T]):
    """One question for the client; `key` names it in an input_required result (None: numbered in order)."""

    method: str
    params: dict[str, Any]
    capability: str  # the ClientCapabilities entry the client must have declared
    read: Callable[[Any], T] = field(repr=False)
    key: str | None = None

    def message(self, request_id: str) -> dict[str, Any]:
        """As a server-to-client JSON-RPC request (the stateful era)."""
        return {"jsonrpc": "2.0", "id": request_id, "method": self.method, "params": self.params}

    def input_request(self) -> dict[str, Any]:
        """As an entry of `inputRequests` (2026-07-28)."""
        return {"method": self.method, "params": self.params}


# --- elicitation -----------------------------------------------------------------
def elicit(message: str, schema: type[BaseModel] | dict[str, Any], key: str | None = None) -> Ask[Elicitation]:
    """Ask the user to fill in a form: `schema` is a pydantic model or a JSON Schema object of primitives."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        requested, model = form_schema(schema), schema
    elif isinstance(schema, dict) and schema.get("type") == "object":
        requested, model = schema, None
    else:
        raise TypeError("an elicitation schema is a pydantic model or a JSON Schema with type 'object'")
    validator = validators.validator_for(requested)(requested)
    params = {"message": message, "requestedSchema": requested}
    return Ask(ELICIT, params, "elicitation", lambda answer: _read_elicitation(answer, validator, model), key)


def form_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A pydantic model as the flat form an elicitation may request: primitives (and arrays of
    enums) only, no titles; `x: T | None = None` is an optional T. Anything nested is a TypeError."""
    generated = model.model_json_schema()
    properties = {}
    for name, prop in generated.get("properties", {}).items():
        prop = {key: value for key, value in prop.items() if key != "title"}
        options = prop.pop("anyOf", None)
        if options is not None:
            kept = [option for option in options if option != {"type": "null"}]
            if len(kept) != 1:
                raise TypeError(f"elicitation field {name!r} must have one type")
            prop = {**kept[0], **prop}
        if "default" in prop and prop["default"] is None:
            del prop["default"]
        if prop.get("type") not in FORM_TYPES:
            raise TypeError(f"elicitation field {name!r} must be a string, number, integer, boolean or enum list")
        properties[name] = prop
    form: dict[str, Any] = {"type": "object", "properties": properties}
    if generated.get("required"):
        form["required"] = list(generated["required"])
    return form


def _read_elicitation(answer: Any, validator: Any, model: type[BaseModel] | None) -> Elicitation:
    if not isinstance(answer, dict) or answer.get("action") not in ACTIONS:
        raise BadAnswer("an elicitation answer is an object whose action is accept, decline or cancel")
    action = answer["action"]
    if action != "accept":
        return Elicitation(action)
    content = answer.get("content")
    if not isinstance(content, dict):
        raise BadAnswer("an accepted elicitation carries its content as an object")
    error = schema_errors.best_match(validator.iter_errors(content))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "content"
        raise BadAnswer(f"the content does not match the requested schema at {where}: {error.message}")
    data = None
    if model is not None:
        try:
            data = model.model_validate(content)
        except ValidationError as exc:
            raise BadAnswer(f"the content does not match the requested schema: {exc.errors()[0]['msg']}") from None
    return Elicitation("accept", content, data)


# --- sampling ----------------------------------------------------------------------
def sample(
    messages: str | list[dict[str, Any]],
    max_tokens: int,
    *,
    system_prompt: str | None = None,
    temperature: float | None = None,
    stop_sequences: list[str] | None = None,
    model_preferences: dict[str, Any] | None = None,
    include_context: Literal["none", "thisServer", "allServers"] | None = None,
    metadata: dict[str, Any] | None = None,
    key: str | None = None,
) -> Ask[Sampled]:
    """Ask the client's model for a message: `messages` is a user prompt, or SamplingMessage objects."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": {"type": "text", "text": messages}}]
    if not messages or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError("sampling needs at least one message and a positive max_tokens")
    params: dict[str, Any] = {"messages": messages, "maxTokens": max_tokens}
    optional = {
        "systemPrompt": system_prompt,
        "temperature": temperature,
        "stopSequences": stop_sequences,
        "modelPreferences": model_preferences,
        "includeContext": include_context,
        "metadata": metadata,
    }
    params.update({name: value for name, value in optional.items() if value is not None})
    return Ask(SAMPLE, params, "sampling", _read_sampled, key)


def _read_sampled(answer: Any) -> Sampled:
    if not isinstance(answer, dict):
        raise BadAnswer("a sampling answer is a CreateMessageResult object")
    content, model, role = answer.get("content"), answer.get("model"), answer.get("role")
    parts = content if isinstance(content, list) else [content]
    if not parts or not all(isinstance(part, dict) and isinstance(part.get("type"), str) for part in parts):
        raise BadAnswer("a sampling answer's content is a content block (or a list of them)")
    if not isinstance(model, str) or role not in ("user", "assistant"):
        raise BadAnswer("a sampling answer names its model and its role (user or assistant)")
    stop = answer.get("stopReason")
    return Sampled(role, content, model, stop if isinstance(stop, str) else None)


# --- roots ---------------------------------------------------------------------------
def list_roots(key: str | None = None) -> Ask[list[Root]]:
    """Ask the client for its roots (the directories or files it lets this server see)."""
    return Ask(LIST_ROOTS, {}, "roots", _read_roots, key)


def _read_roots(answer: Any) -> list[Root]:
    roots = answer.get("roots") if isinstance(answer, dict) else None
    if not isinstance(roots, list) or not all(isinstance(r, dict) and isinstance(r.get("uri"), str) for r in roots):
        raise BadAnswer("a roots answer is an object with a list of roots, each with a uri")
    return [Root(r["uri"], r.get("name") if isinstance(r.get("name"), str) else None) for r in roots]
