"""The conformance suite's fixture prompts (with completion of test_prompt_with_arguments' arg1)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from tools_app.registry import registry

from .media import RED_PIXEL_PNG_B64

ARG1_COMPLETIONS = ["paris", "park", "party"]


def _user(content: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": content}


@registry.prompt(description="A simple prompt without arguments")
def test_simple_prompt() -> str:
    return "This is a simple prompt for testing."


@registry.prompt(description="A prompt with two required arguments", complete={"arg1": ARG1_COMPLETIONS})
def test_prompt_with_arguments(
    arg1: Annotated[str, Field(description="First test argument")],
    arg2: Annotated[str, Field(description="Second test argument")],
) -> str:
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@registry.prompt(description="A prompt that embeds a resource")
def test_prompt_with_embedded_resource(
    resourceUri: Annotated[str, Field(description="URI of the resource to embed")],
) -> dict[str, Any]:
    resource = {"uri": resourceUri, "mimeType": "text/plain", "text": "Embedded resource content for testing."}
    return {
        "messages": [
            _user({"type": "resource", "resource": resource}),
            _user({"type": "text", "text": "Please process the embedded resource above."}),
        ]
    }


@registry.prompt(description="A prompt with an image")
def test_prompt_with_image() -> dict[str, Any]:
    image = {"type": "image", "data": RED_PIXEL_PNG_B64, "mimeType": "image/png"}
    return {"messages": [_user(image), _user({"type": "text", "text": "Please analyze the image above."})]}
