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


def module_imports(root: Path = LECNN) -> dict[str, set[str]]:
    """{module: the lecnn modules it imports}, every import read (lazy and ``TYPE_CHECKING`` ones
    included); ``from lecnn.x import y`` counts as importing ``lecnn.x.y`` when that is a module."""
    files = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package, up level - 1
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                found |= {
                    f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names
                }
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The modules that import each other, directly or round a loop (strongly connected parts
    of more than one module), each sorted."""
    order, low, stack, cycles = {}, {}, [], []

    def visit(v: str) -> None:
        order[v] = low[v] = len(order)
        stack.append(v)
        for w in graph[v]:
            if w not in order:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], order[w])
        if low[v] == order[v]:
            part = stack[stack.index(v) :]
            del stack[stack.index(v) :]
            if len(part) > 1:
                cycles.append(sorted(part))

    for v in sorted(graph):
        if v not in order:
            visit(v)
    return sorted(cycles)


def test_the_cycle_finder_finds_planted_loops(tmp_path):
    pkg = tmp_path / "lecnn"
    (pkg / "training").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "training" / "__init__.py").write_text("")
    (pkg / "training" / "loop.py").write_text("from lecnn.training.lockstep import run_pass\n")
    (pkg / "training" / "lockstep.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .loop import Trainer\n"
    )
    (pkg / "training" / "alone.py").write_text("from lecnn.training import loop\n")
    cycles = import_cycles(module_imports(pkg))
    assert cycles == [["lecnn.training.lockstep", "lecnn.training.loop"]]


def test_no_two_modules_import_each_other():
    graph = module_imports()
    assert graph["lecnn.training.loop"]  # the reader sees imports at all
    assert import_cycles(graph) == []


def private_methods(source: str) -> set[str]:
    """The underscore methods (not dunders) the classes of ``source`` define."""
    return {
        f.name
        for c in ast.walk(ast.parse(source))
        if isinstance(c, ast.ClassDef)
        for f in c.body
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
        and f.name.startswith("_")
        and not f.name.endswith("__")
    }


def foreign_private_calls(sources: dict[str, str]) -> list[str]:
    """``file:line: obj._name`` wherever a file reaches for an underscore method that a class of
    another file defines and none of its own (``self``/``cls``/``super()`` aside)."""
    own = {name: private_methods(text) for name, text in sources.items()}
    found = []
    for name, text in sources.items():
        others = set().union(*(m for n, m in own.items() if n != name)) - own[name]
        for node in ast.walk(ast.parse(text)):
            if not (isinstance(node, ast.Attribute) and node.attr in others):
                continue
            value = node.value
            if isinstance(value, ast.Name) and value.id in ("self", "cls"):
                continue
            if isinstance(value, ast.Call) and getattr(value.func, "id", "") == "super":
                continue
            found.append(f"{name}:{node.lineno}: .{node.attr}")
    return sorted(found)


def test_the_private_call_finder_finds_planted_calls():
    sources = {
        "loop.py": "class Trainer:\n    def _apply(self, c):\n        return self._took(c)\n"
        "    def _took(self, c):\n        return c\n",
        "grouped.py": "def run(m, c):\n    return m._apply(c)\nf = lambda m: m._took\n",
    }
    assert foreign_private_calls(sources) == ["grouped.py:2: ._apply", "grouped.py:3: ._took"]


def test_no_file_calls_another_files_private_methods():
    """What one file's class offers another is its public interface; an underscore method is
    its own (lecnn and the scripts)."""
    root = LECNN.parent
    paths = [*LECNN.rglob("*.py"), *(root / "scripts").glob("*.py")]
    sources = {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in sorted(paths)}
    assert any(private_methods(s) for s in sources.values())  # the measure sees them at all
    assert foreign_private_calls(sources) == []


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
    """A layer with parameters is a ``WeightedLayer``: it says how they start
    (``reset_parameters(scheme, generator)``, abstract there) and draws them from the generator it
    is given: the same generator state, the same weights. A layer without is not one."""
    import torch

    from lecnn.checks import parity
    from lecnn.manual import WeightedLayer

    seen = set()
    for case in parity.layer_cases():
        layer = case.make()
        assert isinstance(layer, WeightedLayer) == bool(layer.params), case.name
        if not layer.params:
            continue
        seen.add(type(layer))
        for scheme in ("torch", "lenet5"):
            layer.reset_parameters(scheme, torch.Generator().manual_seed(1))
            a = {k: v.clone() for k, v in layer.params.items()}
            layer.reset_parameters(scheme, torch.Generator().manual_seed(1))
            assert all(torch.equal(a[k], layer.params[k]) for k in a), (case.name, scheme)
    assert {c.__name__ for c in seen} >= {"Linear", "Conv2d", "Subsampling"}


def test_a_layer_missing_part_of_the_contract_cannot_be_made():
    """``Layer`` and ``Loss`` are abstract: a class without ``backward`` (or ``forward``), or a
    weighted layer without ``reset_parameters``, fails when it is instantiated, not mid-run."""
    import pytest
    import torch

    from lecnn.manual import Layer, Loss, WeightedLayer

    class NoBackward(Layer):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    class NoInit(WeightedLayer):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

        def backward(self, dy: torch.Tensor) -> torch.Tensor:
            return dy

    class NoLossBackward(Loss):
        def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return pred.sum()

    for cls, missing in ((NoBackward, "backward"), (NoInit, "reset_parameters"),
                         (NoLossBackward, "backward")):  # fmt: skip
        with pytest.raises(TypeError, match=missing):
            cls()


def manual_layer_classes() -> list[type]:
    """Every concrete subclass of ``Layer`` defined in lecnn.manual (registered or not)."""
    import inspect

    from lecnn.manual import Layer

    found, todo = [], list(Layer.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("lecnn.manual") and not inspect.isabstract(cls):
            found.append(cls)
    return found


def test_every_concrete_layer_has_the_whole_contract_on_itself():
    """forward, backward and the curvature pass are the class's own (or a base's of its own
    module, as ``Activation`` derives both passes back from ``slope``), never ``Layer``'s
    placeholder; and a layer is one file: every class it is built from, outside base.py, lives
    in its module, and no module of losses holds a layer."""
    from lecnn.manual import Layer, Loss

    classes = manual_layer_classes()
    assert {c.__name__ for c in classes} >= {"Conv2d", "ReLU", "RBFOutput", "Sequential"}
    for cls in classes:
        for method in ("forward", "backward", "backward_curvature"):
            owner = next(k for k in cls.__mro__ if method in vars(k))
            assert owner is not Layer, f"{cls.__name__}.{method} is Layer's placeholder"
        for base in cls.__mro__:
            if (
                base.__module__.startswith("lecnn.manual")
                and base.__module__ != "lecnn.manual.base"
            ):
                assert base.__module__ == cls.__module__, (cls.__name__, base.__name__)
    losses = {c.__module__ for c in Loss.__subclasses__()}
    assert not losses & {c.__module__ for c in classes}, "a layer sits in a module of losses"


#: what computes a derivative for you: autograd itself and the functional transforms, by name;
#: the framework's kernels (``torch.ops.aten.*``, ``torch._C``, ``torch.nn.grad``) by their path
BORROWED = ("autograd", "requires_grad", "requires_grad_", "enable_grad", "vjp", "jvp", "jacrev",
            "jacfwd", "grad_fn")  # fmt: skip
KERNEL_PATHS = ("ops.aten", "torch._C", "nn.grad", "torch.ops")


def dotted(node: ast.AST) -> str:
    """``a.b.c`` for an attribute chain (calls and subscripts in it read as their callee)."""
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    if isinstance(node, (ast.Call, ast.Subscript)):
        return dotted(node.func if isinstance(node, ast.Call) else node.value)
    return getattr(node, "id", "")


def borrowed_derivatives(source: str) -> list[str]:
    """Lines of ``source`` that name autograd or reach into the framework's kernels."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            path = dotted(node)
            if node.attr in BORROWED or any(k in path for k in KERNEL_PATHS):
                found.append(f"line {node.lineno}: {path}")
        elif isinstance(node, ast.Name) and node.id in BORROWED:
            found.append(f"line {node.lineno}: {node.id}")
    return found


def test_the_derivative_checker_finds_planted_borrowings():
    planted = (
        "dx, dw, _ = torch.ops.aten.convolution_backward(dy, a, w)\n"
        "class F(torch.autograd.Function): pass\n"
        "x.requires_grad_(True)\n"
        "g = torch.func.vjp(f, x)\n"
    )
    assert len({hit.split(":")[0] for hit in borrowed_derivatives(planted)}) == 4  # each line
    plain = "dx = F.conv_transpose2d(dy, w)\ny = layer.backward(dy)\nz = self._backward_conv(d)\n"
    assert borrowed_derivatives(plain) == []


def test_no_derivative_kernel_or_autograd_in_the_manual_package():
    """``lecnn.manual`` writes every backward with forward operations: it names no part of
    autograd and calls no ``*_backward`` kernel (the bridge that carries a manual layer inside
    autograd for gradcheck lives in lecnn/checks)."""
    found = {
        str(path.relative_to(LECNN)): hits
        for path in sorted((LECNN / "manual").rglob("*.py"))
        if (hits := borrowed_derivatives(path.read_text(encoding="utf-8")))
    }
    assert found == {}


MAX_FUNCTION_LINES = 40
#: functions allowed to be longer, each with its reason: data tables only
LONG_FUNCTIONS = {
    "checks/parity.py:layer_cases": "a data table: one entry per layer case, nothing to split",
    "lecture/slide.py:_claims": "a data table: one entry per claim of the slide",
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


def test_no_function_is_longer_than_forty_lines_but_the_listed_tables():
    assert set(long_functions()) == set(LONG_FUNCTIONS)
    assert long_functions(5)  # the measure sees functions at all


def named_lines(text: str) -> list[tuple[str, str, int]]:
    """(code, file, line) for every "`code` at `file:line`" in ``text``."""
    import re

    pattern = re.compile(r"`([^`]+)`\s+at\s+`(lecnn/[\w/]+\.py):(\d+)`")
    return [(m[1], m[2], int(m[3])) for m in pattern.finditer(" ".join(text.split()))]


def test_the_path_of_one_update_in_the_docs_names_real_lines():
    """docs/architecture.md walks one update call by call with file:line: each named line holds
    the call it names, and from ``lecnn train`` to the optimizer's step is at most four calls."""
    root = LECNN.parent
    text = (root / "docs" / "architecture.md").read_text(encoding="utf-8")
    path = text[text.index("## The path of one update") :]
    named = named_lines(path)
    assert len(named) >= 5
    for code, file, line in named:
        source = (root / file).read_text(encoding="utf-8").splitlines()
        assert code in source[line - 1], f"{file}:{line} does not hold {code!r}"
    steps = [c for c, f, _ in named if f != "lecnn/manual/optim.py"]
    assert len(steps) <= 4 and steps[-1].startswith("opt.step(")


def test_the_line_checker_catches_a_moved_line():
    assert named_lines("`x = 1` at `lecnn/a.py:3` and\n`y` at `lecnn/b/c.py:10`") == [
        ("x = 1", "lecnn/a.py", 3),
        ("y", "lecnn/b/c.py", 10),
    ]
