"""``lecnn evaluate`` and ``lecnn predict``: use a trained network."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from lecnn.cli.common import add_data_args
from lecnn.models import IMPLS


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="test error, per-class error and confusion matrix of a run or of shipped "
        "weights"
    )  # fmt: skip
    p.add_argument("checkpoint", nargs="?", metavar="RUN_DIR_OR_CHECKPOINT")
    add_data_args(p)
    p.add_argument("--device", default="auto")
    p.add_argument("--impl", choices=list(IMPLS), help="default: the run's own (weights: autograd)")
    _weights_flag(p)
    p.set_defaults(run=run_evaluate, dataset=None)  # default: the run's own data set

    p = sub.add_parser(
        "predict", help="classify your own digit images (with the shipped LeNet-5, or a run)"
    )
    p.add_argument(
        "paths", nargs="+", metavar="[RUN_DIR_OR_CHECKPOINT] IMAGE",
        help="PNG/JPEG files, any size; first a run folder or checkpoint.pt to use that network "
        "instead of the shipped one",
    )  # fmt: skip
    p.add_argument("--device", default="auto")
    _weights_flag(p)
    p.set_defaults(run=run_predict)


def _weights_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--weights", metavar="NAME", help="a network shipped with lecnn (lecnn models lists them)"
    )


def _network(args: argparse.Namespace, run: str | None, device: torch.device):
    """(engine, config, run folder or None, provenance or None): the run's network, or the
    shipped one (``--weights NAME``, or the default when no run is given)."""
    from lecnn.errors import LecnnError
    from lecnn.training.checkpoint import resolve
    from lecnn.training.inference import engine_from_checkpoint, engine_from_weights

    if run is not None and args.weights is not None:
        raise LecnnError("give a run folder or checkpoint, or --weights NAME, not both")
    impl = getattr(args, "impl", None)
    if run is None:
        engine, config, entry = engine_from_weights(args.weights, device, impl or "autograd")
        return engine, config, None, entry
    path = resolve(run)
    engine, config, step = engine_from_checkpoint(path, device, impl)
    return engine, config, (path, step), None


def run_evaluate(args: argparse.Namespace) -> int:
    from lecnn.data import load_mnist
    from lecnn.device import select_device
    from lecnn.logs.tensorboard import RunLogger
    from lecnn.training.evaluate import evaluate

    device = select_device(args.device)
    engine, config, run, entry = _network(args, args.checkpoint, device)
    data_dir = args.data_dir if args.data_dir is not None else config.data_dir
    digits = load_mnist(data_dir, dataset=args.dataset or config.dataset)
    data = config.prepare(digits, device, getattr(torch, config.dtype))
    ev = evaluate(engine, data.test)
    matrix = ev.confusion(data.test.y)
    print(
        f"{config.model} ({engine.impl}) on {len(data.test):,} test digits: "
        f"error {ev.error:.2%} ({ev.misses} misses), loss {ev.loss:.4f}"
    )
    if entry is not None:
        print(f"shipped weights {entry.name}: {entry.test_misses} misses when trained "
              f"({entry.protocol}, {entry.impl}, seed {entry.seed}, commit {entry.commit[:7]})")  # fmt: skip
    per_class = 1 - matrix.diag().double() / matrix.sum(1).clamp(min=1).double()
    print("per-class error: " + "  ".join(f"{d}:{e:.2%}" for d, e in enumerate(per_class.tolist())))
    print("confusion matrix (rows: true digit, columns: predicted)")
    print("      " + "".join(f"{d:>6}" for d in range(10)))
    for d, row in enumerate(matrix.tolist()):
        print(f"{d:>6}" + "".join(f"{v:>6}" for v in row))
    if run is not None:  # in its own sub-run, at the run's last update: the training's stays
        logger = RunLogger(Path(run[0]).parent)
        logger.confusion(matrix, run[1], split="evaluate")
        logger.close()
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from lecnn.data.derived import TRANSFORMS
    from lecnn.data.images import load_digit
    from lecnn.device import select_device
    from lecnn.errors import LecnnError

    device = select_device(args.device)
    first = Path(args.paths[0])
    run = args.paths[0] if first.is_dir() or first.suffix == ".pt" else None
    images = args.paths[1:] if run is not None else args.paths
    if not images:
        raise LecnnError("no image given: lecnn predict [RUN_DIR_OR_CHECKPOINT] IMAGE...")
    engine, config, _, _ = _network(args, run, device)
    digits = torch.stack([load_digit(p) for p in images])
    x = TRANSFORMS[config.input or engine.spec.input](digits).to(
        device=device, dtype=getattr(torch, config.dtype)
    )
    out = engine.outputs(x)
    pred = engine.predict(out)
    for path, o, p in zip(images, out, pred.tolist()):
        if engine.spec.predict_min:
            scores = "distances " + " ".join(f"{d}:{v:.1f}" for d, v in enumerate(o.tolist()))
        elif engine.spec.loss == "cross-entropy":
            probs = torch.softmax(o.double(), 0).tolist()
            scores = "probabilities " + " ".join(f"{d}:{v:.3f}" for d, v in enumerate(probs))
        else:
            scores = "outputs " + " ".join(f"{d}:{v:+.2f}" for d, v in enumerate(o.tolist()))
        print(f"{path}: {p}   {scores}")
    return 0
