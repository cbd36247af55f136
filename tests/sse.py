"""A small SSE reader for raw HTTP tests (the SDK client has its own)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Event:
    id: str | None
    data: str
    retry: int | None = None

    @property
    def message(self) -> Any:
        return json.loads(self.data) if self.data else None


def iter_events(lines: Iterator[str]) -> Iterator[Event]:
    event_id, data, retry, seen = None, [], None, False
    for line in lines:
        if line == "":
            if seen:
                yield Event(event_id, "\n".join(data), retry)
            event_id, data, retry, seen = None, [], None, False
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "id":
            event_id, seen = value, True
        elif field == "data":
            data.append(value)
            seen = True
        elif field == "retry":
            retry, seen = int(value), True
    if seen:
        yield Event(event_id, "\n".join(data), retry)


def read_all(response) -> list[Event]:
    return list(iter_events(response.iter_lines()))


def parse_text(text: str) -> list[Event]:
    return list(iter_events(iter(text.splitlines())))
