"""The official MCP conformance suite against a live runmcp with the fixtures on, and the fixtures' own mechanisms.

`conformance server --requirements REV` runs every scenario a revision requires plus the ones it
reports unscored (pending, added after release, the tasks extension); each writes its checks to
`<output dir>/server-<scenario>-<timestamp>/checks.json`. A scenario fails when any check is a
FAILURE (or it wrote no checks). Every scenario must pass except those listed for the revision in
tests/conformance_expected_failures.txt, and every listed one must still fail, so the list is
kept honest. The optional tasks-* extension is left out.

Node 22 and the suite come from the npm registry through `npx` (cached in ~/.npm after the first
run, which takes about 30 s; a revision's run then takes about 15 s).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from mcp import Client

from .conftest import ROOT, initialize, session_headers, start_module_server
from .services import unavailable
from .sse import iter_events

SUITE = "@modelcontextprotocol/conformance@0.2.0-alpha.12"
EXPECTED_FAILURES = Path(__file__).with_name("conformance_expected_failures.txt")
OPTIONAL_EXTENSION = "tasks-"  # io.modelcontextprotocol/tasks: never required
SUITE_TIMEOUT_SECONDS = 600  # generous for a first download of Node 22 and the suite
# The suite's own fixture schema (json-schema-2020-12), which tools/list must give back unchanged.
SUITE_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}
RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")


MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
}


def warm_up(live) -> None:
    """Serve each code path once before the suite: some of its checks give a call only 500-800 ms,
    which a fresh process's first call (imports, schema building) can exceed on a busy machine."""
    with httpx2.Client(timeout=30) as http:
        for method, name in [
            ("server/discover", None),
            ("tools/list", None),
            ("tools/call", "test_streaming_elicitation"),
            ("tools/call", "test_logging_tool"),
            ("prompts/list", None),
            ("resources/list", None),
        ]:
            params = {"_meta": MODERN_META, **({"name": name, "arguments": {}} if name else {})}
            headers = {
                "content-type": "application/json",
                "accept": "application/json, text/event-stream",
                "mcp-protocol-version": "2026-07-28",
                "mcp-method": method,
                **({"mcp-name": name} if name else {}),
            }
            answer = http.post(
                live.url, headers=headers, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
            )
            assert answer.status_code == 200, answer.text
        initialize(http, live.url)


@pytest.fixture(scope="module")
def fixtures_server(tmp_path_factory):
    live = start_module_server(tmp_path_factory, "conformance", env={"MCP_CONFORMANCE_FIXTURES": "true"})
    warm_up(live)
    yield live
    live.stop()


def expected_failures(revision: str) -> set[str]:
    listed = set()
    for line in EXPECTED_FAILURES.read_text().splitlines():
        entry = line.split("#", 1)[0].split()
        if entry:
            assert len(entry) == 2, f"malformed line in {EXPECTED_FAILURES.name}: {line!r}"
            if entry[0] == revision:
                listed.add(entry[1])
    return listed


def run_suite(url: str, revision: str, out: Path) -> tuple[subprocess.CompletedProcess, dict[str, list[dict]]]:
    npx = shutil.which("npx")
    if npx is None:
        unavailable("npx (Node.js and npm) is not installed")
    command = [npx, "-y", "-p", "node@22", "-p", SUITE, "--", "conformance", "server"]
    command += ["--url", url, "--requirements", revision, "--output-dir", str(out)]
    run = subprocess.run(command, cwd=out.parent, capture_output=True, text=True, timeout=SUITE_TIMEOUT_SECONDS)
    ran = re.findall(r"^=== Running scenario: (\S+) ===$", run.stdout, re.MULTILINE)
    assert ran, f"the suite ran no scenario (exit {run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    checks: dict[str, list[dict]] = {name: [] for name in ran}
    for path in out.glob("*/checks.json"):
        match = RESULT_DIR.match(path.parent.name)
        assert match and match["scenario"] in checks, f"unexpected result directory {path.parent.name}"
        checks[match["scenario"]] = json.loads(path.read_text())
    return run, checks


def failures(checks: list[dict]) -> list[str]:
    if not checks:
        return ["the scenario wrote no checks (it could not run)"]
    return [f"{c['id']}: {c.get('errorMessage', '')}" for c in checks if c["status"] == "FAILURE"]


@pytest.mark.parametrize("revision", ["2025-11-25", "2026-07-28"])
def test_official_conformance_suite(fixtures_server, tmp_path, revision):
    # The suite accepts only a localhost URL (dns-rebinding-protection); localhost is an allowed host.
    url = f"http://localhost:{fixtures_server.port}/mcp"
    run, checks = run_suite(url, revision, tmp_path / "results")
    scored = {name: found for name, found in checks.items() if not name.startswith(OPTIONAL_EXTENSION)}
    failed = {name: failures(found) for name, found in scored.items() if failures(found)}
    expected = expected_failures(revision)
    unexpected = {name: why for name, why in failed.items() if name not in expected}
    stale = sorted(expected - set(failed))
    assert not unexpected, f"scenarios failing at {revision}: {json.dumps(unexpected, indent=2)}"
    assert not stale, f"listed in {EXPECTED_FAILURES.name} for {revision} but passing (or not run): {stale}"
    assert len(scored) >= 30, f"only {len(scored)} scenarios ran:\n{run.stdout[-3000:]}"


# --- the fixtures' mechanisms, checked directly -----------------------------------------------


def _call(http: httpx2.Client, url: str, session_id: str, version: str, name: str, request_id: int = 1):
    body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": name, "arguments": {}}}
    return http.stream("POST", url, headers=session_headers(session_id, version), json=body)


def test_a_tool_closes_its_stream_mid_call_and_the_client_resumes(fixtures_server):
    """ToolContext.close_stream: stored so far, written, then `retry:`; the rest comes after Last-Event-ID."""
    with httpx2.Client(timeout=10) as http:
        session_id = initialize(http, fixtures_server.url)
        with _call(http, fixtures_server.url, session_id, "2025-11-25", "test_reconnection") as response:
            assert response.status_code == 200
            first = list(iter_events(response.iter_lines()))
        priming, before, *rest = first
        assert priming.data == "" and priming.id and priming.retry is not None
        assert before.message["params"]["data"] == "Before disconnect"
        assert [e.retry for e in rest] == [1000] and rest[0].data == ""  # the close: retry, no response
        headers = {**session_headers(session_id), "accept": "text/event-stream", "last-event-id": before.id}
        with http.stream("GET", fixtures_server.url, headers=headers) as resumed:
            assert resumed.status_code == 200
            after = [e.message for e in iter_events(resumed.iter_lines()) if e.data]
    assert [m.get("params", {}).get("data") for m in after[:-1]] == ["After reconnect"]
    assert after[-1]["id"] == 1 and after[-1]["result"]["content"][0]["text"] == "Reconnection test completed"


def test_closing_the_stream_is_refused_to_clients_before_2025_11_25(fixtures_server):
    """Clients on older revisions got no priming event and no retry: their stream stays open to the end."""
    with httpx2.Client(timeout=10) as http:
        session_id = initialize(http, fixtures_server.url, "2025-06-18")
        with _call(http, fixtures_server.url, session_id, "2025-06-18", "test_reconnection") as response:
            messages = [e.message for e in iter_events(response.iter_lines()) if e.data]
    assert [m["params"]["data"] for m in messages[:-1]] == ["Before disconnect", "After reconnect"]
    assert messages[-1]["result"]["content"][0]["text"] == "Reconnection test completed"


def test_json_mode_has_no_stream_to_close(tmp_path_factory):
    live = start_module_server(
        tmp_path_factory, "conformance_json", extra_args=["--json-response"], env={"MCP_CONFORMANCE_FIXTURES": "true"}
    )
    try:
        with httpx2.Client(timeout=10) as http:
            session_id = initialize(http, live.url)
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "test_reconnection"}}
            response = http.post(live.url, headers=session_headers(session_id), json=body)
    finally:
        live.stop()
    assert response.status_code == 200
    assert response.json()["result"]["content"][0]["text"] == "Reconnection test completed"


async def test_an_explicit_input_schema_is_listed_as_given_and_validates_arguments(fixtures_server):
    async with Client(fixtures_server.url, mode="legacy") as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        schema = listed["json_schema_2020_12_tool"].input_schema
        header = listed["test_x_mcp_header"].input_schema["properties"]["region"]
        ok = await client.call_tool("json_schema_2020_12_tool", {"contactMethod": "phone", "phone": "555"})
        missing_phone = await client.call_tool("json_schema_2020_12_tool", {"contactMethod": "phone", "email": "a@b"})
        extra = await client.call_tool("json_schema_2020_12_tool", {"email": "a@b", "nickname": "x"})
        bad_ref = await client.call_tool("json_schema_2020_12_tool", {"email": "a@b", "address": {"city": 7}})
    assert schema == SUITE_SCHEMA_2020_12  # $schema, $defs/$anchor, allOf/anyOf, if/then/else, additionalProperties
    assert header == {"type": "string", "description": "A region", "default": "<none>", "x-mcp-header": "Region"}
    assert not ok.is_error and ok.content[0].text == 'Received: {"contactMethod":"phone","phone":"555"}'
    assert missing_phone.is_error and "'phone' is a required property" in missing_phone.content[0].text
    assert extra.is_error and "nickname" in extra.content[0].text
    assert bad_ref.is_error and "address.city: 7 is not of type 'string'" in bad_ref.content[0].text


def test_missing_capability_is_a_jsonrpc_error_naming_it(fixtures_server):
    with httpx2.Client(timeout=10) as http:
        session_id = initialize(http, fixtures_server.url)  # declares no capabilities
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "test_missing_capability"}}
        with http.stream("POST", fixtures_server.url, headers=session_headers(session_id), json=body) as response:
            (answer,) = [e.message for e in iter_events(response.iter_lines()) if e.data]
    assert answer["error"]["code"] == -32021
    assert answer["error"]["data"] == {"requiredCapabilities": {"sampling": {}}}


@pytest.mark.parametrize(("value", "installed"), [(None, False), ("false", False), ("true", True)])
def test_fixtures_are_installed_only_when_asked_for(value, installed):
    env = {k: v for k, v in os.environ.items() if k not in ("MCP_CONFORMANCE_FIXTURES", "DJANGO_SETTINGS_MODULE")}
    if value is not None:
        env["MCP_CONFORMANCE_FIXTURES"] = value
    code = "from mcpsite import settings; print('tools_app.conformance' in settings.INSTALLED_APPS)"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == str(installed), run.stderr
