"""The lecture's "pros and cons of different classifiers" and LeCun 1998's comparison, measured on
MNIST here: test error, training time and classification time per digit."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from lecnn.data import Digits, prepare
from lecnn.data.derived import Split
from lecnn.device import describe_device
from lecnn.lecture.knn import knn_predict
from lecnn.training.config import TrainConfig
from lecnn.training.loop import Trainer

# LeCun et al. 1998, Fig. 9 (test error on MNIST)
PUBLISHED = {
    "linear": ("linear classifier", 0.120),
    "knn": ("k-NN Euclidean", 0.050),
    "mlp-300": ("2-layer NN, 300 hidden units", 0.047),
    "lecun1989": ("LeNet-1 (≈ the 1989 net, here on 16×16)", 0.017),
    "lenet5": ("LeNet-5", 0.0095),
}


@dataclass
class Row:
    key: str
    what: str
    test_error: float
    train_seconds: float
    ms_per_digit: float
    published: float
    settings: str


def _train(
    key: str, data: Digits, device, seed: int, limit: int | None, **overrides
) -> tuple[Trainer, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(device=str(device), seed=seed, logdir=tmp, limit=limit, **overrides)
        prepared = cfg.prepare(data, device)
        trainer = Trainer(cfg, data=prepared, progress_bar=False)
        start = time.perf_counter()
        trainer.run()
        return trainer, time.perf_counter() - start


def _timed_predictions(predict, x: torch.Tensor, device) -> tuple[torch.Tensor, float]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    pred = predict(x)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return pred, (time.perf_counter() - start) * 1000 / len(x)


def run(data: Digits, device: torch.device, seed: int = 0, epochs: dict | None = None,
        limit: int | None = None, out_dir: Path | None = None, log=print) -> list[Row]:  # fmt: skip
    """Train and time each classifier; ``epochs`` overrides passes per key (quick runs)."""
    passes = {"linear": 5, "mlp-300": 10, "lecun1989": 3, "lenet5": 5, **(epochs or {})}
    rows: list[Row] = []

    def add(key: str, test_error: float, seconds: float, ms: float, settings: str) -> None:
        what, published = PUBLISHED[key]
        rows.append(Row(key, what, test_error, seconds, ms, published, settings))
        log(f"{what:30s} test error {test_error:6.2%} (1998: {published:5.2%}), trained {seconds:6.1f} s, "
            f"{ms:.4f} ms per digit")  # fmt: skip

    def trained(key: str, note: str, **overrides) -> None:
        trainer, secs = _train(key, data, device, seed, limit, epochs=passes[key], **overrides)
        engine, test = trainer.engine, trainer.data.test
        pred, ms = _timed_predictions(lambda x: engine.predict(engine.outputs(x)), test.x, device)
        error = float((pred != test.y).double().mean())
        add(key, error, secs, ms, f"{note}, {passes[key]} passes")

    trained("linear", "Adam", model="linear")

    prep = prepare(data, "mnist28", device).limited(limit)
    start = time.perf_counter()
    train: Split = prep.train  # k-NN "training" is storing the set
    secs = time.perf_counter() - start
    pred, ms = _timed_predictions(
        lambda x: knn_predict(train.x, train.y, x, k=3), prep.test.x, device
    )
    add(
        "knn",
        float((pred != prep.test.y).double().mean()),
        secs,
        ms,
        f"k = 3 on {len(train):,} digits",
    )

    trained("mlp-300", "SGD α 5, batch 32", model="mlp-300")
    trained("lecun1989", "all of MNIST at 16×16, SGD α 0.03, batch 1",
            model="lecun1989", input="mnist16", order="shuffle")  # fmt: skip
    trained("lenet5", "SGD α 0.005, batch 16, cosine", model="lenet5")

    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        machine = describe_device(device)
        lines = [f"# Classifiers on MNIST, measured on {machine}", "",
                 "| classifier | test error | LeCun 1998 | training time | classification time per digit | settings |",
                 "|---|---:|---:|---:|---:|---|"]  # fmt: skip
        lines += [f"| {r.what} | {r.test_error:.2%} | {r.published:.2%} | {r.train_seconds:.1f} s | "
                  f"{r.ms_per_digit:.4f} ms | {r.settings} |" for r in rows]  # fmt: skip
        (out_dir / "compare.md").write_text("\n".join(lines) + "\n")
        (out_dir / "compare.json").write_text(json.dumps({"machine": machine, "limit": limit,
                                                          "rows": [asdict(r) for r in rows]}, indent=2))  # fmt: skip
    return rows
