"""``lecnn lecture classifiers``: the slide's five kinds of classifier on the 1,500-digit subset,
the verdicts following from the figures, and the pictures of the parameters."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lecnn.cli import main
from lecnn.compare.knn import knn_predict
from lecnn.data import load_mnist
from lecnn.lecture import interpret, kinds, slide

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def step(subset_dir, tmp_path_factory):
    """One run of the step on the subset (1,000 training, 500 test digits), as a user runs it."""
    root = tmp_path_factory.mktemp("classifiers")
    code = main(["lecture", "classifiers", "--data-dir", str(subset_dir), "--trials", "4",
                 "--logdir", str(root / "run"), "--out", str(root / "png")])  # fmt: skip
    assert code == 0
    return root


@pytest.fixture(scope="module")
def measured(subset_dir):
    return kinds.measure(load_mnist(subset_dir), xor_starts=4, log=lambda s: None)


def test_every_classifier_trains_and_classifies(measured):
    assert list(measured.rows) == list(kinds.KEYS)
    for key, f in measured.rows.items():
        assert f.train_seconds >= 0 and f.us_per_digit > 0 and f.parameters > 0, key
        assert 0 <= f.test_error < 0.9 and 0 <= f.train_error < 0.9, key  # better than chance
    rows = measured.rows
    # those that learn from 1,000 digits in a few passes are far better than chance
    assert all(rows[k].test_error < 0.4 for k in ("knn", "mlp", "naive-bayes", "perceptron"))
    assert rows["knn"].parameters == 1000 * 785  # the stored digits and their labels
    assert rows["naive-bayes"].parameters == rows["perceptron"].parameters == 10 * 785
    assert measured.extras["knn1_small_train_error"] == 0  # each digit is its own neighbour
    assert 0 <= measured.extras["xor_stalled"] <= measured.extras["xor_starts"] == 4


def test_the_table_has_every_claim_with_a_verdict(step):
    table = (step / "run" / "classifiers.md").read_text()
    for claim in slide.CLAIMS:
        line = next(x for x in table.splitlines() if f"| {claim.row} | {claim.says} |" in x)
        assert line.rstrip(" |").endswith((slide.HOLDS, slide.FAILS)), line
    record = json.loads((step / "run" / "classifiers.json").read_text())
    assert len(record["verdicts"]) == len(slide.CLAIMS) == 24
    assert set(record["rows"]) == set(kinds.KEYS) and "cores" in record["machine"]
    assert all(math.isfinite(v) for v in record["extras"].values())


KNN, NN, DT, PC = "nearest neighbors", "neural networks", "decision trees", "perceptrons"
#: (the slide's row, the claim, a planted figure that decides it the other way)
PLANTS = [
    (KNN, "can model any data", lambda m, h: m.extras.update(knn1_small_train_error=0.0 if not h else 0.05)),
    (KNN, "very prone to overfitting", lambda m, h: m.extras.update(
        knn1_small_train_error=0.0 if not h else m.extras["knn1_small_test_error"])),
    (KNN, "requires a distance function", lambda m, h: m.extras.update(
        knn_cityblock_error=m.extras["knn_euclidean_error"] * (1.0 if h else 2.0))),
    (KNN, "fast learning", lambda m, h: setattr(m.rows["knn"], "train_seconds", 1e9 if h else 0.0)),
    (NN, "requires structure", lambda m, h: setattr(
        m.rows["lenet5"], "test_error", m.rows["mlp"].test_error * (1.0 if h else 0.1))),
    (NN, "can suffer from local minima", lambda m, h: m.extras.update(xor_stalled=0.0 if h else 1.0)),
    (PC, "very limited modeling power", lambda m, h: setattr(
        m.rows["perceptron"], "train_error", 0.0 if h else 0.5)),
    (DT, "mostly automatic", lambda m, h: m.extras.update(
        tree_chosen_test_error=m.extras["tree_best_test_error"] + (0.1 if h else 0.0))),
    (DT, "moderate learning speed", lambda m, h: setattr(m.rows["tree"], "train_seconds", 1e9 if h else
        slide._median(m, "train_seconds"))),
]  # fmt: skip


@pytest.mark.parametrize("row, says, plant", PLANTS, ids=[p[1] for p in PLANTS])
def test_a_planted_figure_flips_its_verdict(measured, row, says, plant):
    def verdict(m):
        return next(v for c, v, _ in slide.verdicts(m) if (c.row, c.says) == (row, says))

    before = verdict(measured)
    planted = copy.deepcopy(measured)
    plant(planted, before == slide.HOLDS)  # push the figure to the other side of the rule
    after = verdict(planted)
    assert {before, after} == {slide.HOLDS, slide.FAILS}, (says, before, after)


def test_speed_words_are_relative_to_the_rows_median(measured):
    m = copy.deepcopy(measured)
    for n, f in enumerate(m.rows.values()):
        f.us_per_digit = 10.0**n  # 1, 10, …, 1e5: median (100 + 1000) / 2
    decided = {(c.row, c.says): (v, fig) for c, v, fig in slide.verdicts(m)}
    assert decided[("nearest neighbors", "slow classification")][0] == slide.FAILS  # knn: 1 µs
    assert decided[("perceptrons", "fast classification")][0] == slide.FAILS  # 1e5 µs
    assert decided[("neural networks", "fast classification")][0] == slide.HOLDS  # MLP: 10 µs
    assert (
        decided[("perceptrons", "fast classification")][1]
        == "100,000 µs (median of the rows 550 µs)"
    )


def test_the_pictures_have_the_right_shapes(measured, step, subset_dir):
    images = interpret.parameter_images(measured.models)
    assert images["naive-bayes"].shape == images["perceptron"].shape == (10, 28, 28)
    assert images["mlp"].shape == (interpret.HIDDEN_SHOWN, 28, 28)
    nb = images["naive-bayes"]
    assert 0 < nb.min() and nb.max() < 1  # probabilities, smoothed away from 0 and 1
    # a digit's probability map is brightest where that digit's strokes are: the class means
    data = kinds.load(load_mnist(subset_dir))
    for digit in (0, 1):
        mean = (data.train_x[data.train_y == digit].mean(0) > 0.5).numpy().reshape(28, 28)
        assert nb[digit][mean].mean() > 3 * nb[digit][~mean].mean()
    splits = interpret.first_splits(measured.models["tree"])
    assert 1 <= len(splits) <= 7 and all(0 <= r < 28 and 0 <= c < 28 for r, c, _ in splits)
    root = measured.models["tree"].tree_
    assert splits[0][0] * 28 + splits[0][1] == root.feature[0]
    for name in ("classifiers-parameters.png", "classifiers-error_vs_time.png"):
        assert (step / "png" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tensorboard_has_the_table_and_both_pictures(step):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(step / "run"), size_guidance={"images": 0, "tensors": 0})
    ea.Reload()
    assert {"classifiers/parameters", "classifiers/error_vs_time"} <= set(ea.Tags()["images"])
    assert "classifiers/test_error/knn" in ea.Tags()["scalars"]
    assert any("classifiers/slide" in t for t in ea.Tags()["tensors"])


def test_the_perceptron_rule_as_the_lecture_writes_it():
    g = torch.Generator().manual_seed(0)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    w = kinds.perceptron_rule(x[:1], torch.tensor([3]), passes=1, generator=g)
    # from w = 0 every unit says 0: only digit 3's unit is wrong, and gains α x (bias input 1)
    expected = torch.zeros(10, 3)
    expected[3] = torch.tensor([1.0, 0.0, 1.0])
    assert torch.equal(w, expected)
    # separable data: two clusters, the rule converges to no mistakes
    pts = torch.cat([torch.randn(50, 2, generator=g) + 4, torch.randn(50, 2, generator=g) - 4])
    labels = torch.cat([torch.zeros(50), torch.ones(50)]).long()
    w = kinds.perceptron_rule(pts, labels, passes=5, generator=g)
    assert torch.equal(kinds.perceptron_classify(w, pts), labels)


def test_cityblock_knn_equals_brute_force(subset_dir):
    data = kinds.load(load_mnist(subset_dir))
    q, tx, ty = data.test_x[:40], data.train_x[:300], data.train_y[:300]
    fast = knn_predict(tx, ty, q, k=3, batch_size=7, distance=kinds.cityblock)
    for i, query in enumerate(q):
        order = torch.argsort((tx - query).abs().sum(1), stable=True)[:3].tolist()
        labels = [int(ty[j]) for j in order]
        best = max(labels.count(c) for c in labels)
        assert int(fast[i]) == next(c for c in labels if labels.count(c) == best)
    assert np.isclose(
        kinds.error(fast, data.test_y[:40]), (fast != data.test_y[:40]).double().mean()
    )


def test_a_folder_holding_a_measured_slide_is_refused(tmp_path, subset_dir, capsys):
    (tmp_path / "classifiers.json").write_text("{}")
    code = main(
        ["lecture", "classifiers", "--data-dir", str(subset_dir), "--logdir", str(tmp_path)]
    )
    assert code == 2 and "already holds a measured slide" in capsys.readouterr().err
    assert (tmp_path / "classifiers.json").read_text() == "{}"


def test_the_readme_and_the_lecture_page_show_the_full_runs_verdicts():
    record = json.loads((ROOT / "runs" / "classifiers" / "classifiers.json").read_text())
    assert record["extras"]["xor_starts"] == 20  # the full run, not a quick look
    assert record["rows"]["knn"]["parameters"] == 60_000 * 785
    table = slide.summary([(v["row"], v["says"], v["verdict"]) for v in record["verdicts"]])
    for page in ("README.md", "docs/lecture.md"):
        assert table in (ROOT / page).read_text(), page


@pytest.mark.parametrize(
    "flags, says",
    [(["--limit", "999"], "at least 1,000 training digits"), (["--device", "cuda"], "cuda")],
)
def test_what_the_step_cannot_do_is_one_line(tmp_path, subset_dir, capsys, flags, says):
    code = main(["lecture", "classifiers", "--data-dir", str(subset_dir), "--logdir",
                 str(tmp_path / "run"), *flags])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()  # a refused run leaves no folder behind
