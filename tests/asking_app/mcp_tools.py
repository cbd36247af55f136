"""Offerings for the tests of tools that ask the client (tests/test_client_requests_*.py)."""

from pydantic import BaseModel, Field

from tools_app.registry import ToolContext, registry


class Rating(BaseModel):
    stars: int = Field(ge=1, le=5, description="From 1 to 5")
    comment: str = Field(default="", description="Anything to add")


@registry.tool(description="Asks for the roots, then a rating, then the client's model's summary")
async def survey(ctx: ToolContext, topic: str) -> str:
    roots = await ctx.list_roots()
    rating = await ctx.elicit(f"How do you rate {topic}?", Rating)
    summary = await ctx.sample(f"Summarise {topic} in one line", 50)
    stars = rating.data.stars if rating.accepted else rating.action
    return f"roots={','.join(r.uri for r in roots)} stars={stars} summary={summary.text} model={summary.model}"


@registry.tool(description="Waits one second at most for the user's answer", input_timeout=1)
async def impatient(ctx: ToolContext) -> str:
    answer = await ctx.elicit("Quick: yes or no?", {"type": "object", "properties": {"yes": {"type": "boolean"}}})
    return f"answered {answer.action}"


@registry.prompt(
    description="A lesson for users with the advanced calculator permission",
    permission="tools_app.use_advanced",
    complete={"topic": ["algebra", "analysis", "geometry"]},
)
def advanced_lesson(topic: str) -> str:
    return f"Teach me {topic}, advanced level."
