"""``lecnn train``: train a model on MNIST with either implementation."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields
from typing import TYPE_CHECKING

from lecnn.cli import many
from lecnn.cli.common import Parser, add_config_flags, passes
from lecnn.device import describe_device
from lecnn.models import count
from lecnn.training.config import RECIPES, TrainConfig
from lecnn.training.interrupt import exit_status, signal_name
from lecnn.training.resume import MAY_CHANGE

if TYPE_CHECKING:
    from lecnn.training.loop import Trainer


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a LeNet on MNIST",
        description="Train a model on MNIST. Flags left out take the model's defaults "
        "(lecnn models lists them).",
    )
    add_config_flags(p, given_only=True)  # every TrainConfig setting, from its field
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a run from its checkpoint; with --epochs N, extend it to N passes "
        f"({MAY_CHANGE} may change, other settings stay the run's own)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run that --logdir already holds (its checkpoint, results and events)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    many.add_flags(p)
    p.set_defaults(run=run)


def given_settings(args: argparse.Namespace) -> dict:
    """The TrainConfig settings among ``args`` that were given (no others); a recipe brings its
    model unless one was given."""
    names = {f.name for f in fields(TrainConfig)}
    given = {k: v for k, v in vars(args).items() if k in names}
    if "model" not in given and "recipe" in given:
        given["model"] = RECIPES[given["recipe"]]["model"]
    return given


def config_from_flags(argv: list[str]) -> TrainConfig:
    """The TrainConfig that ``lecnn train`` would build from these flags (for benchmarks that
    time lecnn runs written as command lines)."""
    p = Parser(prog="lecnn train")
    add_config_flags(p, given_only=True)
    return TrainConfig(**given_settings(p.parse_args(argv)))


def run(args: argparse.Namespace) -> int:
    from lecnn.training.loop import Trainer

    given = given_settings(args)
    config = TrainConfig(**given)
    if many.wanted(args):
        return many.run_many(args, config, set(given))
    trainer = Trainer(  # checks the settings and the device before it loads any data
        config,
        resume=args.resume,
        given=set(given),
        overwrite=args.overwrite,
        progress_bar=False if args.no_progress else None,
    )
    if not trainer.setup.ranks.main:  # under torchrun rank 0 speaks for the run
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the life of this process)
    _announce(trainer)
    result = trainer.run()
    cfg, r = trainer.config, result.results
    if result.status == "interrupted":
        print(
            f"stopped by {signal_name(trainer.stop_signal)} at pass {trainer.progress.epoch + 1}, "
            f"update {r['steps']}: checkpoint saved; continue with: lecnn train --resume {result.run_dir}"
        )
        return exit_status(trainer.stop_signal)
    f = r["final"]
    print(
        f"done: {cfg.model}/{cfg.impl} test error {f['test_error']:.2%} ({f['test_misses']} misses), "
        f"train error {f['train_error']:.2%}, {passes(r['epochs_done'])} in {r['train_seconds']:.1f} s "
        f"of training on {r['device']}; results in {result.run_dir / 'results.json'}; "
        f"view with: tensorboard --logdir {result.run_dir.parent} (all runs there) or "
        f"tensorboard --logdir {result.run_dir} (this run)"
    )
    return 0


def _announce(trainer: Trainer) -> None:
    """What is about to be trained: device, data, model, settings, run folder."""
    cfg = trainer.config
    if cfg.device == "auto":
        print(f"device: auto picked {describe_device(trainer.device)}")
    print(
        f"data: {len(trainer.data.train):,} training / {len(trainer.data.test):,} test digits ({trainer.data.input})"
    )
    print(f"model: {cfg.model} ({cfg.impl}): {count(cfg.model)}")
    print(
        f"training: {passes(cfg.epochs)}, batch {cfg.batch_size}, {cfg.optimizer} lr {cfg.lr:g}, "
        f"{'compiled' if trainer.compiled else 'eager'} updates"
        f"{' (channels-last)' if trainer.engine.is_channels_last else ''}, "
        f"schedule {trainer.setup.schedule!r}{', augmented' if cfg.augment else ''}; run folder {trainer.run_dir}"
    )
