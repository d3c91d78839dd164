"""The package layering the README describes, checked from the source: data → layers (manual, nn)
→ models → checks/training → logging → command line. Every ``import lecnn.X`` is read with ast
(lazy imports inside functions included): ``lecnn.manual`` imports nothing from lecnn but itself,
and no two packages import each other, directly or round a longer loop."""

from __future__ import annotations

import ast
from pathlib import Path

LECNN = Path(__file__).resolve().parent.parent / "lecnn"


def package_imports() -> dict[str, set[str]]:
    """{package: the other lecnn packages it imports}; top-level modules count as packages."""
    graph: dict[str, set[str]] = {}
    for path in LECNN.rglob("*.py"):
        rel = path.relative_to(LECNN)
        pkg = rel.parts[0].removesuffix(".py")
        graph.setdefault(pkg, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
                if node.module == "lecnn":
                    names = [f"lecnn.{a.name}" for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "lecnn" and len(parts) > 1 and parts[1] not in (pkg, "__version__"):
                    graph[pkg].add(parts[1])
    return graph


def test_manual_imports_nothing_above_it():
    assert package_imports()["manual"] == set()


def test_no_import_cycles_between_packages():
    graph = package_imports()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(p for p in graph if reaches(p, p, {p}))
    assert cycles == [], {p: sorted(graph[p]) for p in cycles}


def test_layers_register_themselves_and_have_twins():
    from lecnn import manual as M
    from lecnn import nn as lnn

    assert set(M.LAYERS) == set(lnn.TWINS)  # every hand-written layer has an autograd twin
    for kind, layer in M.LAYERS.items():
        assert layer.kind == kind and layer.__doc__
