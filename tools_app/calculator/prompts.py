"""The calculator's prompts, with the reference's texts and completions for their arguments."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tools_app.registry import registry

from .arithmetic import ADVANCED_OPERATIONS, BINARY_OPERATIONS
from .resources import FORMULAS

LEVELS = ["basic", "intermediate", "advanced"]
DIFFICULTIES = ["easy", "medium", "hard"]
TOPICS = ["arithmetic", "algebra", "fractions", "geometry", "trigonometry", "statistics"]


def _user(text: str) -> list[dict]:
    return [{"role": "user", "content": {"type": "text", "text": text}}]


@registry.prompt(
    "explain-calculation",
    title="Explain Calculation",
    description="Explain how to perform a calculation step by step",
    complete={"operation": list(BINARY_OPERATIONS + ADVANCED_OPERATIONS), "level": LEVELS},
)
def explain_calculation(
    operation: Annotated[str, Field(description="The calculation to explain")],
    level: Annotated[str | None, Field(description="Explanation level: basic, intermediate, advanced")] = None,
) -> dict:
    level = level or "basic"
    return {
        "description": f"Step-by-step explanation of {operation} at {level} level",
        "messages": _user(
            f"Please explain how to {operation} step by step at a {level} level. "
            "Include examples and common mistakes to avoid."
        ),
    }


@registry.prompt(
    "generate-problems",
    title="Generate Practice Problems",
    description="Generate math practice problems",
    complete={"topic": TOPICS, "difficulty": DIFFICULTIES, "count": [str(n) for n in range(1, 11)]},
)
def generate_problems(
    topic: Annotated[str, Field(description='Math topic (e.g., "fractions", "algebra", "geometry")')],
    difficulty: Annotated[str, Field(description="Difficulty level: easy, medium, hard")],
    count: Annotated[str, Field(description="Number of problems to generate")],
) -> dict:
    return {
        "description": f"Generate {count} {difficulty} {topic} problems",
        "messages": _user(
            f"Generate {count} {difficulty}-level practice problems for {topic}. Include solutions and explanations."
        ),
    }


@registry.prompt(
    "solve_math_problem",
    title="Solve Math Problem",
    description="Step-by-step problem solving",
    complete={"showWork": ["true", "false"]},
)
def solve_math_problem(
    problem: Annotated[str, Field(description="The problem to solve")],
    showWork: Annotated[str, Field(description="Show detailed work")],  # noqa: N803
) -> dict:
    how = "Show all work and explain each step." if showWork == "true" else "Provide the solution."
    return {"description": f"Solve: {problem}", "messages": _user(f"Solve this problem: {problem}. {how}")}


@registry.prompt(
    "explain_formula",
    title="Explain Formula",
    description="Detailed formula explanation",
    complete={"formula": [entry["formula"] for entry in FORMULAS.values()]},
)
def explain_formula(
    formula: Annotated[str, Field(description="The formula to explain")],
    context: Annotated[str | None, Field(description="Application context")] = None,
) -> dict:
    where = f" in the context of {context}" if context else ""
    return {
        "description": f"Explain the formula: {formula}",
        "messages": _user(
            f'Explain the formula "{formula}"{where}. '
            "Include what each variable represents and when to use this formula."
        ),
    }


@registry.prompt("calculator_assistant", title="Calculator Assistant", description="General calculation assistance")
def calculator_assistant(query: Annotated[str, Field(description="What you need help calculating")]) -> dict:
    return {
        "description": "Calculator assistance request",
        "messages": _user(f"I need help with this calculation: {query}. Please provide step-by-step guidance."),
    }
