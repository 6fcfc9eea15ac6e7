"""Imports run one way (ARCHITECTURE.md): ``shared`` <- ``gateway``, ``payment_ms`` <- ``paygate`` and
``bench``; no service imports the other or the CLI, and no module imports itself back through others.
Every import counts, the ones inside functions included (a lazy import only hides a cycle)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "gateway", "payment_ms", "paygate", "bench", "alembic")

# package -> the packages of ours it may import (its own always)
ALLOWED: dict[str, frozenset[str]] = {
    "shared": frozenset(),
    "gateway": frozenset({"shared"}),
    "payment_ms": frozenset({"shared"}),
    "alembic": frozenset({"shared"}),
    "paygate": frozenset({"shared", "gateway", "payment_ms"}),
    "bench": frozenset({"shared", "gateway", "payment_ms", "paygate"}),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _imported(name: str, path: Path, tree: ast.AST) -> Iterator[tuple[str, int]]:
    """Every module name ``tree`` imports (absolute; relative ones resolved), with its line."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, node.lineno
            for alias in node.names:  # ``from pkg import module``
                yield f"{base}.{alias.name}", node.lineno


def _graph() -> dict[str, dict[str, int]]:
    """module -> {module of ours it imports: line}."""
    modules = _modules()
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges: dict[str, int] = {}
        for target, line in _imported(name, path, ast.parse(path.read_text(), str(path))):
            if target in modules and target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_imports_run_one_way() -> None:
    wrong = []
    for module, edges in _graph().items():
        package = module.partition(".")[0]
        for target, line in edges.items():
            target_package = target.partition(".")[0]
            if target_package != package and target_package not in ALLOWED[package]:
                wrong.append(f"{module}:{line} imports {target}")
    assert wrong == [], "\n".join(wrong)


def test_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_the_checks_see_function_level_imports_and_cycles() -> None:
    """The walker finds an import inside a function, and the cycle finder a two-module loop."""
    tree = ast.parse("def f():\n    from shared import routes\n    import gateway.app\n")
    names = {name for name, _ in _imported("x.y", ROOT / "x" / "y.py", tree)}
    assert {"shared.routes", "gateway.app"} <= names
    assert _cycles({"a": {"b": 1}, "b": {"a": 2}, "c": {}}) == [["a", "b"]]
