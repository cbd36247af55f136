"""The /mcp middleware driven as plain ASGI apps: no server, no database, no settings read."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from collections import Counter
from types import SimpleNamespace

import pytest

from sessions_app.edge import ratelimit
from sessions_app.edge.accesslog import AccessLog, note_request
from sessions_app.edge.cors import Cors
from sessions_app.edge.hostorigin import HostOriginGuard
from sessions_app.edge.ratelimit import RateLimit
from sessions_app.store.counters import LocalCounters

NOW = 1000.5  # with a 60 s window: window index 16, 19.5 s left, so Reset and Retry-After are 20


def http_scope(method: str = "POST", client: str = "10.0.0.1", **headers: str) -> dict:
    names = {"origin": "origin", "session": "mcp-session-id", "acrm": "access-control-request-method"}
    raw = [(names.get(k, k.replace("_", "-")).encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http", "method": method, "path": "/mcp", "headers": raw, "client": (client, 5000)}


class Inner:
    """The app under the middleware: records each call, then answers 200 (or runs `during` first)."""

    def __init__(self, headers: list[tuple[bytes, bytes]] | None = None, during=None, answer: bool = True):
        self.scopes: list[dict] = []
        self.headers = headers or [(b"content-type", b"application/json")]
        self.during = during
        self.answer = answer

    async def __call__(self, scope, receive, send) -> None:
        self.scopes.append(scope)
        if self.during is not None:
            await self.during()
        if self.answer:
            await send({"type": "http.response.start", "status": 200, "headers": self.headers})
            await send({"type": "http.response.body", "body": b"{}"})


class Response:
    def __init__(self, messages: list[dict]):
        self.messages = messages
        start = messages[0] if messages else {"status": 0, "headers": []}
        self.status = start["status"]
        self.raw_headers = start["headers"]
        self.body = b"".join(m.get("body", b"") for m in messages[1:])

    def header(self, name: str) -> list[str]:
        return [v.decode() for k, v in self.raw_headers if k.decode().lower() == name]

    def json(self) -> dict:
        assert self.header("content-type") == ["application/json"]
        return json.loads(self.body)


async def call(app, scope: dict) -> Response:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return Response(sent)


class HitCounter:
    """An in-memory stand-in for cache.acount_hits."""

    def __init__(self, fail: bool = False):
        self.hits: Counter[str] = Counter()
        self.calls: list[tuple[list[str], int]] = []
        self.fail = fail

    async def __call__(self, keys: list[str], window: int) -> list[int]:
        self.calls.append((list(keys), window))
        if self.fail:
            raise ConnectionError("counter unreachable")
        self.hits.update(keys)
        return [self.hits[key] for key in keys]


@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: NOW))


def guard(inner, origins=()):
    return HostOriginGuard(inner, allowed_hosts=["localhost", ".example.com"], allowed_origins=list(origins))


def rpc_error(response: Response) -> dict:
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    return body["error"]


# Host and Origin


async def test_foreign_host_gets_421_as_a_json_rpc_error():
    inner = Inner()
    response = await call(guard(inner), http_scope(host="evil.test"))
    assert response.status == 421
    assert rpc_error(response) == {"code": -32600, "message": "Misdirected Request: Invalid Host header"}
    assert inner.scopes == []


async def test_missing_host_gets_421():
    assert (await call(guard(Inner()), http_scope())).status == 421


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "api.example.com", "example.com:443"])
async def test_allowed_hosts_pass(host):
    inner = Inner()
    assert (await call(guard(inner), http_scope(host=host))).status == 200
    assert len(inner.scopes) == 1


async def test_foreign_origin_gets_403_as_a_json_rpc_error():
    inner = Inner()
    response = await call(guard(inner), http_scope(host="localhost", origin="https://evil.test"))
    assert response.status == 403
    assert rpc_error(response) == {"code": -32600, "message": "Forbidden: Origin not allowed"}
    assert inner.scopes == []


@pytest.mark.parametrize("origin", ["http://localhost:5173", "https://127.0.0.1", "http://[::1]:3000"])
async def test_localhost_origins_are_always_allowed(origin):
    assert (await call(guard(Inner()), http_scope(host="localhost", origin=origin))).status == 200


@pytest.mark.parametrize("origin", ["file://localhost", "null", "http://[bad"])
async def test_odd_origins_are_refused(origin):
    assert (await call(guard(Inner()), http_scope(host="localhost", origin=origin))).status == 403


async def test_listed_and_wildcard_origins():
    listed = guard(Inner(), origins=["https://app.example.com"])
    assert (await call(listed, http_scope(host="localhost", origin="https://app.example.com"))).status == 200
    assert (await call(listed, http_scope(host="localhost", origin="https://other.example.com"))).status == 403
    anything = guard(Inner(), origins=["*"])
    assert (await call(anything, http_scope(host="localhost", origin="https://other.example.com"))).status == 200


NOT_ORIGINS = [
    "http://evil.com\\@localhost",  # a backslash: some parsers read the host as localhost, browsers as evil.com
    "http://user:pass@localhost",
    "http://evil.com@localhost",
    "http://localhost/path?q",
    "http://localhost/",
    "http://localhost#x",
    "http://localhost:99999",
    "http://localhost:",
    "http://local host",
    " http://localhost",
    "http://localhost, http://evil.test",
]


@pytest.mark.parametrize("origin", NOT_ORIGINS)
async def test_values_that_are_not_serialized_origins_are_refused(origin):
    for origins in ((), ["*"], ["http://localhost"]):
        inner = Inner()
        response = await call(guard(inner, origins=origins), http_scope(host="localhost", origin=origin))
        assert response.status == 403, (origin, origins)
        assert rpc_error(response) == {"code": -32600, "message": "Forbidden: Origin not allowed"}
        assert inner.scopes == []


@pytest.mark.parametrize("origin", ["HTTP://LOCALHOST:8080", "http://127.0.0.1:65535", "https://[::1]"])
async def test_serialized_localhost_origins_in_any_case_pass(origin):
    assert (await call(guard(Inner()), http_scope(host="localhost", origin=origin))).status == 200


@pytest.mark.parametrize(
    "host", ["evil.test@localhost", "user:pw@localhost:8000", "localhost/path", "localhost x", "localhost:99999", ""]
)
async def test_host_values_that_are_not_host_and_port_get_421(host):
    inner = Inner()
    response = await call(guard(inner), http_scope(host=host))
    assert response.status == 421
    assert rpc_error(response)["message"] == "Misdirected Request: Invalid Host header"
    assert inner.scopes == []


def test_guard_refuses_a_string_for_a_list():
    with pytest.raises(TypeError, match="list of strings"):
        HostOriginGuard(Inner(), allowed_hosts="localhost", allowed_origins=[])


# CORS


async def test_allowed_preflight_is_answered_here():
    inner = Inner()
    scope = http_scope("OPTIONS", origin="https://app.test", acrm="POST", access_control_request_headers="X-Trace")
    response = await call(Cors(inner, origins=["*"]), scope)
    assert response.status == 204 and inner.scopes == []
    assert response.header("access-control-allow-origin") == ["https://app.test"]
    assert response.header("access-control-allow-methods") == ["GET, POST, DELETE, OPTIONS"]
    assert response.header("access-control-allow-headers")[0].endswith("Last-Event-ID, X-Trace")
    assert "Mcp-Session-Id" in response.header("access-control-expose-headers")[0]
    assert response.header("access-control-max-age") == ["86400"]
    assert response.header("vary") == ["Origin"]


async def test_refused_preflight_gets_403_without_cors_headers():
    inner = Inner()
    scope = http_scope("OPTIONS", origin="https://evil.test", acrm="POST")
    response = await call(Cors(inner, origins=["https://app.test"]), scope)
    assert response.status == 403 and inner.scopes == []
    assert response.raw_headers == [(b"vary", b"Origin")]


async def test_options_without_a_preflight_goes_to_the_app():
    inner = Inner()
    assert (await call(Cors(inner, origins=["*"]), http_scope("OPTIONS", origin="https://app.test"))).status == 200
    assert len(inner.scopes) == 1


async def test_vary_is_merged_into_the_apps_own():
    inner = Inner(headers=[(b"content-type", b"application/json"), (b"vary", b"Accept-Encoding")])
    response = await call(Cors(inner, origins=["https://app.test"]), http_scope(origin="https://app.test"))
    assert response.header("vary") == ["Accept-Encoding, Origin"]
    assert response.header("access-control-allow-origin") == ["https://app.test"]
    assert len(response.header("access-control-expose-headers")) == 1


async def test_vary_already_naming_origin_is_left_alone():
    inner = Inner(headers=[(b"vary", b"origin, Accept")])
    response = await call(Cors(inner, origins=["*"]), http_scope(origin="https://app.test"))
    assert response.header("vary") == ["origin, Accept"]


@pytest.mark.parametrize("headers", [{}, {"origin": "https://evil.test"}])
async def test_non_cors_requests_are_untouched(headers):
    inner = Inner(headers=[(b"content-type", b"application/json"), (b"vary", b"Accept-Encoding")])
    plain = await call(inner, http_scope(**headers))
    through = await call(Cors(Inner(headers=inner.headers), origins=["https://app.test"]), http_scope(**headers))
    assert through.messages == plain.messages


# Rate limit


async def test_counts_per_client_and_refuses_past_the_limit(fixed_clock):
    inner, counter, refused = Inner(), HitCounter(), []
    app = RateLimit(inner, limit=2, window=60, count_hits=counter, on_refused=refused.append)

    first = await call(app, http_scope())
    assert first.status == 200
    assert first.header("ratelimit-limit") == ["2"] and first.header("ratelimit-remaining") == ["1"]
    assert first.header("ratelimit-reset") == ["20"] and first.header("ratelimit-policy") == ["2;w=60"]
    assert first.header("content-type") == ["application/json"]
    assert counter.calls[0] == (["mcp:rl:client:10.0.0.1:16"], 60)

    assert (await call(app, http_scope())).header("ratelimit-remaining") == ["0"]
    third = await call(app, http_scope())
    assert third.status == 429
    assert rpc_error(third) == {"code": -32000, "message": "Too many requests, please retry later"}
    assert third.header("retry-after") == ["20"]
    assert third.header("ratelimit-remaining") == ["0"] and third.header("ratelimit-policy") == ["2;w=60"]
    assert refused == ["client"] and len(inner.scopes) == 2
    assert (await call(app, http_scope(client="10.0.0.2"))).status == 200


async def test_a_session_is_counted_across_addresses(fixed_clock):
    counter, refused = HitCounter(), []
    app = RateLimit(Inner(), limit=1, window=60, count_hits=counter, on_refused=refused.append)
    assert (await call(app, http_scope(client="10.0.0.1", session="abc"))).status == 200
    assert counter.calls[0][0] == ["mcp:rl:client:10.0.0.1:16", "mcp:rl:session:abc:16"]
    assert (await call(app, http_scope(client="10.0.0.2", session="  abc "))).status == 429
    assert counter.calls[1][0] == ["mcp:rl:client:10.0.0.2:16", "mcp:rl:session:abc:16"]
    assert refused == ["session"]


@pytest.mark.parametrize("session", ["x" * 65, "a b", "caf\xe9", "   "])
async def test_implausible_session_ids_are_not_keys(fixed_clock, session):
    counter = HitCounter()
    await call(RateLimit(Inner(), limit=5, window=60, count_hits=counter), http_scope(session=session))
    assert counter.calls[0][0] == ["mcp:rl:client:10.0.0.1:16"]


async def test_a_failing_counter_lets_requests_through_and_logs_once(caplog):
    counter = HitCounter(fail=True)
    app = RateLimit(Inner(), limit=1, window=60, count_hits=counter)
    with caplog.at_level(logging.WARNING, logger="sessions_app.edge.ratelimit"):
        for _ in range(3):
            response = await call(app, http_scope())
            assert response.status == 200 and response.header("ratelimit-limit") == []
        assert len(caplog.records) == 1
        counter.fail = False
        assert (await call(app, http_scope())).header("ratelimit-limit") == ["1"]
        counter.fail = True
        await call(app, http_scope())
        assert len(caplog.records) == 2


async def test_limit_zero_disables_counting():
    counter = HitCounter()
    assert (await call(RateLimit(Inner(), limit=0, window=0, count_hits=counter), http_scope())).status == 200
    assert counter.calls == []


def test_an_enabled_limit_needs_a_positive_window():
    with pytest.raises(ValueError, match="positive number of seconds"):
        RateLimit(Inner(), limit=10, window=0, count_hits=HitCounter())


# Access log


async def test_the_note_reaches_the_log_line_and_on_done(caplog):
    async def note_rpc():
        note_request(rpc="tools/call", tool="calculate")

    async def transport():
        note_request(session="s-1")
        await asyncio.create_task(note_rpc())  # a task the transport creates shares the request's note

    done = []
    app = AccessLog(Inner(during=transport), on_done=lambda *args: done.append(args))
    with caplog.at_level(logging.INFO, logger="mcpsite.access"):
        assert (await call(app, http_scope())).status == 200
    ((method, status, seconds),) = done
    assert (method, status) == ("tools/call", 200) and seconds >= 0
    (record,) = [r for r in caplog.records if r.name == "mcpsite.access"]
    assert record.getMessage().startswith("POST /mcp tools/call session=s-1 status=200 duration=")


async def test_labels_without_a_note_and_a_disconnect(caplog):
    done = []
    app = AccessLog(Inner(answer=False), on_done=lambda *args: done.append(args[:2]), logger_name="test.access")
    with caplog.at_level(logging.INFO, logger="test.access"):
        await call(app, http_scope("PATCH"))
        await call(app, http_scope("GET"))
    assert done == [("other", 499), ("GET", 499)]
    assert caplog.records[0].getMessage().startswith("PATCH /mcp other session=- status=disconnected ")


def test_note_request_outside_a_request_does_nothing():
    note_request(rpc="ping")


# The whole stack


def stack(inner, counter):
    cors = Cors(inner, origins=["*"])
    guarded = HostOriginGuard(cors, allowed_hosts=["localhost"], allowed_origins=["https://app.test"])
    limited = RateLimit(guarded, limit=100, window=60, count_hits=counter, on_refused=lambda kind: None)
    return AccessLog(limited, on_done=lambda *args: None)


async def test_no_middleware_adds_to_the_scope():
    inner = Inner(during=lambda: asyncio.sleep(0))
    scope = http_scope(host="localhost", origin="https://app.test", session="abc")
    before = copy.deepcopy(scope)
    response = await call(stack(inner, HitCounter()), scope)
    assert response.status == 200 and response.header("access-control-allow-origin") == ["https://app.test"]
    assert response.header("ratelimit-limit") == ["100"]
    assert inner.scopes == [before] and scope == before


@pytest.mark.parametrize("kind", ["lifespan", "websocket"])
async def test_other_scopes_pass_through(kind):
    inner, counter = Inner(), HitCounter()
    scope = {"type": kind}
    response = await call(stack(inner, counter), scope)
    assert inner.scopes == [scope] and counter.calls == []
    assert response.raw_headers == inner.headers


# The embedded mode's counters (store.counters.LocalCounters: what cache.acount_hits uses with a per-process cache)


def test_local_counters_count_per_key_and_expire_with_their_window():
    counters = LocalCounters()
    assert counters.count(["a", "b"], 1) == [1, 1]
    assert counters.count(["a"], 1) == [2]
    time.sleep(2.1)  # a counter lives window + 1 seconds from its first hit
    assert counters.count(["a", "b"], 1) == [1, 1]


def test_local_counters_stay_bounded_and_keep_the_newest():
    counters = LocalCounters(max_keys=4)
    for key in "abcdef":
        counters.count([key], 60)
    assert len(counters._counts) <= 4
    assert counters.count(["e", "f"], 60) == [2, 2]  # the newest survive a flood of keys
    assert counters.count(["a"], 60) == [1]  # the oldest went
