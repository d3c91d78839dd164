"""The lecture's steps: numbers checked, and each step runs and writes TensorBoard events."""

from __future__ import annotations

import json

import pytest
import torch

from lecnn.cli import main
from lecnn.data import load_mnist, prepare
from lecnn.lecture import linreg, logistic, xor
from lecnn.lecture.knn import knn_predict, knn_reference


def _tags(path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(path), size_guidance={"images": 0, "histograms": 0, "scalars": 0})
    ea.Reload()
    return ea


def test_closed_form_equals_gradient_descent(tmp_path):
    out = linreg.run(str(tmp_path), log=lambda s: None)
    (s0, s1), (g0, g1) = out["standardized"]
    assert abs(s0 - g0) < 1e-6 and abs(s1 - g1) < 1e-6
    w0, w1 = out["closed_form"]
    assert 0.2 < w1 < 0.26 and 200 < w0 < 300  # around the lecture's 0.232 x + 246
    x, y = linreg.house_data()
    X = torch.stack([torch.ones_like(x), x], 1)
    lstsq = torch.linalg.lstsq(X, y.unsqueeze(1)).solution.flatten()
    assert torch.allclose(torch.tensor([w0, w1], dtype=torch.float64), lstsq, rtol=1e-9)
    ea = _tags(tmp_path)
    assert "linreg/loss" in ea.Tags()["scalars"] and "linreg/loss_surface" in ea.Tags()["images"]
    losses = [e.value for e in ea.Scalars("linreg/loss")]
    assert losses[-1] < losses[0] / 5


def test_logistic_rule_equals_autograd(tmp_path):
    out = logistic.run(str(tmp_path), log=lambda s: None)
    assert torch.allclose(out["lecture"], out["autograd"], rtol=1e-10, atol=1e-12)
    assert out["accuracy"] > 0.97
    assert "logistic/loss" in _tags(tmp_path).Tags()["scalars"]


def test_xor_network_solves_and_single_unit_does_not(tmp_path):
    assert xor.fit([2, 2, 1], seed=0)[1]
    out = xor.run(str(tmp_path), seed=0, trials=4, log=lambda s: None)
    assert out["single"][1] is False and out["single"][0] > 0.9  # stuck near Σ(y − ½)² = 1
    assert out["solved"] >= 1 and out["solved"] + out["stalled"] == 4
    assert "xor/final_loss" in _tags(tmp_path).Tags()["histograms"]


def test_knn_matches_brute_force_on_real_digits(subset_dir):
    data = prepare(load_mnist(subset_dir), "mnist28")
    queries = data.test.x[:150]
    fast = knn_predict(data.train.x, data.train.y, queries, k=3, batch_size=64)
    slow = knn_reference(data.train.x, data.train.y, queries, k=3)
    assert torch.equal(fast, slow)
    assert (fast == data.test.y[:150]).double().mean() > 0.8
    one = knn_predict(data.train.x, data.train.y, data.train.x[:50], k=1)
    assert torch.equal(one, data.train.y[:50])  # each training digit is its own nearest


@pytest.mark.parametrize(
    "step, extra, tag",
    [
        ("linreg", [], "linreg/loss"),
        ("logistic", [], "logistic/accuracy"),
        ("xor", ["--trials", "2"], "xor/final_loss_by_start"),
        ("sgd", ["--limit", "300", "--passes", "1"], "sgd/loss_vs_examples/stochastic"),
        ("capacity", ["--limit", "300", "--passes", "2"], "capacity/test_error"),
    ],
)
def test_each_lecture_step_runs_and_logs(step, extra, tag, mnist_dir, tmp_path, capsys):
    args = [
        "lecture",
        step,
        "--logdir",
        str(tmp_path),
        "--device",
        "cpu",
        "--data-dir",
        str(mnist_dir),
    ]
    assert main(args + extra) == 0
    assert capsys.readouterr().out.strip()
    assert tag in _tags(tmp_path).Tags()["scalars"]


def test_compare_table(mnist_dir, tmp_path, capsys):
    args = ["compare", "--data-dir", str(mnist_dir), "--device", "cpu", "--limit", "1000",
            "--epochs", "1", "--logdir", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    table = (tmp_path / "compare.md").read_text()
    for name in ("linear classifier", "k-NN Euclidean", "300 hidden units", "LeNet-1", "LeNet-5"):
        assert name in table
    rows = json.loads((tmp_path / "compare.json").read_text())["rows"]
    assert [r["key"] for r in rows] == ["linear", "knn", "mlp-300", "lecun1989", "lenet5"]
    assert all(0 <= r["test_error"] <= 1 and r["ms_per_digit"] > 0 for r in rows)
    assert rows[1]["test_error"] < 0.2  # k-NN on 1,000 digits
    assert [r["published"] for r in rows] == [0.12, 0.05, 0.047, 0.017, 0.0095]
