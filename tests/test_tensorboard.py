"""What TensorBoard shows for a run, read back from the event files (no browser): the curves and
their sub-runs, the step-level points, the learning rate from the first update, layer names,
pictures, the graph, the HParams columns and their types, and ``lecnn evaluate``'s own sub-run."""

from __future__ import annotations

import math

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import api_pb2, metadata

from lecnn.cli import main
from lecnn.logs.pictures import confusion_image, filter_grid, labelled_grid
from lecnn.training.config import TrainConfig
from lecnn.training.loop import Trainer, load_data
from lecnn.training.runlog import HPARAMS_FIRST, HPARAMS_SHOWN, LOG_POINTS

LIMIT, BATCH, EPOCHS, EVERY = 3000, 128, 2, 5
UPDATES = EPOCHS * math.ceil(LIMIT / BATCH)  # 48


@pytest.fixture(scope="module")
def run(mnist_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("tb") / "run"
    args = ["--data-dir", str(mnist_dir), "--device", "cpu"]
    assert (
        main(
            ["train", *args, "--epochs", str(EPOCHS), "--limit", str(LIMIT), "--logdir", str(run)]
            + ["--log-every", str(EVERY), "--no-progress", "--schedule", "cosine"]
        )
        == 0
    )
    assert main(["evaluate", str(run), *args]) == 0
    return run


def _accumulator(path) -> EventAccumulator:
    ea = EventAccumulator(str(path), size_guidance={"images": 0, "histograms": 0, "tensors": 0})
    ea.Reload()
    return ea


def _plugin_data(path):
    """{tag: HParamsPluginData} of the hparams summaries in the run's own event files."""
    found = {}
    for f in path.glob("events.out.tfevents.*"):
        for event in EventFileLoader(str(f)).Load():
            for v in event.summary.value:
                if v.metadata.plugin_data.plugin_name == metadata.PLUGIN_NAME:
                    found[v.tag] = v.metadata.plugin_data.content
    return found


def test_train_and_test_curves_share_tags_in_sub_runs(run):
    train, test = _accumulator(run / "train"), _accumulator(run / "test")
    per_pass = {"loss/pass", "error_pct/pass", "accuracy_pct/pass"}
    assert per_pass <= set(train.Tags()["scalars"]) and per_pass == set(test.Tags()["scalars"])
    steps = [e.step for e in test.Scalars("error_pct/pass")]
    assert steps == [UPDATES // EPOCHS, UPDATES]  # global-step axis, at each pass's last update
    for ea in (train, test):  # percent everywhere, accuracy = 100 − error
        for err, acc in zip(ea.Scalars("error_pct/pass"), ea.Scalars("accuracy_pct/pass")):
            assert err.value + acc.value == pytest.approx(100.0, abs=1e-3)
            assert 0.5 < err.value < 60  # a percentage, not a fraction
    root = set(_accumulator(run).Tags()["scalars"])
    assert not any(t.startswith("hparam/") for t in root)  # no one-point hparams charts
    assert not {"loss/train", "error/test"} & root  # the old flat layout is gone


def test_step_level_points_and_learning_rate_from_the_first_update(run):
    train = _accumulator(run / "train")
    for tag in ("loss/step", "error_pct/step", "accuracy_pct/step"):
        assert [e.step for e in train.Scalars(tag)] == list(range(EVERY, UPDATES + 1, EVERY))
    lr = _accumulator(run).Scalars("optimizer/lr")
    assert lr[0].step == 1 and lr[0].value == pytest.approx(3e-3)  # the rate of update 1
    assert [e.step for e in lr[1:]] == list(range(EVERY, UPDATES + 1, EVERY))
    for e in lr:  # the cosine schedule at the global step (update e.step used step e.step − 1)
        expected = 3e-3 * 0.5 * (1 + math.cos(math.pi * (e.step - 1) / UPDATES))
        assert e.value == pytest.approx(expected, rel=1e-5)


def test_default_run_has_a_few_hundred_step_points(data28, tmp_path):
    trainer = Trainer(TrainConfig(device="cpu", logdir=str(tmp_path / "a")), data=data28)
    trainer.close()
    points = trainer.setup.batches * trainer.config.epochs // trainer.setup.log_every
    assert LOG_POINTS <= points < 2 * LOG_POINTS
    cfg = TrainConfig(device="cpu", batch_size=1, epochs=2, limit=5000, logdir=str(tmp_path / "b"))
    per_example = Trainer(cfg, data=data28)
    per_example.close()
    assert per_example.setup.log_every == 2 * 5000 // LOG_POINTS  # per-example runs get curves too


@pytest.fixture(scope="module")
def data28(mnist_dir):
    return load_data(TrainConfig(data_dir=str(mnist_dir)), torch.device("cpu"), torch.float32)


def test_layers_named_as_in_the_paper_and_pictures(run):
    tags = _accumulator(run).Tags()
    for layer in ("C1", "C3", "C5", "F6", "output"):
        assert f"weights/{layer}.weight" in tags["histograms"]
        assert f"grads/{layer}.bias" in tags["histograms"]
    assert not any(t.startswith("weights/0.") for t in tags["histograms"])
    assert {"filters/C1", "misclassified/test", "confusion/test"} <= set(tags["images"])
    assert any(t.startswith("config") for t in tags["tensors"])
    assert tags["graph"]  # the Graphs tab (autograd)
    image = _accumulator(run).Images("filters/C1")[-1]
    assert image.width >= 300 and image.height >= 60  # enlarged tiles, not a 252×40 strip


def test_evaluate_writes_its_own_sub_run(run):
    ev = _accumulator(run / "evaluate")
    assert [e.step for e in ev.Images("confusion/test")] == [UPDATES]
    own = _accumulator(run).Images("confusion/test")
    assert [e.step for e in own] == [UPDATES]  # the training's image is still there


def test_hparams_columns_types_and_metrics(run):
    data = _plugin_data(run)
    experiment = metadata.parse_experiment_plugin_data(data[metadata.EXPERIMENT_TAG])
    infos = list(experiment.hparam_infos)
    names = [i.name for i in infos]
    assert names[: len(HPARAMS_FIRST)] == list(HPARAMS_FIRST)
    assert {i.name for i in infos if i.differs} == set(HPARAMS_SHOWN)  # shown by default
    types = {i.name: i.type for i in infos}
    assert types["augment"] == api_pb2.DATA_TYPE_BOOL
    assert types["deterministic"] == api_pb2.DATA_TYPE_BOOL
    assert types["lr"] == types["batch_size"] == api_pb2.DATA_TYPE_FLOAT64
    assert types["model"] == types["device"] == api_pb2.DATA_TYPE_STRING
    start = metadata.parse_session_start_info_plugin_data(data[metadata.SESSION_START_INFO_TAG])
    assert start.hparams["device"].string_value == "cpu"
    assert start.hparams["augment"].bool_value is False
    assert start.hparams["model"].string_value == "lenet5-modern"
    metrics = {(m.name.group, m.name.tag) for m in experiment.metric_infos}
    assert ("test", "error_pct/pass") in metrics and ("", "time/train_seconds") in metrics
    for group, tag in metrics:  # each metric is a curve the run really logged
        assert tag in _accumulator(run / group if group else run).Tags()["scalars"]
    end = metadata.parse_session_end_info_plugin_data(data[metadata.SESSION_END_INFO_TAG])
    assert end.status == api_pb2.STATUS_SUCCESS


def test_pictures_fit_the_default_card():
    matrix = torch.randint(0, 10, (10, 10)) + torch.diag(torch.full((10,), 1135))
    assert confusion_image(matrix).shape[1] <= 420
    captions = ["pred 7\ntrue 2"] * 36
    assert labelled_grid(torch.rand(36, 1, 28, 28), captions).shape[1] <= 420
    grid = filter_grid(torch.randn(16, 1, 5, 5))
    assert grid.shape[0] > 2 * 64  # 16 kernels wrap onto two rows of enlarged tiles
