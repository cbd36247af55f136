"""An installed Django app adds tools, resources and prompts to the registry (autodiscovery)."""

from __future__ import annotations

import json

import anyio
import mcp_types as types
import pytest
from mcp import Client

from .conftest import sdk_session_id, start_module_server


@pytest.fixture(scope="module")
def extra_server(tmp_path_factory):
    live = start_module_server(tmp_path_factory, "registry", env={"DJANGO_EXTRA_APPS": "tests.registry_app"})
    yield live
    live.stop()


@pytest.fixture(scope="module")
def extra_json_server(tmp_path_factory):
    env = {"DJANGO_EXTRA_APPS": "tests.registry_app"}
    live = start_module_server(tmp_path_factory, "registry_json", env=env, extra_args=["--json-response"])
    yield live
    live.stop()


async def test_autodiscovered_offerings_are_listed(extra_server):
    async with Client(extra_server.url, mode="legacy") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert {"count_sessions", "refuse", "crash", "wait_for_cancel", "calculate"} <= set(tools)
    assert tools["count_sessions"].input_schema == {
        "additionalProperties": False,
        "properties": {"label": {"minLength": 1, "type": "string"}},
        "required": ["label"],
        "type": "object",
    }
    assert "notes://{day}" in templates
    assert [(a.name, a.required) for a in prompts["summarise"].arguments] == [("text", True), ("style", False)]


async def test_sync_tool_runs_off_the_event_loop_with_the_orm(extra_server):
    async with Client(extra_server.url, mode="legacy") as client:
        result = await client.call_tool("count_sessions", {"label": "now"})
    assert not result.is_error, result.content[0].text
    text = result.content[0].text
    assert text.startswith("now: ") and "on loop: False" in text


async def test_tool_errors_become_error_results(extra_server):
    async with Client(extra_server.url, mode="legacy") as client:
        refused = await client.call_tool("refuse", {"reason": "policy"})
        crashed = await client.call_tool("crash", {})
        invalid = await client.call_tool("count_sessions", {"label": ""})
    assert refused.is_error and refused.content[0].text == "refused: policy"
    assert crashed.is_error and crashed.content[0].text == "Tool crash failed with an internal error"
    assert (
        invalid.is_error
        and invalid.content[0].text == "Invalid arguments: label: String should have at least 1 character"
    )


async def test_sync_resource_and_prompt(extra_server):
    async with Client(extra_server.url, mode="legacy") as client:
        (content,) = (await client.read_resource("notes://today")).contents
        with pytest.raises(Exception) as missing:
            await client.read_resource("notes://yesterday")
        prompt = await client.get_prompt("summarise", {"text": "abc", "style": "long"})
        days = await client.complete(
            types.ResourceTemplateReference(type="ref/resource", uri="notes://{day}"), {"name": "day", "value": "to"}
        )
    note = json.loads(content.text)
    assert note["day"] == "today" and note["on_loop"] is False and note["sessions"] >= 1
    assert getattr(missing.value, "code", None) == -32002
    assert prompt.messages[0].content.text == "Summarise this in a long style: abc"
    assert days.completion.values == ["today", "tomorrow"]


async def test_cancellation_reaches_the_tool(extra_server):
    async with Client(extra_server.url, mode="legacy") as client:
        session_id = await sdk_session_id(client)
        with anyio.move_on_after(0.5):
            await client.call_tool("wait_for_cancel", {})  # the SDK then sends notifications/cancelled
        await anyio.sleep(0.5)
    events = extra_server.stored_events(session_id)
    (stream,) = {s for s, _, m in events if m and m.get("params", {}).get("data") == "cancelled=True"}
    kinds = [kind for s, kind, _ in events if s == stream]
    assert kinds == ["priming", "notification", "cancelled"]  # the tool saw it; no response was sent


# --- tools with an explicit input schema (registry.tool(input_schema=...)) ----------------------


def _schema_tool(schema, fn):
    from tools_app.registry import Registry

    return Registry().add_tool(fn, name="explicit", input_schema=schema)


def test_an_explicit_schema_must_be_a_valid_object_schema():
    async def any_arguments(**arguments):
        return ""

    with pytest.raises(ValueError, match="type 'object'"):
        _schema_tool({"type": "string"}, any_arguments)
    with pytest.raises(ValueError, match="not a valid JSON Schema"):
        _schema_tool({"type": "object", "properties": {"a": {"type": "no-such-type"}}}, any_arguments)


def test_the_function_must_take_every_argument_the_schema_lets_through():
    closed = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
        "additionalProperties": False,
    }

    async def takes_a(a):
        return a

    async def takes_nothing():
        return ""

    _schema_tool(closed, takes_a)
    with pytest.raises(ValueError, match="no parameter for a"):
        _schema_tool(closed, takes_nothing)
    with pytest.raises(ValueError, match="needs \\*\\*kwargs"):
        _schema_tool({**closed, "additionalProperties": True}, takes_a)
    with pytest.raises(ValueError, match="give them defaults"):
        _schema_tool({**closed, "required": []}, takes_a)


def test_an_explicit_schema_is_listed_unchanged_and_checks_arguments():
    from tools_app.schema import InvalidArguments

    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}, "x-vendor": {"kept": True}}

    async def count(**arguments):
        return ""

    tool = _schema_tool(schema, count)
    assert tool.definition()["inputSchema"] == schema
    assert tool.validate({"n": 2}) == {"n": 2}
    with pytest.raises(InvalidArguments, match="n: 0 is less than the minimum of 1"):
        tool.validate({"n": 0})
    with pytest.raises(InvalidArguments, match="must be an object"):
        tool.validate(["n"])


def test_a_tool_answer_json_cannot_carry_is_an_internal_error_in_every_mode(extra_server, extra_json_server):
    """A content value JSON cannot encode (a set) reaches no client as a crash or a hang: the stored SSE answer,
    a JSON-mode answer and a stateless (2026-07-28) answer are all -32603, logged."""
    import httpx2

    from .conftest import POST_HEADERS, initialize
    from .sse import parse_text
    from .test_modern_http import call, headers_for

    with httpx2.Client(timeout=10) as http:
        session_id = initialize(http, extra_server.url, "2025-11-25")
        stateful = {**POST_HEADERS, "mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"}
        body = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "unencodable", "arguments": {}}}
        sse = http.post(extra_server.url, headers=stateful, json=body)
        assert sse.status_code == 200, sse.text
        (answer,) = [e.message for e in parse_text(sse.text) if e.data]
        assert answer["error"] == {"code": -32603, "message": "Internal error: the response could not be stored"}
        modern = call("tools/call", {"name": "unencodable", "arguments": {}}, request_id=4)
        direct = http.post(extra_server.url, headers=headers_for(modern), json=modern)
        json_session = initialize(http, extra_json_server.url, "2025-11-25")
        in_json_mode = http.post(extra_json_server.url, headers={**stateful, "mcp-session-id": json_session}, json=body)
    assert in_json_mode.status_code == 200, in_json_mode.text
    assert in_json_mode.json()["error"] == {
        "code": -32603,
        "message": "Internal error: the response could not be encoded",
    }
    assert "holds a value JSON cannot carry" in extra_json_server.log()
    assert direct.status_code == 200, direct.text
    assert direct.json() == {
        "jsonrpc": "2.0",
        "id": 4,
        "error": {"code": -32603, "message": "Internal error: the response could not be encoded"},
    }
    assert "holds a value JSON cannot carry" in extra_server.log()
