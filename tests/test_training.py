"""Training on real MNIST with both implementations: errors reached, step-by-step agreement,
TensorBoard events, results.json, resume, divergence, bad arguments, checkpoints."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import torch
from conftest import DEVICES

from lecnn.cli import main
from lecnn.errors import LecnnError
from lecnn.models import get_spec
from lecnn.training.checkpoint import load_checkpoint
from lecnn.training.config import TrainConfig
from lecnn.training.loop import Diverged, Trainer, load_data, train


@pytest.fixture(scope="module")
def data28(mnist_dir):
    return load_data(TrainConfig(data_dir=str(mnist_dir)), torch.device("cpu"), torch.float32)


@pytest.fixture(scope="module")
def data16(mnist_dir):
    return load_data(
        TrainConfig(model="lecun1989", data_dir=str(mnist_dir)), torch.device("cpu"), torch.float32
    )


@pytest.mark.parametrize("impl", ["autograd", "manual"])
def test_lenet5_modern_one_pass(impl, data28, tmp_path):
    cfg = TrainConfig(impl=impl, device="cpu", epochs=1, logdir=str(tmp_path / impl))
    r = train(cfg, data=data28, progress_bar=False)
    assert r.status == "finished"
    assert r.results["final"]["test_error"] < 0.03  # one pass of Adam: about 2%


@pytest.mark.parametrize("impl", ["autograd", "manual"])
def test_lecun1989_one_pass(impl, data16, tmp_path):
    cfg = TrainConfig(
        model="lecun1989", impl=impl, device="cpu", epochs=1, logdir=str(tmp_path / impl)
    )
    r = train(cfg, data=data16, progress_bar=False)
    assert r.results["final"]["test_error"] < 0.15  # one pass of per-example SGD: about 11%
    assert r.results["steps"] == 7291


def _losses(impl, data, tmp_path, **kw):
    cfg = TrainConfig(
        impl=impl, device="cpu", dtype="float64", epochs=1, logdir=str(tmp_path / impl), **kw
    )
    trainer = Trainer(cfg, data=data, progress_bar=False)
    losses = []
    trainer.run(on_step=lambda step, loss: losses.append(float(loss)))
    return torch.tensor(losses, dtype=torch.float64)


@pytest.mark.parametrize(
    "model, kw",
    [
        ("lecun1989", {"limit": 300}),
        ("lenet5-modern", {"limit": 3200, "batch_size": 16}),
        ("lenet1", {"limit": 300}),  # SDLM, per example, as the 1998 comparison
        ("lenet4", {"limit": 300}),
    ],
)
def test_manual_and_autograd_agree_step_by_step(model, kw, mnist_dir, tmp_path):
    cfg = TrainConfig(model=model, data_dir=str(mnist_dir))
    data = load_data(cfg, torch.device("cpu"), torch.float64)
    a = _losses("autograd", data, tmp_path, model=model, **kw)
    m = _losses("manual", data, tmp_path, model=model, **kw)
    assert len(a) == len(m) >= 200
    rel = ((a - m).abs() / a.abs().clamp(min=1e-12)).max().item()
    assert rel < 1e-9, f"max relative loss difference {rel:.2e} over {len(a)} steps"
    assert m[-50:].mean() < m[:50].mean()  # and it learns


def test_cli_run_writes_results_events_and_checkpoint(mnist_dir, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(
        [
            "train",
            "--data-dir",
            str(mnist_dir),
            "--device",
            "cpu",
            "--epochs",
            "2",
            "--limit",
            "3000",
            "--logdir",
            str(run),
            "--no-progress",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    results = json.loads((run / "results.json").read_text())
    m = re.search(r"test error ([\d.]+)% \((\d+) misses\)", out.splitlines()[-1])
    assert m, out
    assert float(m.group(1)) == pytest.approx(100 * results["final"]["test_error"], abs=0.006)
    assert int(m.group(2)) == results["final"]["test_misses"]
    assert len(results["history"]) == 2 and results["parameters"] == 61706
    assert results["torch"] == torch.__version__ and results["device"].startswith("cpu")

    # what the events hold is tested in test_tensorboard.py
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ckpt["format"] == "lecnn-checkpoint" and ckpt["progress"]["epoch"] == 2
    assert not list(run.glob(".checkpoint-*"))  # no temp file left behind

    code = main(
        ["evaluate", str(run), "--data-dir", str(mnist_dir), "--device", "cpu", "--impl", "manual"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert (
        f"({results['final']['test_misses']} misses)" in out
    )  # same weights, other implementation
    assert "confusion matrix" in out and len(out.strip().splitlines()) == 14


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("stop_at", [7, 16], ids=["mid-pass", "pass-boundary"])
def test_interrupted_then_resumed_equals_uninterrupted(stop_at, device, data28, tmp_path):
    # augmentation draws from the device's generator, whose state the checkpoint carries
    data28 = data28.to(torch.device(device))
    base = dict(
        device=device, epochs=2, limit=1024, batch_size=64, augment=True, deterministic=True
    )
    straight = train(
        TrainConfig(logdir=str(tmp_path / "a"), **base), data=data28, progress_bar=False
    )
    first = train(
        TrainConfig(logdir=str(tmp_path / "b"), **base),
        data=data28,
        progress_bar=False,
        on_step=lambda step, loss: step == stop_at,
    )
    assert first.status == "interrupted"
    assert load_checkpoint(tmp_path / "b")["progress"]["step"] == stop_at
    resumed = train(TrainConfig(), data=data28, resume=str(tmp_path / "b"), progress_bar=False)
    assert resumed.status == "finished" and resumed.results["steps"] == 32
    a = load_checkpoint(tmp_path / "a")["model_state"]
    b = load_checkpoint(tmp_path / "b")["model_state"]
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"
    assert resumed.results["final"]["test_error"] == straight.results["final"]["test_error"]


def test_nan_stops_run_and_keeps_last_good_checkpoint(data28, tmp_path):
    cfg = TrainConfig(
        device="cpu",
        epochs=3,
        limit=640,
        batch_size=64,
        optimizer="sgd",
        lr=0.01,
        schedule="constant",
        logdir=str(tmp_path / "run"),
    )
    trainer = Trainer(cfg, data=data28, progress_bar=False)

    def blow_up(step, loss):
        if step == 10:  # after the first pass: make the step size absurd
            trainer.setup.schedule = lambda epoch, step: 1e30

    with pytest.raises(Diverged, match="learning rate"):
        trainer.run(on_step=blow_up)
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt["progress"]["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in ckpt["model_state"].values())


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "lecnn", *args], capture_output=True, text=True)


def _train_cli(mnist_dir, tmp_path, *args):
    """``lecnn train`` on the CPU in a subprocess, as a user runs it."""
    common = ["--data-dir", str(mnist_dir), "--device", "cpu", "--logdir", str(tmp_path / "r")]
    return _cli("train", *common, *args)


def test_cli_nan_message_and_exit(mnist_dir, tmp_path):
    p = _train_cli(
        mnist_dir,
        tmp_path,
        "--optimizer",
        "sgd",
        "--lr",
        "1e30",
        "--limit",
        "2000",
        "--epochs",
        "1",
    )
    assert p.returncode == 1
    assert "Traceback" not in p.stderr
    assert "learning rate" in p.stderr and "--lr 1e+30" in p.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "alexnet"], "unknown model 'alexnet'"),
        (["--model", "lenet5:init=big"], "lenet5 option init='big': choose sqrt or printed"),
        (["--model", "lenet5:depth=3"], "lenet5 has no option 'depth'"),
        (["--model", "lenet5:init"], "write options as lenet5:KEY=VALUE"),
        (["--model", "mlp:init=printed"], "model 'mlp' takes no options"),
        (["--optimizer", "sdlm:mu=0"], "μ > 0, samples ≥ 1 and every ≥ 1"),
        (["--optimizer", "sdlm:samples=many"], "samples takes a whole number, not 'many'"),
        (["--optimizer", "adam:mu=0.1"], "adam has no option 'mu'"),
        (["--lr", "0"], "learning rate must be positive"),
        (["--lr", "-0.1"], "learning rate must be positive"),
        (["--epochs", "0"], "--epochs 0: must be at least 1"),
        (["--batch-size", "5000", "--limit", "1000"], "larger than the 1000 training digits"),
        (["--schedule", "wobbly"], "--schedule 'wobbly'"),
        (["--epochs", "two"], "'two' is not a whole number"),
    ],
)
def test_bad_arguments_one_line_exit_2(args, message, mnist_dir, tmp_path):
    p = _train_cli(mnist_dir, tmp_path, *args)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_checkpoints_refuse_corrupt_and_foreign_files(tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"PK\x03\x04 not really a checkpoint")
    with pytest.raises(LecnnError, match="not a readable lecnn checkpoint"):
        load_checkpoint(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(LecnnError, match="not a lecnn checkpoint"):
        load_checkpoint(foreign)
    # a pickle that would run code when unpickled is refused, and the code does not run
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save(_Evil(str(marker)), evil)
    with pytest.raises(LecnnError, match="not a readable lecnn checkpoint"):
        load_checkpoint(evil)
    assert not marker.exists()
    p = _cli("evaluate", str(evil), "--device", "cpu")
    assert p.returncode == 2 and "Traceback" not in p.stderr and not marker.exists()


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_cli_flags_reach_the_run_config(mnist_dir, tmp_path):
    run = tmp_path / "run"
    args = ["train", "--data-dir", str(mnist_dir), "--device", "cpu", "--epochs", "1", "--limit", "256",
            "--batch-size", "64", "--order", "fixed", "--augment", "--augment-kind", "shift1",
            "--optimizer", "momentum", "--lr", "0.05", "--schedule", "inverse:10",
            "--weight-decay", "0.001", "--logdir", str(run), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    config = json.loads((run / "results.json").read_text())["config"]
    expected = {"order": "fixed", "augment": True, "augment_kind": "shift1", "optimizer": "momentum",
                "lr": 0.05, "schedule": "inverse:10", "weight_decay": 0.001, "batch_size": 64}  # fmt: skip
    assert {k: config[k] for k in expected} == expected


def test_recipe_fills_the_defaults_flags_still_win():
    from lecnn.training.config import RECIPES

    fast = RECIPES["fast"]
    cfg = TrainConfig(model=fast["model"], recipe="fast").resolved()
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.optimizer, cfg.schedule, cfg.augment) == (
        fast["epochs"], fast["batch_size"], fast["lr"], fast["optimizer"], fast["schedule"],
        fast["augment"],
    )  # fmt: skip
    assert cfg.weight_decay == get_spec(fast["model"]).defaults.weight_decay  # not in the recipe
    assert (
        TrainConfig(model=fast["model"], recipe="fast", optimizer="sgd").resolved().optimizer
        == "sgd"
    )
    assert TrainConfig(model=fast["model"], recipe="fast", epochs=1).resolved().epochs == 1
    with pytest.raises(LecnnError, match="trains lenet5-modern, not lecun1989"):
        TrainConfig(model="lecun1989", recipe="fast").resolved()
    with pytest.raises(LecnnError, match="--recipe 'slow'"):
        TrainConfig(recipe="slow").resolved()


def test_a_resolved_config_leaves_no_setting_to_a_default():
    """resolved() gives a ResolvedConfig (the type the training code is checked against): the
    same fields as TrainConfig, each model's defaults filled in, none left None."""
    from dataclasses import asdict, fields

    from lecnn.models import MODELS
    from lecnn.training.config import ResolvedConfig

    assert [f.name for f in fields(ResolvedConfig)] == [f.name for f in fields(TrainConfig)]
    filled = ("epochs", "batch_size", "lr", "optimizer", "schedule", "augment", "weight_decay",
              "order", "augment_kind")  # fmt: skip
    for model in MODELS:
        cfg = TrainConfig(model=model).resolved()
        assert isinstance(cfg, ResolvedConfig), model
        defaults = get_spec(model).defaults
        for name in filled:
            value = getattr(cfg, name)
            assert value is not None and value == getattr(defaults, name), (model, name)
        assert TrainConfig(**asdict(cfg)).resolved() == cfg  # resolving again changes nothing
