"""The lecture's "pros and cons of different classifiers" and LeCun 1998's comparison (its
Fig. 9), measured on MNIST here: test error, training time and classification time per digit."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from lecnn.data import Digits, prepare
from lecnn.data.derived import Split
from lecnn.device import describe_machine
from lecnn.lecture import boost, figure9, svm
from lecnn.lecture.knn import knn_predict
from lecnn.models.spec import LENET_STEPS
from lecnn.training.checkpoint import write_atomically
from lecnn.training.config import TrainConfig
from lecnn.training.loop import Trainer

# LeCun et al. 1998, Fig. 9 (test error on MNIST), for each row lecnn measures
PUBLISHED = {
    "linear": ("linear classifier", 0.120),
    "knn": ("k-NN Euclidean", 0.050),
    "mlp-300": ("2-layer NN, 300 hidden units", 0.047),
    "svm-poly4": ("SVM, polynomial kernel of degree 4", 0.011),
    "lenet1": ("LeNet-1 (16×16 digits)", 0.017),
    "lenet4": ("LeNet-4", 0.011),
    "boosted-lenet4": ("boosted LeNet-4 (distortions)", 0.007),
    "lenet5": ("LeNet-5", 0.0095),
}
ROWS = tuple(PUBLISHED)
#: passes of each trained row (the CNNs: their papers' 20 SDLM passes, the models' defaults)
PASSES = {"linear": 5, "mlp-300": 10, "lenet5": 20}


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
        limit: int | None = None, out_dir: Path | None = None, log=print,
        rows: tuple[str, ...] = ROWS, boost_size: int | None = None,
        command: str = "") -> list[Row]:  # fmt: skip
    """Train and time each classifier in ``rows``; ``epochs`` overrides passes per key (quick
    runs); ``boost_size``: examples for boosted LeNet-4's second and third nets."""
    passes = {**PASSES, **(epochs or {})}
    out: list[Row] = []
    begin = time.perf_counter()

    def add(key: str, test_error: float, seconds: float, ms: float, settings: str) -> None:
        what, published = PUBLISHED[key]
        out.append(Row(key, what, test_error, seconds, ms, published, settings))
        log(f"{what:36s} test error {test_error:6.2%} (1998: {published:5.2%}), trained "
            f"{seconds:7.1f} s, {ms:.4f} ms per digit")  # fmt: skip

    trainers: dict[str, Trainer] = {}

    def trained(key: str, note: str, model: str, **overrides) -> None:
        n = passes.get(key)
        trainer, secs = _train(key, data, device, seed, limit, model=model, epochs=n, **overrides)
        trainers[key] = trainer
        engine, test = trainer.engine, trainer.data.test
        pred, ms = _timed_predictions(lambda x: engine.predict(engine.outputs(x)), test.x, device)
        error = float((pred != test.y).double().mean())
        c = trainer.config
        schedule = "the paper's steps" if c.schedule == LENET_STEPS else c.schedule
        how = note or f"{c.optimizer.upper()} η {c.lr:g}, batch {c.batch_size}, {schedule}"
        add(key, error, secs, ms, f"{how}, {c.epochs} pass{'es' if c.epochs != 1 else ''}")

    prep = prepare(data, "mnist28", device).limited(limit)
    if "linear" in rows:
        trained("linear", "Adam", "linear")
    if "knn" in rows:
        start = time.perf_counter()
        train: Split = prep.train  # k-NN "training" is storing the set
        secs = time.perf_counter() - start
        pred, ms = _timed_predictions(
            lambda x: knn_predict(train.x, train.y, x, k=3), prep.test.x, device
        )
        error = float((pred != prep.test.y).double().mean())
        add("knn", error, secs, ms, f"k = 3 on {len(train):,} digits")
    if "mlp-300" in rows:
        trained("mlp-300", "SGD α 5, batch 32", "mlp-300")
    if "svm-poly4" in rows:
        n = limit or len(data.train_labels)
        pred, secs, ms, support = svm.fit_predict(
            data.train_images[:n].float() / 255,
            data.train_labels[:n],
            data.test_images.float() / 255,
        )
        error = float((pred != data.test_labels).double().mean())
        add("svm-poly4", error, secs, ms,
            f"scikit-learn SVC, (γ x·x′ + 1)⁴, C = 10, {support:,} support vectors")  # fmt: skip
    if "lenet1" in rows:
        trained("lenet1", "", "lenet1")
    if "lenet4" in rows or "boosted-lenet4" in rows:
        trained("lenet4", "", "lenet4")
    if "boosted-lenet4" in rows:
        first = trainers["lenet4"]
        b = boost.train_boosted(first.data, device, seed, epochs=passes.get("lenet4"),
                                size=boost_size, log=log, first=first)  # fmt: skip
        test = first.data.test
        pred, ms = _timed_predictions(b.predict, test.x, device)
        error = float((pred != test.y).double().mean())
        secs = out[-1].train_seconds + b.seconds
        singles = ", ".join(f"{e:.2%}" for e in b.single_errors)
        add("boosted-lenet4", error, secs, ms,
            f"3 LeNet-4s (alone: {singles}); nets 2 and 3 on {b.set_sizes[0]:,} and "
            f"{b.set_sizes[1]:,} filtered distorted digits")  # fmt: skip
    if "lenet4" not in rows:
        out[:] = [r for r in out if r.key != "lenet4"]
    if "lenet5" in rows:
        # the 1998 protocol (the model's own defaults are a quicker batched recipe)
        trained("lenet5", "", "lenet5", optimizer="sdlm", batch_size=1, lr=0.0005,
                schedule=LENET_STEPS, augment=False)  # fmt: skip

    if out_dir is not None:
        seconds = time.perf_counter() - begin
        write(out, out_dir, describe_machine(device), limit, seconds, command)
    return out


def write(rows: list[Row], out_dir: Path, machine: str, limit: int | None, seconds: float,
          command: str = "") -> None:  # fmt: skip
    """compare.md, compare.json and compare.png (the paper's Fig. 9 with lecnn beside it)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# Classifiers on MNIST, measured on {machine}", "",
             f"One seed; the whole comparison took {seconds / 60:.1f} min"
             + (f" (training on the first {limit:,} digits only)" if limit else "") + "."
             + (f" Command: `{command}`." if command else ""), "",
             "| classifier | test error | LeCun 1998 | training time | classification time per digit | settings |",
             "|---|---:|---:|---:|---:|---|"]  # fmt: skip
    lines += [f"| {r.what} | {r.test_error:.2%} | {r.published:.2%} | {r.train_seconds:.1f} s | "
              f"{r.ms_per_digit:.4f} ms | {r.settings} |" for r in rows]  # fmt: skip
    lines += ["", "![test error per classifier, LeCun 1998 beside lecnn](compare.png)"]
    text = "\n".join(lines) + "\n"
    write_atomically(out_dir / "compare.md", lambda f: f.write(text.encode()))
    record = {"machine": machine, "limit": limit, "seconds": seconds, "command": command,
              "rows": [asdict(r) for r in rows]}  # fmt: skip
    body = json.dumps(record, indent=2).encode()
    write_atomically(out_dir / "compare.json", lambda f: f.write(body))
    figure9.plot([(r.what, r.published, r.test_error) for r in rows], out_dir / "compare.png",
                 f"MNIST test error: LeCun et al. 1998 (Fig. 9) and lecnn ({machine})")  # fmt: skip
