"""Tools that ask the client, over raw HTTP against one live server: statuses, bodies, stored rows.

The stateful era: the question is a stored `request` event on the call's own POST stream,
the answer a POST (202). Refusals: an undeclared capability (-32021, nothing sent), an id
never asked (400), another session's question (400). Ignored: a repeated or late answer
(202). Ends of the wait: the answer, an error answer, nonsense, notifications/cancelled,
DELETE, the tool's timeout. JSON response mode asks on the GET stream. The 2026-07-28
rounds: input_required, the sealed requestState (tampered, expired, misplaced: 400/-32602).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import httpx2
import pytest

from .conftest import POST_HEADERS, start_module_server
from .sse import iter_events
from .test_operations import admin_login, create_admin

ASKING = {"elicitation": {}, "sampling": {}, "roots": {"listChanged": True}}
MODERN = "2026-07-28"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_module_server(
        tmp_path_factory,
        "client_requests",
        env={"DJANGO_EXTRA_APPS": "tests.asking_app", "MCP_REQUEST_STATE_MAX_AGE": "3"},
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def json_live(tmp_path_factory):
    server = start_module_server(tmp_path_factory, "client_requests_json", extra_args=["--json-response"])
    yield server
    server.stop()


def open_session(http: httpx2.Client, url: str, capabilities: dict | None = None) -> str:
    params = {
        "protocolVersion": "2025-11-25",
        "capabilities": ASKING if capabilities is None else capabilities,
        "clientInfo": {"name": "raw-asking", "version": "1"},
    }
    response = http.post(
        url, headers=POST_HEADERS, json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}
    )
    assert response.status_code == 200, response.text
    return response.headers["mcp-session-id"]


def headers(session_id: str) -> dict[str, str]:
    return {**POST_HEADERS, "mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"}


def call(rid, name: str, arguments: dict) -> dict:
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


def answer(http: httpx2.Client, url: str, session_id: str, question_id, **body) -> httpx2.Response:
    return http.post(url, headers=headers(session_id), json={"jsonrpc": "2.0", "id": question_id, **body})


def questions(server, session_id: str) -> list[dict]:
    with sqlite3.connect(server.database_url.removeprefix("sqlite:///")) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT * FROM sessions_app_clientrequest WHERE session_id = ? ORDER BY id", (session_id,)
        ).fetchall()
    return [dict(row) for row in rows]


class CallStream:
    """A tools/call's SSE response, read event by event."""

    def __init__(self, http: httpx2.Client, url: str, session_id: str, message: dict):
        self._context = http.stream("POST", url, headers=headers(session_id), json=message)
        self.response = self._context.__enter__()
        assert self.response.status_code == 200, self.response.read()
        self.events = iter_events(self.response.iter_lines())

    def next_message(self) -> dict:
        for event in self.events:
            if event.data:
                return event.message
        raise AssertionError("the stream ended")

    def rest(self) -> list[dict]:
        return [event.message for event in self.events if event.data]

    def close(self) -> None:
        self._context.__exit__(None, None, None)


def test_a_question_is_stored_on_the_call_stream_and_any_post_answers_it(live):
    with httpx2.Client(timeout=15) as http:
        sid = open_session(http, live.url)
        stream = CallStream(http, live.url, sid, call(1, "solve_with_confirmation", {"a": 10, "b": 4, "op": "divide"}))
        question = stream.next_message()
        assert question["method"] == "elicitation/create" and question["id"].startswith("mcpsite-")
        assert question["params"]["message"] == "Calculate 10 divide 4? Choose how many decimal places to show."
        assert question["params"]["requestedSchema"]["properties"]["precision"]["default"] == 2
        accepted = answer(http, live.url, sid, question["id"], result={"action": "accept", "content": {"precision": 1}})
        assert accepted.status_code == 202 and accepted.content == b""
        (response,) = stream.rest()
        stream.close()
    assert response == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {"content": [{"type": "text", "text": "10 divide 4 = 2.5"}], "isError": False},
    }
    stored = [
        (kind, (message or {}).get("method")) for stream, kind, message in live.stored_events(sid) if stream != "g"
    ]
    assert stored[-3:] == [("priming", None), ("request", "elicitation/create"), ("response", None)]
    (row,) = questions(live, sid)
    assert row["status"] == "answered" and row["request_id"] == question["id"]
    assert json.loads(row["response"]) == {"result": {"action": "accept", "content": {"precision": 1}}}
    assert json.loads(row["related_request"]) == 1


def test_an_undeclared_capability_fails_the_call_and_sends_nothing(live):
    with httpx2.Client(timeout=15) as http:
        sid = open_session(http, live.url, capabilities={"sampling": {}})
        stream = CallStream(http, live.url, sid, call(1, "solve_with_confirmation", {"a": 1, "b": 2, "op": "add"}))
        (response,) = stream.rest()
        stream.close()
    assert response["error"] == {
        "code": -32021,
        "message": "Asking elicitation/create requires the client 'elicitation' capability",
        "data": {"requiredCapabilities": {"elicitation": {}}},
    }
    assert questions(live, sid) == []
    assert "request" not in [kind for _, kind, _ in live.stored_events(sid)]


@pytest.mark.parametrize(
    ("question_id", "body"),
    [
        ("mcpsite-never-asked", {"result": {"action": "accept", "content": {}}}),
        (7, {"result": {"action": "decline"}}),
        (None, {"error": {"code": -32700, "message": "the client could not parse something"}}),
    ],
)
def test_an_answer_to_a_question_never_asked_is_refused(live, question_id, body):
    with httpx2.Client(timeout=15) as http:
        sid = open_session(http, live.url)
        refused = answer(http, live.url, sid, question_id, **body)
    assert refused.status_code == 400
    body = refused.json()
    assert body["id"] is None and body["error"]["code"] == -32600
    assert body["error"]["message"].startswith("Invalid Request: this session was sent no request with id")


def test_another_sessions_answer_is_refused_and_a_repeated_answer_ignored(live):
    with httpx2.Client(timeout=15) as http:
        sid = open_session(http, live.url)
        intruder = open_session(http, live.url)
        stream = CallStream(http, live.url, sid, call(1, "solve_with_confirmation", {"a": 2, "b": 3, "op": "multiply"}))
        question = stream.next_message()
        stolen = answer(http, live.url, intruder, question["id"], result={"action": "accept", "content": {}})
        assert stolen.status_code == 400
        reply = {"action": "accept", "content": {"precision": 0}}
        assert answer(http, live.url, sid, question["id"], result=reply).status_code == 202
        (response,) = stream.rest()
        stream.close()
        repeated = answer(http, live.url, sid, question["id"], result={"action": "decline"})
    assert response["result"]["content"][0]["text"] == "2 multiply 3 = 6"
    assert repeated.status_code == 202  # the client cannot know it came late: ignored, logged
    (row,) = questions(live, sid)
    assert json.loads(row["response"]) == {"result": reply}
    assert live.log().count(f"ignored a late or repeated answer to '{question['id']}'") == 1


def test_an_error_answer_and_a_nonsense_answer_become_error_results(live):
    with httpx2.Client(timeout=15) as http:
        sid = open_session(http, live.url)
        outcomes = []
        for rid, body in [
            (1, {"error": {"code": -1, "message": "User refused to answer"}}),
            (2, {"result": {"action": "accept", "content": {"precision": "many"}}}),
            (3, {"result": {"action": "maybe"}}),
        ]:
            stream = CallStream(
                http, live.url, sid, call(rid, "solve_with_confirmation", {"a": 1, "b": 1, "op": "add"})
            )
            question = stream.next_message()
            assert answer(http, live.url, sid, question["id"], **body).status_code == 202
            (response,) = stream.rest()
            stream.close()
            outcomes.append(response["result"])
    assert all(result["isError"] for result in outcomes)
    texts = [result["content"][0]["text"] for result in outcomes]
    assert texts[0] == "The client answered elicitation/create with an error: User refused to answer"
    assert texts[1].startswith("The client's answer to elicitation/create is not valid: the content does not match")
    assert texts[2].startswith("The client's answer to elicitation/create is not valid: an elicitation answer is")


def test_notifications_cancelled_ends_the_wait(live):
    with httpx2.Client(timeout=15) as http:
        sid = open_session(http, live.url)
        stream = CallStream(http, live.url, sid, call("c1", "solve_with_confirmation", {"a": 1, "b": 2, "op": "add"}))
        question = stream.next_message()
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "c1", "reason": "no"}}
        assert http.post(live.url, headers=headers(sid), json=cancel).status_code == 202
        assert stream.rest() == []  # the stream ends, with no response (the stateful rule)
        stream.close()
        late = answer(http, live.url, sid, question["id"], result={"action": "accept", "content": {}})
    assert late.status_code == 202
    (row,) = questions(live, sid)
    assert row["status"] == "cancelled" and row["response"] is None


def test_delete_ends_the_wait(live):
    with httpx2.Client(timeout=15) as http:
        sid = open_session(http, live.url)
        stream = CallStream(http, live.url, sid, call(1, "solve_with_confirmation", {"a": 1, "b": 2, "op": "add"}))
        stream.next_message()
        assert http.delete(live.url, headers=headers(sid)).status_code == 204
        assert stream.rest() == []
        stream.close()
    deadline = time.monotonic() + 5
    while questions(live, sid)[0]["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert questions(live, sid)[0]["status"] == "cancelled"


def test_a_question_times_out_with_the_tools_own_timeout(live):
    with httpx2.Client(timeout=15) as http:
        sid = open_session(http, live.url)
        started = time.monotonic()
        stream = CallStream(http, live.url, sid, call(1, "impatient", {}))
        question = stream.next_message()
        withdrawn, response = stream.rest()
        stream.close()
    assert 0.9 <= time.monotonic() - started < 5
    assert withdrawn == {
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"requestId": question["id"], "reason": "timed out"},
    }
    assert response["result"] == {
        "content": [{"type": "text", "text": "The client did not answer elicitation/create within 1 s"}],
        "isError": True,
    }
    assert questions(live, sid)[0]["status"] == "timed_out"


def test_json_response_mode_asks_on_the_get_stream(json_live):
    with httpx2.Client(timeout=15) as http:
        sid = open_session(http, json_live.url)
        get_headers = {"accept": "text/event-stream", "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25"}
        with http.stream("GET", json_live.url, headers=get_headers) as get:
            events = iter_events(get.iter_lines())
            outcome = {}

            def post_call():
                with httpx2.Client(timeout=15) as other:
                    reply = other.post(
                        json_live.url,
                        headers=headers(sid),
                        json=call(1, "solve_with_confirmation", {"a": 3, "b": 4, "op": "add"}),
                    )
                    outcome["reply"] = reply

            caller = threading.Thread(target=post_call)
            caller.start()
            question = next(event.message for event in events if event.data)
            assert question["method"] == "elicitation/create"
            assert (
                answer(http, json_live.url, sid, question["id"], result={"action": "accept", "content": {}}).status_code
                == 202
            )
            caller.join(15)
    reply = outcome["reply"]
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/json")
    assert reply.json()["result"]["content"][0]["text"] == "3 add 4 = 7"


# --- 2026-07-28: input_required rounds -----------------------------------------------------------
def modern(rid, method: str, params: dict, capabilities: dict | None = None) -> tuple[dict, dict]:
    envelope = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": ASKING if capabilities is None else capabilities,
    }
    body = {"jsonrpc": "2.0", "id": rid, "method": method, "params": {**params, "_meta": envelope}}
    name = params.get("name") or params.get("uri")
    hdrs = {
        **POST_HEADERS,
        "mcp-protocol-version": MODERN,
        "mcp-method": method,
        **({"mcp-name": name} if name else {}),
    }
    return hdrs, body


def modern_call(http, url, rid, arguments, **extra) -> httpx2.Response:
    hdrs, body = modern(rid, "tools/call", {"name": "solve_with_confirmation", "arguments": arguments, **extra})
    return http.post(url, headers={**hdrs, "accept": "application/json"}, json=body)


def test_modern_rounds_with_a_sealed_request_state(live):
    arguments = {"a": 1, "b": 3, "op": "divide"}
    with httpx2.Client(timeout=15) as http:
        first = modern_call(http, live.url, 1, arguments)
        assert first.status_code == 200
        result = first.json()["result"]
        assert result["resultType"] == "input_required"
        (key,) = result["inputRequests"]
        assert result["inputRequests"][key]["method"] == "elicitation/create"
        state = result["requestState"]
        responses = {key: {"action": "accept", "content": {"precision": 4}}}
        done = modern_call(http, live.url, 2, arguments, inputResponses=responses, requestState=state)
        tampered = modern_call(http, live.url, 3, arguments, inputResponses=responses, requestState=state[:-2] + "xx")
        elsewhere = modern_call(http, live.url, 4, {**arguments, "a": 2}, inputResponses=responses, requestState=state)
        time.sleep(4)  # MCP_REQUEST_STATE_MAX_AGE is 3 s on this server
        expired = modern_call(http, live.url, 5, arguments, inputResponses=responses, requestState=state)
    assert done.json()["result"]["content"][0]["text"] == "1 divide 3 = 0.3333"
    for response, reason in [
        (tampered, "invalid_request_state"),
        (elsewhere, "request_state_mismatch"),
        (expired, "expired_request_state"),
    ]:
        assert response.status_code == 400
        assert response.json()["error"] == {
            "code": -32602,
            "message": "Invalid or expired requestState",
            "data": {"reason": reason},
        }


def test_modern_missing_answers_are_asked_again_and_bad_ones_too(live):
    arguments = {"a": 1, "b": 1, "op": "add"}
    wrong_key = {"other": {"action": "accept", "content": {"data": "wrong"}}}
    off_schema = {"elicitation_1": {"action": "accept", "content": {"precision": "many"}}}
    with httpx2.Client(timeout=15) as http:
        missing = modern_call(http, live.url, 1, arguments, inputResponses=wrong_key)
        bad = modern_call(http, live.url, 2, arguments, inputResponses=off_schema)
        not_a_result = modern_call(http, live.url, 3, arguments, inputResponses={"elicitation_1": {"action": "yes"}})
        not_an_object = modern_call(http, live.url, 4, arguments, inputResponses=[1])
    assert missing.json()["result"]["resultType"] == "input_required"  # asked again, not an error
    assert list(bad.json()["result"]["inputRequests"]) == ["elicitation_1"]  # off the schema: asked again
    for refused in (not_a_result, not_an_object):  # not an answer of any kind: a protocol error
        assert refused.status_code == 400 and refused.json()["error"]["code"] == -32602


def test_modern_asking_without_the_capability_is_400(live):
    with httpx2.Client(timeout=15) as http:
        hdrs, body = modern(
            1, "tools/call", {"name": "survey", "arguments": {"topic": "x"}}, capabilities={"sampling": {}}
        )
        refused = http.post(live.url, headers=hdrs, json=body)
    assert refused.status_code == 400
    assert refused.json()["error"]["data"] == {"requiredCapabilities": {"roots": {}}}


def test_the_admin_shows_pending_and_answered_questions(live):
    create_admin(live)
    with httpx2.Client(timeout=15) as http:
        sid = open_session(http, live.url)
        stream = CallStream(http, live.url, sid, call(1, "solve_with_confirmation", {"a": 5, "b": 5, "op": "add"}))
        answered = stream.next_message()
        assert answer(http, live.url, sid, answered["id"], result={"action": "decline"}).status_code == 202
        stream.rest()
        stream.close()
        waiting = CallStream(http, live.url, sid, call(2, "solve_with_confirmation", {"a": 6, "b": 6, "op": "add"}))
        pending = waiting.next_message()
        with admin_login(live) as admin:
            page = admin.get(f"/admin/sessions_app/mcpsession/{sid}/change/").text
            listing = admin.get(f"/admin/sessions_app/clientrequest/?status=pending&q={sid}").text
        waiting.close()
    assert "to the client (elicitation, sampling, roots)" in page, page[page.find("content-main") :][:3000]
    assert "request (answered)" in page and "request (pending)" in page  # in the session's events
    assert answered["id"] in page and pending["id"] in page
    assert "&quot;action&quot;: &quot;decline&quot;" in page  # the answer, pretty-printed
    assert pending["id"] in listing and answered["id"] not in listing


def test_a_pydantic_form_is_flattened_and_a_nested_model_refused():
    from typing import Literal

    from pydantic import BaseModel, Field

    from sessions_app.wire.asking import elicit

    class Inner(BaseModel):
        x: int

    class Form(BaseModel):
        name: str = Field(description="Your name")
        colour: Literal["red", "blue"] | None = None
        tags: list[Literal["a", "b"]] = []

    class Nested(BaseModel):
        inner: Inner

    assert elicit("?", Form).params["requestedSchema"] == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Your name"},
            "colour": {"type": "string", "enum": ["red", "blue"]},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "default": []},
        },
        "required": ["name"],
    }
    with pytest.raises(TypeError, match="elicitation field 'inner'"):
        elicit("?", Nested)
