"""Size limits the architecture holds the code to (ARCHITECTURE.md): a module over 400 lines or a class
over 200 is doing more than one thing, and the dispatcher's functions nest at most three blocks deep.
Read from the source files; nothing is imported or run."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "payment_ms", "shared", "paygate")
SIZED_MODULES = (*PACKAGES, "tests", "bench")  # the tests and the benchmark are held to the limits too
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 200
MAX_NESTING = 3
NESTED_PACKAGES = ("payment_ms/dispatcher",)
_BLOCKS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.AsyncWith, ast.Match)


@pytest.fixture
def clean_database() -> None:
    """No database here: the suite's per-test truncation is not needed."""


def _modules(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _depth(node: ast.AST, depth: int = 0) -> int:
    """How many blocks deep ``node``'s body goes (an ``elif`` is the same level as its ``if``; nested
    functions and classes are measured on their own)."""
    deepest = depth
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        is_elif = isinstance(node, ast.If) and isinstance(child, ast.If) and node.orelse == [child]
        inner = depth + 1 if isinstance(child, _BLOCKS) and not is_elif else depth
        deepest = max(deepest, _depth(child, inner))
    return deepest


def test_the_limits_are_checked_on_real_code() -> None:
    modules = list(_modules(*PACKAGES))
    assert len(modules) > 50
    nested = "def f():\n    for x in y:\n        if x:\n            while x:\n                pass\n"
    assert _depth(ast.parse(nested).body[0]) == 3
    assert _depth(ast.parse("if a:\n    pass\nelif b:\n    pass\nelif c:\n    pass\n")) == 1


def test_no_module_is_over_400_lines() -> None:
    long = {}
    for path in _modules(*SIZED_MODULES):
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            long[str(path.relative_to(ROOT))] = lines
    assert long == {}


def test_no_class_is_over_200_lines() -> None:
    long = {}
    for path in _modules(*SIZED_MODULES):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_CLASS_LINES:
                    long[f"{path.relative_to(ROOT)}::{node.name}"] = lines
    assert long == {}


def test_no_dispatcher_function_nests_deeper_than_three() -> None:
    deep = {}
    for path in _modules(*NESTED_PACKAGES):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _depth(node) > MAX_NESTING:
                deep[f"{path.relative_to(ROOT)}::{node.name}"] = _depth(node)
    assert deep == {}
