"""``lecnn train``: train a model on MNIST with either implementation."""

from __future__ import annotations

import argparse
import os
import sys

from lecnn.cli.common import add_data_args, add_device_args, number, whole_number
from lecnn.device import describe_device
from lecnn.models import IMPLS, MODELS, count
from lecnn.training.config import COMPILE_CHOICES, DTYPES, OPTIMIZERS, RECIPES, TrainConfig


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a LeNet on MNIST",
        description="Train a model on MNIST. Flags left out take the model's defaults "
        "(lecnn models lists them).",
    )
    p.add_argument(
        "--model",
        metavar="MODEL",
        help=f"{', '.join(MODELS)} (default: lenet5-modern, or the recipe's); lenet5 takes "
        "options, e.g. lenet5:init=printed,subsampling=sum (lecnn models lists them)",
    )
    p.add_argument(
        "--recipe",
        choices=list(RECIPES),
        help="a named set of settings: fast = the least training time to 99%% test accuracy "
        "(lenet5-modern; flags given here still win)",
    )
    p.add_argument(
        "--impl",
        default="autograd",
        choices=list(IMPLS),
        help="hand-written backprop (manual) or torch autograd",
    )
    add_data_args(p)
    add_device_args(p)
    p.add_argument("--epochs", type=whole_number, help="passes over the training set")
    p.add_argument(
        "--batch-size", type=whole_number, help="examples per update (1 = per-example SGD)"
    )
    p.add_argument("--lr", type=number, help="learning rate α (finite, > 0)")
    p.add_argument(
        "--optimizer",
        metavar="OPTIMIZER",
        help=f"{', '.join(OPTIMIZERS)}; sdlm takes options: sdlm:mu=0.02,samples=500 (the paper's)",
    )
    p.add_argument(
        "--schedule",
        help="constant, inverse[:TAU] (α/(1+t/τ)), linear, cosine (to 0 over the run), "
        "passlinear:F (by pass, to F·α), or steps:PASSESxRATE,... (e.g. steps:2x0.0005,3x0.0002)",
    )
    p.add_argument("--weight-decay", type=number)
    p.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random affine distortions on the device",
    )
    p.add_argument(
        "--augment-kind",
        metavar="KIND",
        help="paper: the 1998 paper's distortions (shifts, scaling, squeezing, horizontal "
        "shearing; options strength, translate, scale, squeeze, shear, e.g. paper:strength=0.5); "
        "affine: stronger ones with rotation; shift1: ±1-pixel shifts",
    )
    p.add_argument("--order", choices=["shuffle", "fixed"], help="example order in each pass")
    p.add_argument("--dtype", default="float32", choices=list(DTYPES))
    p.add_argument(
        "--compile",
        default="auto",
        choices=list(COMPILE_CHOICES),
        help="run each update as one compiled program (torch.compile on the CPU, CUDA graphs on "
        "a GPU); auto: where it pays, i.e. long per-example CPU runs and long CUDA runs",
    )
    p.add_argument(
        "--logdir",
        metavar="RUN_DIR",
        help="this run's own folder, created if needed: TensorBoard events (sub-runs train/ and "
        "test/), checkpoint.pt, results.json (default runs/<model>-<impl>-<timestamp>); view it "
        "with tensorboard --logdir RUN_DIR, or its parent folder to compare runs",
    )
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a run from its checkpoint; with --epochs N, extend it to N passes "
        "(--data-dir, --device and --compile may change, other settings stay the run's own)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run that --logdir already holds (its checkpoint, results and events)",
    )
    p.add_argument("--eval-every", type=whole_number, default=1, help="test every N passes")
    p.add_argument(
        "--log-every",
        type=whole_number,
        help="updates between TensorBoard's step-level train loss/error points "
        "(default: about 300 points per run)",
    )
    p.add_argument("--limit", type=whole_number, help="train on the first N training digits only")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from lecnn.training.loop import Trainer

    config = TrainConfig(
        model=args.model or (RECIPES[args.recipe]["model"] if args.recipe else "lenet5-modern"),
        recipe=args.recipe,
        impl=args.impl,
        dataset=args.dataset,
        data_dir=args.data_dir,
        device=args.device,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        schedule=args.schedule,
        augment=args.augment,
        weight_decay=args.weight_decay,
        seed=args.seed,
        deterministic=args.deterministic,
        dtype=args.dtype,
        logdir=args.logdir,
        eval_every=args.eval_every,
        log_every=args.log_every,
        limit=args.limit,
        augment_kind=args.augment_kind,
        order=args.order,
        compile=args.compile,
    )
    trainer = Trainer(  # checks the settings and the device before it loads any data
        config,
        resume=args.resume,
        overwrite=args.overwrite,
        progress_bar=False if args.no_progress else None,
    )
    cfg = trainer.config
    if not trainer.main:  # under torchrun rank 0 speaks for the run
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the life of this process)
    if args.device == "auto":
        print(f"device: auto picked {describe_device(trainer.device)}")
    print(
        f"data: {len(trainer.data.train):,} training / {len(trainer.data.test):,} test digits ({trainer.data.input})"
    )
    print(f"model: {cfg.model} ({cfg.impl}): {count(cfg.model)}")
    print(
        f"training: {cfg.epochs} passes, batch {cfg.batch_size}, {cfg.optimizer} lr {cfg.lr:g}, "
        f"{'compiled' if trainer.compiled else 'eager'} updates, "
        f"schedule {trainer.schedule!r}{', augmented' if cfg.augment else ''}; run folder {trainer.run_dir}"
    )
    result = trainer.run()
    r = result.results
    if result.status == "interrupted":
        print(
            f"interrupted at pass {trainer.progress.epoch + 1}, update {r['steps']}: checkpoint saved; "
            f"continue with: lecnn train --resume {result.run_dir}"
        )
        return 130
    f = r["final"]
    print(
        f"done: {cfg.model}/{cfg.impl} test error {f['test_error']:.2%} ({f['test_misses']} misses), "
        f"train error {f['train_error']:.2%}, {r['epochs_done']} passes in {r['train_seconds']:.1f} s "
        f"of training on {r['device']}; results in {result.run_dir / 'results.json'}; "
        f"view with: tensorboard --logdir {result.run_dir.parent} (all runs there) or "
        f"tensorboard --logdir {result.run_dir} (this run)"
    )
    return 0
