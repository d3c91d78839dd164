"""``lecnn gradcheck``, ``lecnn models`` and ``lecnn data``: look inside without training."""

from __future__ import annotations

import argparse

import torch

from lecnn.cli.common import add_data_args

TOLERANCE = {"float64": 1e-10, "float32": 1e-5}


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "gradcheck",
        help="check every piece of hand-written math: layers, losses, curvature, optimizers",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float64", choices=list(TOLERANCE))
    p.set_defaults(run=run_gradcheck)

    p = sub.add_parser("models", help="list the models with their sizes and training defaults")
    p.set_defaults(run=run_models)

    p = sub.add_parser(
        "diagnose",
        help="say what is wrong with a run, layer by layer, from its health record",
        description="Read RUN_DIR/health.jsonl (written by lecnn train) and say, per layer and "
        "pass, what is wrong in plain words with the figure that shows it and one line of advice "
        "each: saturated or dead units, a vanishing Δ, steps too large, divergence. Exit 0 "
        "healthy, 1 a problem found, 2 not a run or no health record.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.set_defaults(run=run_diagnose)

    p = sub.add_parser("data", help="load and verify a data set, and say what was found")
    add_data_args(p)
    p.set_defaults(run=run_data)


def run_gradcheck(args: argparse.Namespace) -> int:
    from lecnn.checks import parity
    from lecnn.checks.curvature import curvature_rows
    from lecnn.checks.optimizers import optimizer_rows
    from lecnn.device import describe_device, select_device

    device = select_device(args.device)
    dtype = getattr(torch, args.dtype)
    tol = TOLERANCE[args.dtype]
    print(
        f"hand-written math vs references on {describe_device(device)}, {args.dtype}: layers and "
        f"losses vs autograd, curvature vs exact Gauss–Newton, optimizers vs torch.optim; "
        f"pass: max rel error ≤ {tol:g}"
    )
    print(f"{'layer':38s} {'tensor':10s} {'max abs err':>12s} {'max rel err':>12s}  result")
    failures = 0
    rows: list[parity.Row] = []
    for layer_case in parity.layer_cases():
        rows += parity.layer_parity(layer_case, device, dtype)
    for loss_case in parity.loss_cases():
        rows += parity.loss_parity(loss_case, device, dtype)
    rows += curvature_rows(dtype)  # against exact Gauss–Newton (autograd), on the CPU
    rows += optimizer_rows(device, dtype)  # against torch.optim
    for r in rows:
        ok = r.max_rel <= tol
        failures += not ok
        print(
            f"{r.case:38s} {r.tensor:10s} {r.max_abs:12.3e} {r.max_rel:12.3e}  {'pass' if ok else 'FAIL'}"
        )
    print(f"{len(rows) - failures} passed, {failures} failed")
    return 1 if failures else 0


def run_models(args: argparse.Namespace) -> int:
    import inspect

    from lecnn.models import MODELS, count
    from lecnn.models.spec import WITH_OPTIONS

    for name, spec in MODELS.items():
        d = spec.defaults
        print(f"{name}: {spec.description}")
        print(f"    {count(spec)}; input {spec.input}, loss {spec.loss}")
        print(
            f"    defaults: {d.epochs} passes, batch {d.batch_size}, {d.optimizer} lr {d.lr:g}, "
            f"schedule {d.schedule}{', augmented' if d.augment else ''}"
        )
        if name in WITH_OPTIONS:
            params = inspect.signature(WITH_OPTIONS[name]).parameters.values()
            shown = ", ".join(f"{p.name}={p.default}" for p in params if p.name != "name")
            print(f"    options ({name}:KEY=VALUE,...): {shown}")
    _shipped()
    return 0


def _shipped() -> None:
    """The trained networks that ship with lecnn (``--weights NAME``, lecnn.models.pretrained)."""
    from lecnn.models.shipped import default_name, shipped

    available = shipped()
    if not available:
        return
    print("\nshipped weights (lecnn predict/evaluate --weights NAME; lecnn.models.pretrained):")
    default = default_name()
    for entry in available.values():
        print(f"  {entry.line()}{'  [default]' if entry.name == default else ''}")


def run_data(args: argparse.Namespace) -> int:
    from lecnn.data import load_mnist

    digits = load_mnist(args.data_dir, dataset=args.dataset)
    print(digits.summary())
    x = digits.train_images.double() / 255
    print(f"training pixel mean {x.mean():.4f}, std {x.std():.4f}")
    return 0


def run_diagnose(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lecnn.logs.diagnose import ADVICE, by_pass, diagnose, read_record, summary

    samples = read_record(Path(args.run_dir))
    passes = by_pass(samples)
    print(f"{args.run_dir}: {len(samples)} health samples over {len(passes)} pass(es), "
          f"updates {samples[0]['step']}–{samples[-1]['step']}")  # fmt: skip
    findings = diagnose(samples)
    if not findings:
        print(f"healthy: {summary(samples)}")
        return 0
    for f in findings:
        print(f.text)
        print(f"  advice: {ADVICE[f.kind]}")
    print(f"{len(findings)} problem(s) found")
    return 1
