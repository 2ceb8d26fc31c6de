"""The package's shape, checked: layers whose imports only point down, no import cycles, small modules.

Layers, bottom to top (README, "Development"): errors and core; io; table; read; ops and dev; elt;
the `Lakehouse` facade (facade/, then lake.py); the pytest plugin and the demo; the CLI. Imports inside a function count too:
a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "lakehouse"
MAX_LINES = 400

LAYERS = {
    "lakehouse.errors": 0,
    "lakehouse.core": 0,
    "lakehouse.io": 1,
    "lakehouse.table": 2,
    "lakehouse.read": 3,
    "lakehouse.ops": 4,
    "lakehouse.dev": 4,
    "lakehouse.elt": 5,
    "lakehouse.facade": 6,
    "lakehouse.lake": 7,
    "lakehouse.testing": 8,
    "lakehouse.demo": 8,
    "lakehouse.cli": 9,
}


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The lakehouse modules `name` imports, anywhere in the file."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        out.update(t for t in targets if t in known and t != name)
    return out


def layer(name: str) -> int | None:
    for prefix, level in LAYERS.items():
        if name == prefix or name.startswith(prefix + "."):
            return level
    return None


GRAPH = {name: imports(name, path, set(modules())) for name, path in modules().items()}
PACKAGES = {name for name, path in modules().items() if path.name == "__init__.py"}


def folder(name: str) -> str:
    return name if name in PACKAGES else name.rsplit(".", 1)[0]


def test_every_module_has_a_layer() -> None:
    assert [m for m in GRAPH if m != "lakehouse" and layer(m) is None] == []


def test_no_import_cycles() -> None:
    # the package's __init__ imports its names lazily, by string; it is nobody's dependency
    graph = {m: {d for d in deps if d != "lakehouse"} for m, deps in GRAPH.items() if m != "lakehouse"}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_imports_point_down() -> None:
    upward = []
    for name, deps in GRAPH.items():
        if name == "lakehouse":
            continue
        for dep in deps:
            here, there = layer(name), layer(dep)
            if dep == "lakehouse" or here is None or there is None:
                continue
            a, b = folder(name), folder(dep)
            same_folder = a == b or b.startswith(a + ".") or a.startswith(b + ".")
            if there > here or (there == here and not same_folder and here != 0):
                upward.append(f"{name} -> {dep}")
    assert upward == []


def test_modules_are_small() -> None:
    big = {
        name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert big == {}
