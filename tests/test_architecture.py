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
    """Each layer keeps from its forward exactly what ``saved`` declares; its own curvature pass runs, keeps the input's shape and stays ≥ 0, and each
    layer counts itself (so a new layer with a parity case is checked here too)."""
    import torch

    from lecnn.checks import parity
    from lecnn.manual import Counts

    for case in parity.layer_cases():
        layer, _ = parity.build_pair(case, "cpu", torch.float64)
        x = torch.randn(case.shape, dtype=torch.float64)
        before = set(vars(layer))
        y = layer.forward(x)
        kept = set(vars(layer)) - before  # what forward kept is what saved declares
        assert kept == set(layer.saved), (case.name, kept, layer.saved)
        d2x = layer.backward_curvature(torch.rand_like(y))
        assert d2x.shape == x.shape and (d2x >= 0).all(), case.name
        assert set(layer.hess) == set(layer.params), case.name
        assert all((h >= 0).all() for h in layer.hess.values()), case.name
        assert isinstance(layer.counts(x, y), Counts)


#: torch's functions and tensor methods that draw random numbers: each takes ``generator=``
DRAWS = {
    "rand", "randn", "randint", "randperm", "bernoulli", "normal", "multinomial", "poisson",
    "rand_like", "randn_like", "randint_like",
    "uniform_", "normal_", "bernoulli_", "random_", "exponential_", "geometric_", "cauchy_",
    "log_normal_",
}  # fmt: skip
#: calls that read or move a process-wide generator
GLOBAL = {"manual_seed", "seed", "set_rng_state", "get_rng_state", "initial_seed"}


def global_draws(source: str) -> list[str]:
    """The calls in ``source`` that draw from or reseed a generator nobody passed in."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        owner = func.value if isinstance(func, ast.Attribute) else None
        owner_name = getattr(owner, "id", getattr(owner, "attr", ""))
        keywords = {k.arg for k in node.keywords}
        if name in DRAWS and "generator" not in keywords:
            found.append(f"line {node.lineno}: {name}() without generator=")
        elif name in GLOBAL and owner_name in ("torch", "random", "cuda"):
            found.append(f"line {node.lineno}: {owner_name}.{name}()")
        elif (
            isinstance(owner, ast.Attribute)
            and owner.attr == "random"
            and getattr(owner.value, "id", "") in ("np", "numpy")
        ):
            found.append(f"line {node.lineno}: np.random.{name}()")
    return found


def test_the_checker_finds_global_draws():
    planted = "torch.manual_seed(0)\nx = torch.rand(3)\nw.uniform_(-1, 1)\nnp.random.seed(1)\n"
    assert len(global_draws(planted)) == 4
    assert global_draws("x = torch.rand(3, generator=g)\nw.uniform_(0, 1, generator=g)\n") == []


def test_nothing_in_lecnn_uses_the_global_generator():
    """Every random draw comes from a generator its caller owns (a run's, a check's, a lecture
    step's): no ``torch.manual_seed``, no draw without ``generator=``."""
    found = {
        str(path.relative_to(LECNN)): hits
        for path in sorted(LECNN.rglob("*.py"))
        if (hits := global_draws(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_every_layer_with_weights_defines_its_initialisation():
    """A layer with parameters says how they start (``reset_parameters(scheme, generator)``) and
    draws them from the generator it is given: the same generator state, the same weights."""
    import torch

    from lecnn.checks import parity
    from lecnn.manual import Layer

    seen = set()
    for case in parity.layer_cases():
        layer = case.make()
        if not layer.params:
            continue
        seen.add(type(layer))
        assert type(layer).reset_parameters is not Layer.reset_parameters, case.name
        for scheme in ("torch", "lenet5"):
            layer.reset_parameters(scheme, torch.Generator().manual_seed(1))
            a = {k: v.clone() for k, v in layer.params.items()}
            layer.reset_parameters(scheme, torch.Generator().manual_seed(1))
            assert all(torch.equal(a[k], layer.params[k]) for k in a), (case.name, scheme)
    assert {c.__name__ for c in seen} >= {"Linear", "Conv2d", "Subsampling"}

    class Weighted(Layer):
        def __init__(self) -> None:
            super().__init__()
            self.params["weight"] = torch.zeros(2)

    try:
        Weighted().reset_parameters("torch")
    except NotImplementedError as e:
        assert "does not define its initialisation" in str(e)
    else:
        raise AssertionError("a layer with weights and no initialisation was accepted")


MAX_FUNCTION_LINES = 60
#: functions allowed to be longer, each with its reason
LONG_FUNCTIONS = {
    "checks/parity.py:layer_cases": "a data table: one entry per layer case, nothing to split",
}


def long_functions(max_lines: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """``file:function`` → lines, for every function in lecnn longer than ``max_lines``."""
    found = {}
    for path in sorted(LECNN.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > max_lines:
                    found[f"{path.relative_to(LECNN)}:{node.name}"] = lines
    return found


def test_no_function_is_longer_than_sixty_lines_but_the_listed_tables():
    assert set(long_functions()) == set(LONG_FUNCTIONS)
    assert long_functions(5)  # the measure sees functions at all
