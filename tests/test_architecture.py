"""How the package is layered: Ultralytics only under yolo/, no upward imports, no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "collapse_sim"


def _imports(path: Path) -> set[str]:
    """Modules a file imports (absolute names), at any depth in the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in PACKAGE.rglob("*.py")
        if "__pycache__" not in p.parts
    }


def test_ultralytics_is_imported_only_under_yolo():
    outside = {
        name
        for name, path in _modules().items()
        if not name.startswith("collapse_sim.yolo")
        and any(i.split(".")[0] == "ultralytics" for i in _imports(path))
    }
    assert outside == set()


def test_yolo_imports_nothing_from_metrics_or_trainers():
    upward = {
        (name, i)
        for name, path in _modules().items()
        if name.startswith("collapse_sim.yolo")
        for i in _imports(path)
        if i.startswith(("collapse_sim.metrics", "collapse_sim.trainers", "collapse_sim.generators"))
    }
    assert upward == set()


def test_no_import_cycles():
    modules = _modules()
    # The package's own __init__ is a lazy facade (open_run, run, ...), never imported by the layers below
    # it except for __version__; every other edge counts, function-level imports included.
    graph = {
        name: {
            m
            for i in _imports(path)
            for m in (i, i.rpartition(".")[0])
            if m in modules and m not in (name, "collapse_sim")
        }
        for name, path in modules.items()
    }
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return trail + [node, nxt]
            if nxt not in state and (cycle := visit(nxt, trail + [node])):
                return cycle
        state[node] = 2
        return None

    cycles = [c for name in sorted(modules) if name not in state and (c := visit(name, []))]
    assert cycles == []


# What each floor may not reach up to: the role bases stand under every component, the readers under
# the reports, the text machinery beside (not above) the models.
FLOORS = {
    "collapse_sim.components": (
        "collapse_sim.metrics",
        "collapse_sim.trainers",
        "collapse_sim.generators",
        "collapse_sim.sources",
        "collapse_sim.reporting",
    ),
    "collapse_sim.rates": ("collapse_sim.reporting",),
    "collapse_sim.text": ("collapse_sim.models", "collapse_sim.trainers", "collapse_sim.reporting"),
}


def test_no_import_runs_back_up_a_floor():
    upward = {
        (name, i)
        for name, path in _modules().items()
        for floor, above in FLOORS.items()
        if name == floor or name.startswith(f"{floor}.")
        for i in _imports(path)
        if i.startswith(above)
    }
    assert upward == set()


def test_hydra_s_internals_are_read_in_the_bridge_alone():
    """``hydra._internal`` is not Hydra's API: one module reads it, and its tests pin what it reads."""
    readers = {
        name
        for name, path in _modules().items()
        if any(i.startswith("hydra._internal") for i in _imports(path))
    }
    assert readers == {"collapse_sim.hydra_bridge"}
