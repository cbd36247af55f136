"""The suite's fixtures that ask the client: one tool code, both eras.

2025-11-25 (tools-call-sampling, tools-call-elicitation, elicitation-sep1034-defaults,
elicitation-sep1330-enums): each question is a server-to-client request on the call's
POST stream. 2026-07-28 (the input-required-result-* scenarios): the same calls make
`input_required` rounds. Question texts, keys and schemas are the suite's own.
"""

from __future__ import annotations

import json
from typing import Any

from tools_app.registry import ToolContext, ToolError, registry

NAME_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
CONFIRM_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}

# tools-call-elicitation: the schema in the scenario's description.
USER_SCHEMA = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "description": "User's response"},
        "email": {"type": "string", "description": "User's email address"},
    },
    "required": ["username", "email"],
}

# elicitation-sep1034-defaults: a default for every primitive type.
DEFAULTS_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "User name", "default": "John Doe"},
        "age": {"type": "integer", "description": "User age", "default": 30},
        "score": {"type": "number", "description": "User score", "default": 95.5},
        "status": {
            "type": "string",
            "description": "User status",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "description": "Verification status", "default": True},
    },
}

# elicitation-sep1330-enums: the five enum shapes of SEP-1330.
ENUMS_SCHEMA = {
    "type": "object",
    "properties": {
        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {
            "type": "string",
            "oneOf": [
                {"const": "value1", "title": "First Option"},
                {"const": "value2", "title": "Second Option"},
                {"const": "value3", "title": "Third Option"},
            ],
        },
        "legacyEnum": {
            "type": "string",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
        "titledMulti": {
            "type": "array",
            "items": {
                "anyOf": [
                    {"const": "value1", "title": "First Choice"},
                    {"const": "value2", "title": "Second Choice"},
                    {"const": "value3", "title": "Third Choice"},
                ]
            },
        },
    },
}


def _content(answer: Any) -> str:
    return json.dumps(answer.content or {}, sort_keys=True, separators=(",", ":"))


# --- 2025-11-25: server-to-client requests (they work in 2026-07-28 rounds too) -------------
@registry.tool(description="Asks the client's model to answer a prompt (sampling/createMessage)")
async def test_sampling(ctx: ToolContext, prompt: str) -> str:
    answer = await ctx.sample(prompt, 100)
    return f"LLM response: {answer.text or 'No response'}"


@registry.tool(description="Asks the user for a username and an email (elicitation/create)")
async def test_elicitation(ctx: ToolContext, message: str) -> str:
    answer = await ctx.elicit(message, USER_SCHEMA)
    return f"User response: action={answer.action}, content={_content(answer)}"


@registry.tool(description="Asks with a form whose fields all have defaults (SEP-1034)")
async def test_elicitation_sep1034_defaults(ctx: ToolContext) -> str:
    answer = await ctx.elicit("Please provide user information", DEFAULTS_SCHEMA)
    return f"Elicitation completed: action={answer.action}, content={_content(answer)}"


@registry.tool(description="Asks with the five enum shapes of SEP-1330")
async def test_elicitation_sep1330_enums(ctx: ToolContext) -> str:
    answer = await ctx.elicit("Please select values using different enum schema types", ENUMS_SCHEMA)
    return f"Elicitation completed: action={answer.action}, content={_content(answer)}"


# --- 2026-07-28: input_required rounds (they work as server-to-client requests in a session too) ---
@registry.tool(description="Asks the user's name, then greets them")
async def test_input_required_result_elicitation(ctx: ToolContext) -> str:
    answer = await ctx.elicit("What is your name?", NAME_SCHEMA, key="user_name")
    return f"Hello, {answer.content['name']}!" if answer.accepted else f"No name given ({answer.action})"


@registry.tool(description="Asks the client's model a question")
async def test_input_required_result_sampling(ctx: ToolContext) -> str:
    question = [{"role": "user", "content": {"type": "text", "text": "What is the capital of France?"}}]
    answer = await ctx.sample(question, 100, key="capital_question")
    return f"The model answered: {answer.text}"


@registry.tool(description="Asks the client for its roots")
async def test_input_required_result_list_roots(ctx: ToolContext) -> str:
    roots = await ctx.list_roots(key="client_roots")
    return "Client roots: " + (", ".join(root.uri for root in roots) or "none")


@registry.tool(description="Asks for a confirmation; completes only with the answer and the echoed requestState")
async def test_input_required_result_request_state(ctx: ToolContext) -> str:
    answer = await ctx.elicit("Please confirm", CONFIRM_SCHEMA, key="confirm")
    return "state-ok: confirmation received" if answer.accepted else f"state-ok: {answer.action}"


@registry.tool(description="Asks three things in one round: a name, a greeting from the model, the roots")
async def test_input_required_result_multiple_inputs(ctx: ToolContext) -> str:
    name, greeting, roots = await ctx.ask_all(
        ctx.elicit("What is your name?", NAME_SCHEMA, key="user_name"),
        ctx.sample("Generate a greeting", 50, key="greeting"),
        ctx.list_roots(key="client_roots"),
    )
    who = name.content["name"] if name.accepted else "someone"
    return f"{greeting.text} {who} ({len(roots)} roots)"


@registry.tool(description="Asks in two rounds: a name, then a favourite colour")
async def test_input_required_result_multi_round(ctx: ToolContext) -> str:
    name = await ctx.elicit("Step 1: What is your name?", NAME_SCHEMA, key="step1")
    color_schema = {"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]}
    color = await ctx.elicit("Step 2: What is your favorite color?", color_schema, key="step2")
    if not (name.accepted and color.accepted):
        return "The user stopped answering"
    return f"{name.content['name']} likes {color.content['color']}"


@registry.tool(description="Asks for a confirmation; its requestState is signed, so a tampered one is refused")
async def test_input_required_result_tampered_state(ctx: ToolContext) -> str:
    answer = await ctx.elicit("Please confirm", CONFIRM_SCHEMA, key="confirm")
    return f"Confirmed with an intact requestState: {answer.action}"


@registry.tool(description="Asks only with a capability the client declared: elicitation, else sampling, else roots")
async def test_input_required_result_capabilities(ctx: ToolContext) -> str:
    declared = ctx.client_capabilities
    if "elicitation" in declared:
        answer = await ctx.elicit("What is your name?", NAME_SCHEMA, key="user_name")
        return f"Elicited: {answer.action}"
    if "sampling" in declared:
        sampled = await ctx.sample("Say hello", 50, key="hello")
        return f"Sampled: {sampled.text}"
    if "roots" in declared:
        roots = await ctx.list_roots(key="client_roots")
        return f"Roots: {len(roots)}"
    raise ToolError("The client declared none of elicitation, sampling and roots")


@registry.prompt(description="Asks the user for the prompt's context first")
async def test_input_required_result_prompt(ctx: ToolContext) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]}
    answer = await ctx.elicit("What context should the prompt use?", schema, key="user_context")
    context = answer.content["context"] if answer.accepted else "none given"
    text = f"Answer the user's question using this context: {context}"
    return {"messages": [{"role": "user", "content": {"type": "text", "text": text}}]}
