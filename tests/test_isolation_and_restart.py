"""Sessions never see each other's events; sessions and events outlive the server process."""

from __future__ import annotations

import signal

import httpx2
from mcp import Client

from .conftest import LiveServer, initialize, session_headers
from .sse import Event, parse_text


def call_stream(http: httpx2.Client, url: str, session_id: str, request_id, caller: str, count: int = 3) -> list[Event]:
    response = http.post(
        url,
        headers=session_headers(session_id),
        json={
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {
                "name": "start-notification-stream",
                "arguments": {"interval": 0.01, "count": count, "caller": caller},
            },
        },
    )
    assert response.status_code == 200
    return parse_text(response.text)


def resume(http: httpx2.Client, url: str, session_id: str, last_event_id: str) -> httpx2.Response:
    headers = {**session_headers(session_id), "accept": "text/event-stream", "last-event-id": last_event_id}
    return http.get(url, headers=headers)


def payloads(events: list[Event]) -> list[dict]:
    return [event.message for event in events if event.data]


def test_same_request_id_in_two_sessions_never_mixes(server, http):
    alice, bob = initialize(http, server.url), initialize(http, server.url)
    alice_events = call_stream(http, server.url, alice, 7, "alice")
    bob_events = call_stream(http, server.url, bob, 7, "bob")

    for events, caller, other in ((alice_events, "alice", "bob"), (bob_events, "bob", "alice")):
        text = "".join(event.data for event in events)
        assert f"'{caller}'" in text and f"'{other}'" not in text

    # Every event id is unique across both sessions' streams.
    ids = [e.id for e in alice_events + bob_events]
    assert len(ids) == len(set(ids))

    # Alice replays her own stream from its priming event: all of it, and only hers.
    first = alice_events[0]
    assert first.data == "" and first.id
    replay = resume(http, server.url, alice, first.id)
    assert replay.status_code == 200
    assert payloads(parse_text(replay.text)) == payloads(alice_events)
    assert len(payloads(alice_events)) == 4  # three notifications and the result

    # Bob cannot replay Alice's stream, even with the same request id in play.
    refused = resume(http, server.url, bob, first.id)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == -32600
    assert "alice" not in refused.text


def test_sessions_and_events_survive_a_restart(tmp_path):
    live = LiveServer(f"sqlite:///{tmp_path / 'db.sqlite3'}").start(tmp_path / "first.log")
    try:
        with httpx2.Client(timeout=10) as http:
            session_id = initialize(http, live.url)
            events = call_stream(http, live.url, session_id, 1, "persist", count=4)
    finally:
        live.stop(signal.SIGTERM)

    live.start(tmp_path / "second.log")
    try:
        with httpx2.Client(timeout=10) as http:
            # The old session id still works on the new process.
            listed = http.post(
                live.url,
                headers=session_headers(session_id),
                json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            )
            assert listed.status_code == 200
            assert "start-notification-stream" in listed.text

            # Replay of the finished stream, from its second notification on.
            messages = payloads(events)
            second_notification = [e for e in events if e.data][1]
            replay = resume(http, live.url, session_id, second_notification.id)
            assert replay.status_code == 200
            assert payloads(parse_text(replay.text)) == messages[2:]
            assert messages[-1]["result"]["content"][0]["text"] == (
                "Sent 4 notifications with 0.01s interval for caller: persist"
            )
    finally:
        live.stop()


async def test_sdk_client_uses_a_session_after_restart(tmp_path):
    live = LiveServer(f"sqlite:///{tmp_path / 'db.sqlite3'}").start(tmp_path / "first.log")
    try:
        async with Client(live.url, mode="legacy") as client:
            before = await client.list_tools()
        live.stop()
        live.start(tmp_path / "second.log")
        async with Client(live.url, mode="legacy") as client:
            after = await client.list_tools()
        assert before == after
    finally:
        live.stop()


def test_killed_mid_request_stream_ends_with_an_error_after_restart(tmp_path):
    """A request whose process died is answered 'lost' on resume instead of hanging."""
    live = LiveServer(f"sqlite:///{tmp_path / 'db.sqlite3'}").start(tmp_path / "first.log")
    with httpx2.Client(timeout=10) as http:
        session_id = initialize(http, live.url)
        body = {
            "jsonrpc": "2.0",
            "id": "slow",
            "method": "tools/call",
            "params": {"name": "start-notification-stream", "arguments": {"interval": 5, "count": 3, "caller": "k"}},
        }
        with http.stream("POST", live.url, headers=session_headers(session_id), json=body) as response:
            lines = response.iter_lines()
            first_id = None
            for line in lines:
                if line.startswith("id: ") and "data" not in line:
                    first_id = line[4:]
                if line.startswith("data: {"):
                    break
        live.stop(signal.SIGKILL)
    assert first_id
    live.start(tmp_path / "second.log")
    try:
        with httpx2.Client(timeout=10) as http:
            replay = resume(http, live.url, session_id, first_id)
            assert replay.status_code == 200
            messages = payloads(parse_text(replay.text))
            assert messages[-1]["id"] == "slow"
            assert messages[-1]["error"]["code"] == -32003
            assert "lost" in messages[-1]["error"]["message"]
    finally:
        live.stop()
