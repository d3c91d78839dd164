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


def test_every_parity_case_has_a_curvature_pass_and_counts():
    """Each layer's own curvature pass runs, keeps the input's shape and stays ≥ 0, and each
    layer counts itself (so a new layer with a parity case is checked here too)."""
    import torch

    from lecnn.checks import parity
    from lecnn.manual import Counts

    for case in parity.layer_cases():
        layer, _ = parity.build_pair(case, "cpu", torch.float64)
        x = torch.randn(case.shape, dtype=torch.float64)
        y = layer.forward(x)
        for name in layer.saved:
            assert hasattr(layer, name), (case.name, name)
        d2x = layer.backward_curvature(torch.rand_like(y))
        assert d2x.shape == x.shape and (d2x >= 0).all(), case.name
        assert set(layer.hess) == set(layer.params), case.name
        assert all((h >= 0).all() for h in layer.hess.values()), case.name
        assert isinstance(layer.counts(x, y), Counts)
