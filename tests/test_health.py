"""Training health (lecnn.training.health) and ``lecnn diagnose``: the statistics equal a direct
computation in float64, the same in both implementations; logging them changes no number of the
run; planted saturation, dead units and huge steps are each diagnosed as such, a healthy run is
called healthy, and what is not a run is one line, exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from lecnn.cli import main
from lecnn.data import load_mnist, prepare
from lecnn.models import get_spec
from lecnn.training.config import TrainConfig
from lecnn.training.engine import encode_targets, make_engine
from lecnn.training.health import probe, watched
from lecnn.training.loop import Trainer

CPU, D = torch.device("cpu"), torch.float64


@pytest.fixture(scope="module")
def digits(mnist_dir):
    return load_mnist(mnist_dir)


def _batch(digits, model: str, n: int = 16):
    spec = get_spec(model)
    data = prepare(digits, spec.input, CPU, dtype=D)
    return data.train.x[:n], encode_targets(data.train.y[:n], spec.target, D)


def _direct(model: str, x, t) -> dict[str, dict[str, float]]:
    """Each named layer's figures by hand: the twin's modules called one by one, the Δs by
    autograd on each pre-activation, the statistics by their definitions."""
    engine = make_engine(get_spec(model), "autograd", seed=0, device=CPU, dtype=D)
    outs, a = [], x
    for module in engine.net:
        a = module(a)
        outs.append(a)
    loss = engine.loss(a, t)
    out = {}
    for w in watched(engine.spec):
        (delta,) = torch.autograd.grad(loss, outs[w.index], retain_graph=True)
        act = outs[w.out_index].detach()
        figures = {"mean": act.mean().item(), "std": act.std(unbiased=False).item(),
                   "delta_rms": delta.pow(2).mean().sqrt().item()}  # fmt: skip
        if w.unit in ("scaled_tanh", "tanh"):  # within 3% of ±1.7159 or ±1
            bound = 1.7159 if w.unit == "scaled_tanh" else 1.0
            figures["saturated"] = (act.abs() > 0.97 * bound).double().mean().item()
        if w.unit == "relu":
            figures["dead"] = (act.flatten(1) == 0).all(0).double().mean().item()
        out[w.name] = figures
    return out


@pytest.mark.parametrize("model", ["lenet5", "lenet5-modern", "lecun1989"])
@pytest.mark.parametrize("impl", ["manual", "autograd"])
def test_the_statistics_equal_a_direct_computation(model, impl, digits):
    x, t = _batch(digits, model)
    engine = make_engine(get_spec(model), impl, seed=0, device=CPU, dtype=D)
    got, want = probe(engine, x, t), _direct(model, x, t)
    assert set(got) == set(want) and len(got) >= 4
    for layer, figures in want.items():
        assert set(got[layer]) == set(figures), layer
        for key, v in figures.items():
            assert got[layer][key] == pytest.approx(v, rel=1e-9, abs=1e-12), (layer, key)


def test_the_probe_leaves_gradients_and_generators_as_they_were(digits):
    x, t = _batch(digits, "lecun1989-modern")  # dropout: draws from the run's generator
    for impl in ("manual", "autograd"):
        gen = torch.Generator().manual_seed(5)
        engine = make_engine(get_spec("lecun1989-modern"), impl, seed=0, device=CPU, dtype=D,
                             dropout=gen)  # fmt: skip
        engine.train_step(x, t)
        grads, state = {k: v.clone() for k, v in engine.grads().items()}, gen.get_state()
        probe(engine, x, t)
        assert torch.equal(gen.get_state(), state)
        assert all(torch.equal(engine.grads()[k], g) for k, g in grads.items()), impl


def _train(mnist_dir, run: Path, *extra: str) -> int:
    return main(["train", "--limit", "1000", "--epochs", "2", "--device", "cpu", "--no-progress",
                 "--data-dir", str(mnist_dir), "--logdir", str(run), *extra])  # fmt: skip


@pytest.mark.parametrize("impl", ["manual", "autograd"])
def test_health_logging_changes_no_number_of_the_run(impl, mnist_dir, tmp_path):
    args = ["--model", "lecun1989-modern", "--impl", impl, "--batch-size", "32"]
    assert _train(mnist_dir, tmp_path / "off", *args, "--health-every", "0") == 0
    assert _train(mnist_dir, tmp_path / "on", *args, "--health-every", "3") == 0
    off, on = (torch.load(tmp_path / r / "checkpoint.pt", weights_only=True)["model_state"]
               for r in ("off", "on"))  # fmt: skip
    assert all(torch.equal(off[k], on[k]) for k in off)
    assert not (tmp_path / "off" / "health.jsonl").exists()
    samples = (tmp_path / "on" / "health.jsonl").read_text().splitlines()
    assert len(samples) == 1 + 64 // 3  # the first update, then every third of 2 × 32
    assert set(json.loads(samples[0])["layers"]) == {"H1", "H2", "H3", "output"}


def _planted(mnist_dir, run: Path, plant, **settings) -> None:
    """A short run whose network was altered before its first update."""
    config = TrainConfig(limit=1000, epochs=2, device="cpu", data_dir=str(mnist_dir),
                         logdir=str(run), health_every=2, **settings)  # fmt: skip
    trainer = Trainer(config, progress_bar=False)
    with torch.no_grad():
        plant(trainer.setup.engine.params())
    trainer.run()


def _diagnosis(run: Path, capsys) -> tuple[int, str]:
    code = main(["diagnose", str(run)])
    return code, capsys.readouterr().out


def test_planted_saturation_is_diagnosed(mnist_dir, tmp_path, capsys):
    def times_100(params):
        for k, v in params.items():
            if k.endswith("weight"):
                v.mul_(100)

    _planted(mnist_dir, tmp_path / "run", times_100, model="lenet5", batch_size=16)
    code, out = _diagnosis(tmp_path / "run", capsys)
    assert code == 1 and "of their units saturated" in out and "from pass 1 on" in out, out
    assert "advice: start from smaller weights" in out


def test_a_planted_dead_relu_layer_is_diagnosed(mnist_dir, tmp_path, capsys):
    def bias_minus_100(params):
        params["3.bias"].fill_(-100)  # C3

    _planted(mnist_dir, tmp_path / "run", bias_minus_100, model="lenet5-modern")
    code, out = _diagnosis(tmp_path / "run", capsys)
    assert code == 1 and "C3 100%" in out and "of their ReLUs dead" in out, out


def test_a_planted_huge_step_is_diagnosed(mnist_dir, tmp_path, capsys):
    # the model's own rate × 10,000: it diverges, and its folder holds the health record only
    code = _train(mnist_dir, tmp_path / "run", "--lr", "30", "--health-every", "2")
    assert code == 1
    code, out = _diagnosis(tmp_path / "run", capsys)
    assert code == 1 and "steps too large" in out and "advice: a smaller step size" in out, out


def test_a_healthy_run_is_called_healthy(mnist_dir, tmp_path, capsys):
    assert _train(mnist_dir, tmp_path / "run", "--health-every", "4") == 0
    code, out = _diagnosis(tmp_path / "run", capsys)
    assert code == 0 and "healthy:" in out and "median update/weight 10^" in out, out


def test_what_is_not_a_healthy_record_is_one_line_exit_2(mnist_dir, tmp_path, capsys):
    assert _train(mnist_dir, tmp_path / "old", "--health-every", "0") == 0  # as before health
    damaged = tmp_path / "damaged"
    shutil.copytree(tmp_path / "old", damaged)
    (damaged / "health.jsonl").write_text("{not json\n\x00\x01\n")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("hello")
    capsys.readouterr()
    for folder, words in [("old", "no health record"), ("damaged", "damaged"),
                          ("foreign", "not a lecnn run folder"), ("absent", "no such run folder")]:  # fmt: skip
        assert main(["diagnose", str(tmp_path / folder)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0] and err[0].startswith("lecnn diagnose: error:")


def test_the_committed_records_are_diagnosed_as_the_docs_say(capsys):
    """runs/health: the printed initialisation's run and the faithful one (troubleshooting)."""
    root = Path(__file__).resolve().parent.parent / "runs" / "health"
    code, out = _diagnosis(root / "printed-init-sum-s3", capsys)
    assert code == 1 and "C1 100%, S2 100%, C3 100%, S4 94%, C5 96%, F6 100%" in out
    assert "C1: its Δ is 1e-17 of output's from pass 1 on" in out
    code, out = _diagnosis(root / "faithful-s3", capsys)
    assert code == 0 and "healthy: most saturated C3 74%" in out
    docs = (root.parent.parent / "docs" / "troubleshooting.md").read_text()
    assert "healthy: most saturated C3 74%" in docs and "C1 100%, S2 100%, C3 100%" in docs
