"""``lecnn train --resume RUN`` tells a flag given from a flag left out, for every flag the parser
builds from ``TrainConfig``: given, even with the default's value, it is applied (data, device,
compile, memory format, passes) or refused in one line when it differs from the run's own; left out, the run's
own setting stays."""

from __future__ import annotations

from dataclasses import fields

import pytest
import torch

from lecnn.cli import build_parser, main
from lecnn.errors import LecnnError
from lecnn.training.config import TrainConfig
from lecnn.training.loop import Trainer, load_data
from lecnn.training.resume import RELOCATABLE, resumed_config

#: the run being resumed: every setting away from TrainConfig's default
SAVED = dict(
    model="lecun1989", impl="manual", dataset="mnist", data_dir="/data/here", device="cpu",
    epochs=4, batch_size=4, lr=0.01, optimizer="momentum", schedule="linear", augment=True,
    weight_decay=0.001, seed=3, deterministic=False, dtype="float64", logdir="/runs/it",
    eval_every=2, log_every=5, health_every=4, limit=100, order="fixed", augment_kind="shift1", compile="off",
    memory_format="contiguous",
)  # fmt: skip
#: per flag, the command line that gives a value other than the run's (the default where it has
#: one: `--seed 0`, `--compile auto`, `--device auto` are the cases that were silently dropped)
GIVEN = {
    "model": ["--model", "lenet5-modern"], "impl": ["--impl", "autograd"],
    "dataset": ["--dataset", "kmnist"], "data_dir": ["--data-dir", "/data/there"],
    "device": ["--device", "auto"], "epochs": ["--epochs", "6"],
    "batch_size": ["--batch-size", "8"], "lr": ["--lr", "0.02"],
    "optimizer": ["--optimizer", "sgd"], "schedule": ["--schedule", "constant"],
    "augment": ["--no-augment"], "weight_decay": ["--weight-decay", "0"],
    "seed": ["--seed", "0"], "deterministic": ["--deterministic"],
    "dtype": ["--dtype", "float32"], "logdir": ["--logdir", "/runs/other"],
    "eval_every": ["--eval-every", "1"], "log_every": ["--log-every", "7"],
    "health_every": ["--health-every", "9"],
    "limit": ["--limit", "50"], "order": ["--order", "shuffle"],
    "augment_kind": ["--augment-kind", "affine"], "compile": ["--compile", "auto"],
    "recipe": ["--recipe", "fast"], "memory_format": ["--memory-format", "auto"],
}  # fmt: skip
CKPT = {"progress": {"epoch": 2}}


def _resume(argv: list[str]) -> TrainConfig:
    args = build_parser().parse_args(["train", "--resume", "/runs/it", *argv])
    names = {f.name for f in fields(TrainConfig)}
    given = {k: v for k, v in vars(args).items() if k in names}
    return resumed_config(TrainConfig(**SAVED), TrainConfig(**given), CKPT, set(given))


def test_every_flag_built_from_the_config_is_covered():
    flags = {f.name for f in fields(TrainConfig) if "flag" in f.metadata}
    assert flags == set(GIVEN)
    args = build_parser().parse_args(["train"])
    assert not flags & set(vars(args))  # a flag left out leaves nothing behind


@pytest.mark.parametrize("name", sorted(GIVEN))
def test_a_flag_given_is_applied_or_refused_and_one_left_out_keeps_the_runs(name):
    assert getattr(_resume([]), name) == SAVED.get(name)  # left out: the run's own
    argv = GIVEN[name]
    value = getattr(build_parser().parse_args(["train", *argv]), name)
    if name in (*RELOCATABLE, "epochs"):
        assert getattr(_resume(argv), name) == value  # given: applied
    else:
        with pytest.raises(LecnnError, match=f"--{name.replace('_', '-')}"):
            _resume(argv)  # given, and not the run's: refused


def test_resume_with_seed_0_given_is_refused_on_the_command_line(mnist_dir, tmp_path, capsys):
    cfg = TrainConfig(model="lecun1989", device="cpu", epochs=1, limit=32, batch_size=8, seed=3,
                      data_dir=str(mnist_dir), logdir=str(tmp_path / "run"))  # fmt: skip
    Trainer(cfg, data=load_data(cfg, torch.device("cpu"), torch.float32), progress_bar=False).run()
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "run"), "--seed", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--seed 0" in err[0] and "--seed 3" in err[0], err


def test_flags_written_as_a_command_line_build_the_config_lecnn_train_builds():
    """Benchmarks time lecnn runs written as ``lecnn train`` flags: the same parser reads them,
    a recipe brings its model, and a flag it does not know exits 2 in one line."""
    from lecnn.cli.train import config_from_flags
    from lecnn.training.config import RECIPES

    cfg = config_from_flags(["--recipe", "fast", "--impl", "manual", "--lr", "3e-3"])
    assert (cfg.model, cfg.impl, cfg.lr) == (RECIPES["fast"]["model"], "manual", 3e-3)
    assert cfg.epochs is None  # left out: the recipe's, resolved later
    assert config_from_flags(["--model", "lenet5", "--recipe", "fast"]).model == "lenet5"
    with pytest.raises(SystemExit) as stop:
        config_from_flags(["--epochs", "zero"])
    assert stop.value.code == 2
