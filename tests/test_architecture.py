"""The code's shape, enforced: no import cycle (function-local imports count), small modules.

The layer order itself is import-linter's job (`uv run lint-imports`, contracts in pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("mcpsite", "sessions_app", "tools_app")
MAX_LINES = 300
CONSUMER = ROOT / "sessions_app" / "transport" / "consumer.py"


def strongly_connected(graph: grimp.ImportGraph) -> list[set[str]]:
    """Tarjan's algorithm over the project's modules: the groups that import each other in a circle."""
    modules = sorted(m for m in graph.modules if m.split(".")[0] in PACKAGES)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.split(".")[0] not in PACKAGES:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(group)

    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles():
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert strongly_connected(graph) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_stay_small(package):
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert too_long == {}


def test_the_consumer_is_a_thin_adapter():
    assert len(CONSUMER.read_text().splitlines()) < 150
