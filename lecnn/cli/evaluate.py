"""``lecnn evaluate`` and ``lecnn predict``: use a trained network."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from lecnn.cli.common import add_data_args
from lecnn.models import IMPLS


def add_parsers(sub) -> None:
    p = sub.add_parser("evaluate", help="test error, per-class error and confusion matrix of a run")
    p.add_argument("checkpoint", metavar="RUN_DIR_OR_CHECKPOINT")
    add_data_args(p)
    p.add_argument("--device", default="auto")
    p.add_argument("--impl", choices=list(IMPLS), help="default: the run's own")
    p.set_defaults(run=run_evaluate, dataset=None)  # default: the run's own data set

    p = sub.add_parser("predict", help="classify your own digit images")
    p.add_argument("checkpoint", metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="PNG/JPEG files, any size")
    p.add_argument("--device", default="auto")
    p.set_defaults(run=run_predict)


def run_evaluate(args: argparse.Namespace) -> int:
    from lecnn.data import load_mnist
    from lecnn.device import select_device
    from lecnn.logs.tensorboard import RunLogger
    from lecnn.training.checkpoint import resolve
    from lecnn.training.evaluate import evaluate
    from lecnn.training.inference import engine_from_checkpoint

    device = select_device(args.device)
    path = resolve(args.checkpoint)
    engine, config, step = engine_from_checkpoint(path, device, args.impl)
    data_dir = args.data_dir if args.data_dir is not None else config.data_dir
    digits = load_mnist(data_dir, dataset=args.dataset or config.dataset)
    data = config.prepare(digits, device, getattr(torch, config.dtype))
    ev = evaluate(engine, data.test)
    matrix = ev.confusion(data.test.y)
    print(
        f"{config.model} ({engine.impl}) on {len(data.test):,} test digits: "
        f"error {ev.error:.2%} ({ev.misses} misses), loss {ev.loss:.4f}"
    )
    per_class = 1 - matrix.diag().double() / matrix.sum(1).clamp(min=1).double()
    print("per-class error: " + "  ".join(f"{d}:{e:.2%}" for d, e in enumerate(per_class.tolist())))
    print("confusion matrix (rows: true digit, columns: predicted)")
    print("      " + "".join(f"{d:>6}" for d in range(10)))
    for d, row in enumerate(matrix.tolist()):
        print(f"{d:>6}" + "".join(f"{v:>6}" for v in row))
    # in its own sub-run, at the run's last update: the training's own image stays visible
    logger = RunLogger(Path(path).parent)
    logger.confusion(matrix, step, split="evaluate")
    logger.close()
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from lecnn.data.derived import TRANSFORMS
    from lecnn.data.images import load_digit
    from lecnn.device import select_device
    from lecnn.training.inference import engine_from_checkpoint

    device = select_device(args.device)
    engine, config, _ = engine_from_checkpoint(args.checkpoint, device)
    digits = torch.stack([load_digit(p) for p in args.images])
    x = TRANSFORMS[config.input or engine.spec.input](digits).to(
        device=device, dtype=getattr(torch, config.dtype)
    )
    out = engine.outputs(x)
    pred = engine.predict(out)
    for path, o, p in zip(args.images, out, pred.tolist()):
        if engine.spec.predict_min:
            scores = "distances " + " ".join(f"{d}:{v:.1f}" for d, v in enumerate(o.tolist()))
        elif engine.spec.loss == "cross-entropy":
            probs = torch.softmax(o.double(), 0).tolist()
            scores = "probabilities " + " ".join(f"{d}:{v:.3f}" for d, v in enumerate(probs))
        else:
            scores = "outputs " + " ".join(f"{d}:{v:+.2f}" for d, v in enumerate(o.tolist()))
        print(f"{path}: {p}   {scores}")
    return 0
