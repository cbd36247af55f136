"""The calculator, its resources and prompts, through the SDK client on a live server."""

from __future__ import annotations

import json
import math
import sqlite3

import anyio
import mcp_types as types
import pytest
from mcp import Client

from .conftest import LiveServer, sdk_session_id, start_module_server


@pytest.fixture(scope="module")
def calc_server(tmp_path_factory):
    live = start_module_server(tmp_path_factory, "calc", env={"SAMPLE_TOOL_NAME": "echo_sample"})
    yield live
    live.stop()


def text(result) -> str:
    assert len(result.content) == 1
    return result.content[0].text


def resource_json(result) -> object:
    (content,) = result.contents
    assert content.mime_type == "application/json"
    return json.loads(content.text)


async def test_tool_list_and_capabilities(calc_server):
    async with Client(calc_server.url, mode="legacy") as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        caps = client.server_capabilities
    assert {"calculate", "batch_calculate", "advanced_calculate", "demo_progress", "echo_sample"} <= names
    assert caps.tools is not None and caps.prompts is not None and caps.logging is not None
    assert caps.resources.subscribe is True and caps.resources.list_changed is True
    assert caps.completions is not None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"a": 7, "b": 5, "op": "add"}, "7 add 5 = 12"),
        ({"a": 7, "b": 5, "op": "subtract"}, "7 subtract 5 = 2"),
        ({"a": 2.5, "b": 4, "op": "multiply"}, "2.5 multiply 4 = 10"),
        ({"a": 1, "b": 3, "op": "divide"}, "1 divide 3 = 0.3333333333333333"),
        ({"a": 1e-7, "b": 0, "op": "add"}, "1e-7 add 0 = 1e-7"),
        ({"a": 0.000001, "b": 1e21, "op": "add"}, "0.000001 add 1e+21 = 1e+21"),
    ],
)
async def test_calculate(calc_server, args, expected):
    async with Client(calc_server.url, mode="legacy") as client:
        result = await client.call_tool("calculate", args)
    assert not result.is_error
    assert text(result) == expected


async def test_domain_errors_are_error_results(calc_server):
    cases = [
        ("calculate", {"a": 1, "b": 0, "op": "divide"}, "Division by zero is not allowed"),
        ("calculate", {"a": 1e308, "b": 10, "op": "multiply"}, "Result is not a finite number"),
        ("advanced_calculate", {"operation": "factorial", "value": -1}, "Factorial requires non-negative integer"),
        ("advanced_calculate", {"operation": "factorial", "value": 2.5}, "Factorial requires non-negative integer"),
        (
            "advanced_calculate",
            {"operation": "factorial", "value": 1e9},
            "Factorial requires an integer no larger than 170",
        ),
        ("advanced_calculate", {"operation": "power", "value": 2}, "Power operation requires base parameter"),
        ("advanced_calculate", {"operation": "power", "value": 0.5, "base": -8}, "Power result is not a real number"),
        ("advanced_calculate", {"operation": "power", "value": 1000, "base": 10}, "Result is not a finite number"),
        ("advanced_calculate", {"operation": "sqrt", "value": -4}, "Square root of negative number"),
        ("advanced_calculate", {"operation": "log", "value": 0}, "Logarithm requires positive number"),
        (
            "advanced_calculate",
            {"operation": "log", "value": 8, "base": 1},
            "Logarithm base must be positive and not 1",
        ),
    ]
    async with Client(calc_server.url, mode="legacy") as client:
        for name, args, message in cases:
            result = await client.call_tool(name, args)
            assert result.is_error, (name, args)
            assert text(result) == message, (name, args)


async def test_invalid_arguments_are_error_results_naming_the_argument(calc_server):
    cases = [
        ("calculate", {"a": 1, "op": "add"}, "b: Field required"),
        ("calculate", {"a": "x", "b": 1, "op": "add"}, "a: Input should be a valid number"),
        (
            "calculate",
            {"a": 1, "b": 1, "op": "modulo"},
            "op: Input should be 'add', 'subtract', 'multiply' or 'divide'",
        ),
        ("calculate", {"a": 1, "b": 1, "op": "add", "extra": 1}, "extra: Extra inputs are not permitted"),
        ("batch_calculate", {"calculations": []}, "calculations: List should have at least 1 item"),
        ("batch_calculate", {"calculations": [{"a": 1, "b": 2}]}, "calculations.0.op: Field required"),
        ("advanced_calculate", {"operation": "cube", "value": 1}, "operation: Input should be"),
        ("demo_progress", {"steps": 0}, "steps: Input should be greater than or equal to 1"),
        ("echo_sample", {}, "value: Field required"),
    ]
    async with Client(calc_server.url, mode="legacy") as client:
        for name, args, fragment in cases:
            result = await client.call_tool(name, args)
            assert result.is_error, (name, args)
            assert text(result).startswith("Invalid arguments: "), text(result)
            assert fragment in text(result), (name, text(result))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"operation": "factorial", "value": 5}, "factorial(5) = 120"),
        ({"operation": "power", "value": 10, "base": 2}, "power(10, 2) = 1024"),
        ({"operation": "sqrt", "value": 2}, f"sqrt(2) = {math.sqrt(2)!r}"),
        ({"operation": "log", "value": 8, "base": 2}, "log(8, 2) = 3"),
        ({"operation": "log", "value": 1}, "log(1) = 0"),
        ({"operation": "sin", "value": 0}, "sin(0) = 0"),
        ({"operation": "cos", "value": 0}, "cos(0) = 1"),
        ({"operation": "tan", "value": 1}, f"tan(1) = {math.tan(1)!r}"),
    ],
)
async def test_advanced_calculate(calc_server, args, expected):
    async with Client(calc_server.url, mode="legacy") as client:
        result = await client.call_tool("advanced_calculate", args)
    assert not result.is_error
    assert text(result) == expected


async def test_batch_calculate_with_progress_on_the_clients_token(calc_server):
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value, total, message):
        progress.append((value, total, message))

    calculations = [{"a": 1, "b": 2, "op": "add"}, {"a": 1, "b": 0, "op": "divide"}, {"a": 3, "b": 4, "op": "multiply"}]
    async with Client(calc_server.url, mode="legacy") as client:
        result = await client.call_tool(
            "batch_calculate", {"calculations": calculations, "reportProgress": True}, progress_callback=on_progress
        )
    assert (
        text(result) == "Batch calculation completed. Results:\n1 add 2 = 3\nError: Division by zero\n3 multiply 4 = 12"
    )
    assert progress == [
        (1, 3, "Processing calculation 1/3: 1 add 2"),
        (2, 3, "Processing calculation 2/3: 1 divide 0"),
        (3, 3, "Processing calculation 3/3: 3 multiply 4"),
    ]


async def test_progress_only_with_a_token(calc_server):
    seen: list[object] = []

    async def on_message(message):
        if isinstance(message, types.ProgressNotification):
            seen.append(message)

    async with Client(calc_server.url, mode="legacy", message_handler=on_message) as client:
        result = await client.call_tool("calculate", {"a": 2, "b": 3, "op": "multiply", "stream": True})
        assert text(result) == "2 multiply 3 = 6"
        await anyio.sleep(0.2)
    assert seen == []  # no progressToken sent, so no progress notifications

    progress = []

    async def on_progress(value, total, message):
        progress.append((value, total, message))

    async with Client(calc_server.url, mode="legacy") as client:
        await client.call_tool(
            "calculate", {"a": 2, "b": 3, "op": "multiply", "stream": True}, progress_callback=on_progress
        )
    assert progress == [
        (0.2, 1.0, "Starting multiply calculation..."),
        (0.5, 1.0, "Processing: 2 multiply 3"),
        (1.0, 1.0, "Calculation complete: 6"),
    ]


async def test_demo_progress(calc_server):
    progress = []

    async def on_progress(value, total, message):
        progress.append((value, total, message))

    async with Client(calc_server.url, mode="legacy") as client:
        result = await client.call_tool("demo_progress", {"steps": 3}, progress_callback=on_progress)
    assert text(result) == "Progress demonstration completed with 3 steps"
    assert progress == [(i, 3, f"Step {i}/3 completed") for i in range(4)]


def stream_kinds(server: LiveServer, session_id: str) -> dict[str, list[str]]:
    streams: dict[str, list[str]] = {}
    for stream, kind, message in server.stored_events(session_id):
        method = message.get("method") if message else None
        streams.setdefault(stream, []).append(f"{kind}:{method}" if method else kind)
    return streams


async def test_cancelled_demo_progress_sends_no_result(calc_server):
    progress = []
    two = anyio.Event()

    async def on_progress(value, total, message):
        progress.append(value)
        if len(progress) == 2:
            two.set()

    async with Client(calc_server.url, mode="legacy") as client:
        session_id = await sdk_session_id(client)
        async with anyio.create_task_group() as tg:

            async def call():
                await client.call_tool("demo_progress", {"steps": 50}, progress_callback=on_progress)
                raise AssertionError("a cancelled call must not return")

            tg.start_soon(call)
            with anyio.fail_after(10):
                await two.wait()
            tg.cancel_scope.cancel()  # the SDK sends notifications/cancelled
        await anyio.sleep(1.0)
        assert len(progress) <= 4  # it stopped: 50 steps would take 10 s
        streams = stream_kinds(calc_server, session_id)
        (stream,) = [kinds for kinds in streams.values() if any("progress" in k for k in kinds)]
        assert stream[-1] == "cancelled"
        assert "response" not in stream


async def test_static_resources(calc_server):
    async with Client(calc_server.url, mode="legacy") as client:
        constants = resource_json(await client.read_resource("calculator://constants"))
        formulas = resource_json(await client.read_resource("formulas://library"))
    assert constants == {"pi": math.pi, "e": math.e, "sqrt2": math.sqrt(2), "ln2": math.log(2), "ln10": math.log(10)}
    assert formulas["pythagorean"] == {"formula": "a² + b² = c²", "description": "For right triangles"}
    assert formulas["quadratic"]["solution"] == "x = (-b ± √(b²-4ac)) / 2a"
    assert set(formulas["compound_interest"]["variables"]) == {"A", "P", "r", "n", "t"}


async def test_history_resources_and_templates(calc_server):
    async with Client(calc_server.url, mode="legacy") as client:
        session_id = await sdk_session_id(client)
        await client.call_tool("calculate", {"a": 6, "b": 7, "op": "multiply"})
        await client.call_tool("advanced_calculate", {"operation": "sqrt", "value": 16})
        history = resource_json(await client.read_resource("calculator://history"))
        assert [entry["expression"] for entry in history] == ["6 multiply 7 = 42", "sqrt(16) = 4"]
        assert history[0]["inputs"] == [6, 7] and history[0]["result"] == 42
        assert history[0]["sessionId"] == session_id

        entry = resource_json(await client.read_resource(f"calculator://history/{history[1]['id']}"))
        assert entry == history[1]

        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        assert {f"calculator://history/{e['id']}" for e in history} <= listed
        assert {"calculator://constants", "calculator://stats", "formulas://library", "calculator://history"} <= listed

        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert templates == {"calculator://history/{calculationId}", "session://info/{sessionId}"}

        info = resource_json(await client.read_resource(f"session://info/{session_id}"))
        assert info["sessionId"] == session_id and info["calculationCount"] == 2
        assert info["protocolVersion"] == "2025-11-25"


async def test_stats_count_every_session(calc_server):
    async with Client(calc_server.url, mode="legacy") as client:
        before = resource_json(await client.read_resource("calculator://stats"))
    async with Client(calc_server.url, mode="legacy") as other:
        await other.call_tool("calculate", {"a": 1, "b": 1, "op": "subtract"})
        after = resource_json(await other.read_resource("calculator://stats"))
    assert after["totalCalculations"] == before["totalCalculations"] + 1
    by_op = {item["operation"]: item["count"] for item in after["operationBreakdown"]}
    assert (
        by_op["subtract"] == {i["operation"]: i["count"] for i in before["operationBreakdown"]}.get("subtract", 0) + 1
    )
    assert after["activeSessions"] >= 1


async def test_another_session_cannot_read_this_sessions_history_or_info(calc_server):
    async with Client(calc_server.url, mode="legacy") as alice:
        alice_id = await sdk_session_id(alice)
        await alice.call_tool("calculate", {"a": 40, "b": 2, "op": "add"})
        (entry,) = resource_json(await alice.read_resource("calculator://history"))
        async with Client(calc_server.url, mode="legacy") as bob:
            assert resource_json(await bob.read_resource("calculator://history")) == []
            for uri in (f"calculator://history/{entry['id']}", f"session://info/{alice_id}"):
                with pytest.raises(Exception) as refused:
                    await bob.read_resource(uri)
                assert getattr(refused.value, "code", None) == -32002, refused.value
                assert "Resource not found" in str(refused.value)


async def test_unknown_resources(calc_server):
    async with Client(calc_server.url, mode="legacy") as client:
        for uri in (
            "calculator://nothing",
            "calculator://history/not-a-uuid",
            "calculator://history/00000000-0000-0000-0000-000000000000",
        ):
            with pytest.raises(Exception) as refused:
                await client.read_resource(uri)
            assert getattr(refused.value, "code", None) == -32002, uri


async def test_subscribed_client_gets_history_updates_on_its_get_stream(calc_server):
    updated: list[str] = []
    list_changed = anyio.Event()
    got_update = anyio.Event()

    async def on_message(message):
        if isinstance(message, types.ResourceUpdatedNotification):
            updated.append(str(message.params.uri))
            got_update.set()
        if isinstance(message, types.ResourceListChangedNotification):
            list_changed.set()

    async with Client(calc_server.url, mode="legacy", message_handler=on_message) as client:
        await anyio.sleep(0.3)  # the SDK opens its GET stream after initialized
        await client.subscribe_resource("calculator://history")
        await client.call_tool("calculate", {"a": 1, "b": 2, "op": "add"})
        with anyio.fail_after(5):
            await got_update.wait()
            await list_changed.wait()
        await client.unsubscribe_resource("calculator://history")
        await client.call_tool("calculate", {"a": 1, "b": 2, "op": "add"})
        await anyio.sleep(0.5)
    assert updated == ["calculator://history"]


async def test_a_calculations_notifications_are_stored_in_its_commit_before_its_answer(calc_server):
    """The Calculation row, resources/updated to the subscriber and resources/list_changed commit together, in
    the answer's transaction (store.answer_writes), so both notifications are stored with it, ahead of it."""
    async with Client(calc_server.url, mode="legacy") as client:
        session_id = await sdk_session_id(client)
        await client.subscribe_resource("calculator://history")
        await client.call_tool("calculate", {"a": 20, "b": 22, "op": "add"})
        events = calc_server.stored_events(session_id)
    answer = next(
        i
        for i, (_, kind, message) in enumerate(events)
        if kind == "response" and "20 add 22 = 42" in json.dumps(message)
    )
    before = [message.get("method") for stream, kind, message in events[:answer] if stream == "g" and message]
    assert before[-2:] == ["notifications/resources/updated", "notifications/resources/list_changed"], events


async def test_a_calculation_and_its_answer_are_stored_together_or_not_at_all(calc_server):
    """The Calculation row commits in its answer's transaction (store.answer_writes). When the row cannot be
    stored (here a trigger refuses it), no successful answer is stored or sent: the client gets an error,
    and the stream's stored answer is that error. The next call, with the row allowed, works."""
    database = calc_server.database_url.removeprefix("sqlite:///")
    refuse = (
        "CREATE TRIGGER refuse_calculations BEFORE INSERT ON tools_app_calculation"
        " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
    )
    async with Client(calc_server.url, mode="legacy") as client:
        session_id = await sdk_session_id(client)
        with sqlite3.connect(database) as db:
            db.execute(refuse)
        try:
            with pytest.raises(Exception) as refused:
                await client.call_tool("calculate", {"a": 40, "b": 2, "op": "add"})
        finally:
            with sqlite3.connect(database) as db:
                db.execute("DROP TRIGGER refuse_calculations")
        assert "Internal error: the response could not be stored" in str(refused.value)
        after = await client.call_tool("calculate", {"a": 40, "b": 3, "op": "add"})
        assert after.content[0].text == "40 add 3 = 43"
    answers = [message for _, kind, message in calc_server.stored_events(session_id) if kind == "response"]
    assert not any("40 add 2" in json.dumps(message) for message in answers), answers
    assert any(message.get("error", {}).get("code") == -32603 for message in answers), answers
    with sqlite3.connect(database) as db:
        stored = [
            row[0]
            for row in db.execute("SELECT expression FROM tools_app_calculation WHERE session_id = ?", (session_id,))
        ]
    assert stored == ["40 add 3 = 43"]


async def test_prompts(calc_server):
    async with Client(calc_server.url, mode="legacy") as client:
        names = [p.name for p in (await client.list_prompts()).prompts]
        assert names == [
            "explain-calculation",
            "generate-problems",
            "solve_math_problem",
            "explain_formula",
            "calculator_assistant",
        ]
        cases = [
            (
                "explain-calculation",
                {"operation": "division"},
                "Step-by-step explanation of division at basic level",
                "Please explain how to division step by step at a basic level. Include examples and common mistakes to avoid.",
            ),
            (
                "explain-calculation",
                {"operation": "log", "level": "advanced"},
                "Step-by-step explanation of log at advanced level",
                "Please explain how to log step by step at a advanced level. Include examples and common mistakes to avoid.",
            ),
            (
                "generate-problems",
                {"topic": "algebra", "difficulty": "hard", "count": "3"},
                "Generate 3 hard algebra problems",
                "Generate 3 hard-level practice problems for algebra. Include solutions and explanations.",
            ),
            (
                "solve_math_problem",
                {"problem": "2x=4", "showWork": "true"},
                "Solve: 2x=4",
                "Solve this problem: 2x=4. Show all work and explain each step.",
            ),
            (
                "solve_math_problem",
                {"problem": "2x=4", "showWork": "false"},
                "Solve: 2x=4",
                "Solve this problem: 2x=4. Provide the solution.",
            ),
            (
                "explain_formula",
                {"formula": "a² + b² = c²", "context": "carpentry"},
                "Explain the formula: a² + b² = c²",
                'Explain the formula "a² + b² = c²" in the context of carpentry. Include what each variable represents and when to use this formula.',
            ),
            (
                "explain_formula",
                {"formula": "E=mc²"},
                "Explain the formula: E=mc²",
                'Explain the formula "E=mc²". Include what each variable represents and when to use this formula.',
            ),
            (
                "calculator_assistant",
                {"query": "15% of 80"},
                "Calculator assistance request",
                "I need help with this calculation: 15% of 80. Please provide step-by-step guidance.",
            ),
        ]
        for name, arguments, description, message in cases:
            result = await client.get_prompt(name, arguments)
            assert result.description == description
            assert [(m.role, m.content.text) for m in result.messages] == [("user", message)]


async def test_prompt_errors(calc_server):
    async with Client(calc_server.url, mode="legacy") as client:
        with pytest.raises(Exception) as missing:
            await client.get_prompt("generate-problems", {"topic": "algebra"})
        assert getattr(missing.value, "code", None) == -32602
        assert "Missing required arguments: difficulty, count" in str(missing.value)
        with pytest.raises(Exception) as unknown:
            await client.get_prompt("no-such-prompt", {})
        assert getattr(unknown.value, "code", None) == -32602


async def test_completions(calc_server):
    async with Client(calc_server.url, mode="legacy") as client:
        prompt = types.PromptReference(type="ref/prompt", name="explain-calculation")
        levels = await client.complete(prompt, {"name": "level", "value": "int"})
        assert levels.completion.values == ["intermediate"]
        operations = await client.complete(prompt, {"name": "operation", "value": "s"})
        assert operations.completion.values == ["subtract", "sqrt", "sin"]
        difficulty = await client.complete(
            types.PromptReference(type="ref/prompt", name="generate-problems"), {"name": "difficulty", "value": ""}
        )
        assert difficulty.completion.values == ["easy", "medium", "hard"]

        await client.call_tool("calculate", {"a": 2, "b": 2, "op": "add"})
        (entry,) = resource_json(await client.read_resource("calculator://history"))
        template = types.ResourceTemplateReference(type="ref/resource", uri="calculator://history/{calculationId}")
        ids = await client.complete(template, {"name": "calculationId", "value": entry["id"][:4]})
        assert ids.completion.values == [entry["id"]]
        assert ids.completion.total == 1 and ids.completion.has_more is False


async def test_sample_tool(calc_server):
    async with Client(calc_server.url, mode="legacy") as client:
        result = await client.call_tool("echo_sample", {"value": "hello"})
    assert text(result) == "test string print: hello"


async def test_history_survives_a_restart_with_the_same_session(tmp_path):
    live = LiveServer(f"sqlite:///{tmp_path / 'db.sqlite3'}").start(tmp_path / "first.log")
    try:
        async with Client(live.url, mode="legacy") as client:
            session_id = await sdk_session_id(client)
            await client.call_tool("calculate", {"a": 19, "b": 23, "op": "add"})
            before = resource_json(await client.read_resource("calculator://history"))
            live.stop()
            live.start(tmp_path / "second.log")
            # The same client, the same session id, a new server process.
            after = resource_json(await client.read_resource("calculator://history"))
            info = resource_json(await client.read_resource(f"session://info/{session_id}"))
    finally:
        live.stop()
    assert after == before and before[0]["expression"] == "19 add 23 = 42"
    assert info["calculationCount"] == 1
