"""The lecture's steps: numbers checked, and each step runs and writes TensorBoard events."""

from __future__ import annotations

import json
import statistics

import pytest
import torch

from lecnn import compare
from lecnn.cli import main
from lecnn.cli.lecture import ROWS
from lecnn.compare.knn import knn_predict
from lecnn.data import load_mnist, prepare
from lecnn.lecture import linreg, logistic, xor


def knn_reference(train_x, train_y, queries, k: int = 3) -> torch.Tensor:
    """The same rule one query at a time, with plain distances (for tests)."""
    train_x = train_x.reshape(len(train_x), -1).double()
    preds = []
    for q in queries.reshape(len(queries), -1).double():
        d = ((train_x - q) ** 2).sum(1)
        order = torch.argsort(d, stable=True)[:k]
        labels = train_y[order].tolist()
        counts = {c: labels.count(c) for c in labels}
        best = max(counts.values())
        preds.append(next(c for c in labels if counts[c] == best))
    return torch.tensor(preds)


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
    "step, extra, tag, picture",
    [
        ("linreg", [], "linreg/loss", "linreg/loss_surface"),
        ("logistic", [], "logistic/accuracy", "logistic/decision_line"),
        ("xor", ["--trials", "2"], "xor/final_loss_by_start", "xor/final_loss_by_start"),
        (
            "sgd",
            ["--limit", "300", "--passes", "1"],
            "sgd/loss_vs_examples/stochastic",
            "sgd/curves",
        ),
        ("capacity", ["--limit", "300", "--passes", "2"], "capacity/test_error", "capacity/curve"),
    ],
)
def test_each_lecture_step_runs_and_logs(step, extra, tag, picture, mnist_dir, tmp_path, capsys):
    """Each step prints, logs its numbers and its picture to TensorBoard, and with --out writes
    the same picture as a PNG (the one the documentation shows)."""
    from PIL import Image

    args = [
        "lecture",
        step,
        "--logdir",
        str(tmp_path / "tb"),
        "--device",
        "cpu",
        "--data-dir",
        str(mnist_dir),
        "--out",
        str(tmp_path / "png"),
    ]
    assert main(args + extra) == 0
    assert capsys.readouterr().out.strip()
    tags = _tags(tmp_path / "tb").Tags()
    assert tag in tags["scalars"] and picture in tags["images"]
    png = tmp_path / "png" / f"{picture.replace('/', '-')}.png"
    assert [p.name for p in (tmp_path / "png").iterdir()] == [png.name]  # nothing else left
    with Image.open(png) as image:
        assert image.format == "PNG" and min(image.size) >= 300


def test_compare_table(mnist_dir, tmp_path, capsys):
    args = ["compare", "--data-dir", str(mnist_dir), "--device", "cpu", "--limit", "1000",
            "--epochs", "1", "--boost-size", "400", "--logdir", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    table = (tmp_path / "compare.md").read_text()
    for name in ("linear classifier", "k-NN Euclidean", "300 hidden units", "SVM", "LeNet-1",
                 "LeNet-4", "boosted LeNet-4", "LeNet-5", "compare.png"):  # fmt: skip
        assert name in table
    assert "Command: `lecnn compare --data-dir" in table
    record = json.loads((tmp_path / "compare.json").read_text())
    rows = record["rows"]
    assert [r["key"] for r in rows] == list(ROWS) == list(compare.KEYS)
    assert all(0 <= r["test_error"] <= 1 and r["ms_per_digit"] > 0 for r in rows)
    errors = {r["key"]: r["test_error"] for r in rows}
    assert errors["knn"] < 0.2 and errors["svm-poly4"] < 0.2  # on 1,000 digits
    assert errors["lenet1"] < 0.5 and errors["lenet4"] < 0.5  # one pass of 1,000: learning
    assert [r["published"] for r in rows] == [0.12, 0.05, 0.047, 0.011, 0.017, 0.011, 0.007, 0.0095]
    # boosted: nets 2 and 3 got the 400 filtered digits asked for; its time includes net 1's
    boosted = rows[ROWS.index("boosted-lenet4")]
    assert "on 400 and 400 filtered" in boosted["settings"]
    assert boosted["train_seconds"] > rows[ROWS.index("lenet4")]["train_seconds"]
    assert record["seconds"] > sum(r["train_seconds"] for r in rows if r["key"] != "boosted-lenet4")
    png = (tmp_path / "compare.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def _compare(mnist_dir, out, *extra) -> dict:
    args = ["compare", "--data-dir", str(mnist_dir), "--device", "cpu", "--limit", "500",
            "--epochs", "1", "--logdir", str(out), *extra]  # fmt: skip
    assert main(args) == 0
    return json.loads((out / "compare.json").read_text())


def test_compare_seeds_and_merge(mnist_dir, tmp_path, capsys):
    two = _compare(mnist_dir, tmp_path / "a", "--rows", "linear,knn", "--seeds", "2", "--jobs", "1")
    assert [(r["key"], r["seed"]) for r in two["rows"]] == [
        ("linear", 0),
        ("knn", 0),
        ("linear", 1),
        ("knn", 1),
    ]
    linear = [r["test_error"] for r in two["rows"] if r["key"] == "linear"]
    assert linear[0] != linear[1]  # each seed trains its own net
    # a seed run on its own gives what it gave among others: comparisons merge soundly
    alone = _compare(mnist_dir, tmp_path / "b", "--rows", "linear", "--seed", "1")
    assert alone["rows"][0]["test_error"] == linear[1]
    three = _compare(mnist_dir, tmp_path / "c", "--rows", "linear", "--seed", "2")
    err = three["rows"][0]["test_error"]
    capsys.readouterr()

    merged = tmp_path / "merged"
    assert main(["compare", "--merge", str(tmp_path / "a"), str(tmp_path / "c"),
                 "--logdir", str(merged)]) == 0  # fmt: skip
    record = json.loads((merged / "compare.json").read_text())
    assert record["seeds"] == [0, 1, 2] and len(record["rows"]) == 5
    assert record["seconds"] == two["seconds"] + three["seconds"]
    table = (merged / "compare.md").read_text()
    errors = [*linear, err]
    mean, std = statistics.mean(errors), statistics.stdev(errors)
    assert f"| linear classifier | {mean:.2%} ± {std:.2%} | 0: {linear[0]:.2%}, 1: " in table
    assert "3 seeds (0, 1, 2) (not every row has every seed)" in table
    assert table.count("`lecnn compare") == 2  # both commands
    assert f"Its 2 runs took {record['seconds'] / 60:.1f} min added together" in table
    assert (merged / "compare.png").read_bytes()[:4] == b"\x89PNG"

    # the same seed twice, a folder without a comparison, an occupied --logdir: one line, exit 2
    for sources, out, message in (
        ([tmp_path / "a", tmp_path / "b"], tmp_path / "m2", "linear seed 1 already in"),
        ([tmp_path / "nothing"], tmp_path / "m3", "not a comparison lecnn compare wrote"),
        ([tmp_path / "a"], merged, "already holds a comparison"),
    ):
        code = main(["compare", "--merge", *map(str, sources), "--logdir", str(out)])
        assert code == 2 and message in capsys.readouterr().err


def test_boosting_filters_half_wrong_half_right_and_only_disagreements(mnist):
    from lecnn.compare.boost import filtered

    train = prepare(mnist, "lenet32").train.head(3000)
    g = torch.Generator().manual_seed(0)

    def odd(x, y):  # stands in for "net 1 is wrong on it"
        return y % 2

    half, drawn = filtered(train, odd, 1000, g, max_digits=100_000, balance=True)
    assert len(half) == 1000 and (half.y % 2).sum() == 500 and drawn == 3000
    only, _ = filtered(train, odd, 1000, g, max_digits=100_000)
    assert len(only) == 1000 and torch.all(only.y % 2 == 1)
    # the digits are distorted copies, not the originals
    assert not any(torch.equal(only.x[0], t) for t in train.x[train.y == only.y[0]])
    # too few to keep: stops after max_digits with what it found
    rare, drawn = filtered(train, lambda x, y: (y == 7).long(), 10_000, g, max_digits=6000)
    assert drawn == 6000 and 0 < len(rare) < 10_000 and torch.all(rare.y == 7)


@pytest.mark.parametrize("flag", ["--seeds 3", "--rows linear", "--limit 100", "--epochs=2"])
def test_merge_refuses_training_flags_in_one_line(flag, tmp_path, capsys):
    code = main(
        ["compare", "--merge", str(tmp_path), *flag.split(), "--logdir", str(tmp_path / "m")]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--merge trains nothing" in err[0]
    assert flag.split()[0].split("=")[0] in err[0] and not (tmp_path / "m").exists()


def test_a_failed_merge_leaves_no_folder_behind(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    assert main(["compare", "--merge", str(tmp_path / "nothing")]) == 2
    assert "not a comparison lecnn compare wrote" in capsys.readouterr().err
    assert list((tmp_path / "runs").iterdir()) == []  # the timestamped folder is gone again


def test_compare_seeds_in_worker_processes_give_the_rows_of_one_process(mnist_dir, tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' one thread
    try:
        one = _compare(mnist_dir, tmp_path / "one", "--rows", "linear,knn", "--seeds", "2",
                       "--jobs", "1")  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    two = _compare(mnist_dir, tmp_path / "two", "--rows", "linear,knn", "--seeds", "2",
                   "--jobs", "2")  # fmt: skip
    keep = ("key", "seed", "test_error", "settings", "published")
    assert [{k: r[k] for k in keep} for r in two["rows"]] == [
        {k: r[k] for k in keep} for r in one["rows"]
    ]
    assert [(r["key"], r["seed"]) for r in two["rows"]] == [
        ("linear", 0), ("knn", 0), ("linear", 1), ("knn", 1)
    ]  # fmt: skip
