"""LeCun et al. 1998's comparison (its Fig. 9) as data: one ``Classifier`` per row, saying what the
paper calls it, the test error it published, how lecnn trains and measures it, and which other
row's trained model it builds on (boosted LeNet-4 starts from the LeNet-4 row's net)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from lecnn.data import Digits, Prepared
from lecnn.models.spec import LENET_STEPS


@dataclass
class Context:
    """What every row of one seed sees: the data, where and how long to train, and the rows
    measured so far (``done``, by key), which a row that ``needs`` another reads."""

    data: Digits
    prepared: Prepared  # the data as 28×28 inputs (k-NN, the linear classifier, the MLP)
    device: torch.device
    seed: int
    limit: int | None
    passes: dict[str, int]
    log: Callable[[str], None]
    boost_size: int | None = None
    done: dict[str, Measured] = field(default_factory=dict)


@dataclass
class Measured:
    """One row's figures for one seed (``trainer``: its trained run, for rows built on it)."""

    test_error: float
    train_seconds: float
    ms_per_digit: float
    settings: str
    trainer: Any = None


@dataclass(frozen=True)
class Classifier:
    key: str
    what: str  # the paper's name for it
    published: float  # its test error in the paper's Fig. 9
    measure: Callable[[Classifier, Context], Measured]
    needs: str | None = None  # the row whose trained model it starts from
    passes: int | None = None  # passes of a trained row (None: the model's defaults)
    model: str = ""  # lecnn's model for a trained row
    how: str = ""  # the settings' text for a trained row ("": read off the run)
    overrides: dict[str, Any] = field(default_factory=dict)  # settings replacing the model's


def timed_predictions(predict, x: torch.Tensor, device) -> tuple[torch.Tensor, float]:
    """``predict(x)`` and its time in milliseconds per digit."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    pred = predict(x)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return pred, (time.perf_counter() - start) * 1000 / len(x)


def trained(digits: Digits, device: torch.device, **settings: Any) -> tuple[Any, float]:
    """A run of lecnn's loop with ``settings`` (``TrainConfig``'s fields) on ``digits``, its
    folder thrown away: (the finished ``Trainer``, its wall seconds from start to end)."""
    from lecnn.training.config import TrainConfig
    from lecnn.training.loop import train_apart

    cfg = TrainConfig(device=str(device), **settings)
    return train_apart(cfg, cfg.prepare(digits, device))


def _trained(row: Classifier, ctx: Context) -> Measured:
    """A network trained with lecnn's loop, timed, then timed classifying the test set."""
    trainer, seconds = trained(
        ctx.data, ctx.device, seed=ctx.seed, limit=ctx.limit, model=row.model,
        epochs=ctx.passes.get(row.key), **row.overrides,
    )  # fmt: skip
    engine, test = trainer.engine, trainer.data.test
    pred, ms = timed_predictions(lambda x: engine.predict(engine.outputs(x)), test.x, ctx.device)
    c = trainer.config
    schedule = "the paper's steps" if c.schedule == LENET_STEPS else c.schedule
    how = row.how or f"{c.optimizer.upper()} η {c.lr:g}, batch {c.batch_size}, {schedule}"
    settings = f"{how}, {c.epochs} pass{'es' if c.epochs != 1 else ''}"
    error = float((pred != test.y).double().mean())
    return Measured(error, seconds, ms, settings, trainer)


def _knn(row: Classifier, ctx: Context) -> Measured:
    from lecnn.compare.knn import knn_predict

    start = time.perf_counter()
    train = ctx.prepared.train  # k-NN "training" is storing the set
    seconds = time.perf_counter() - start
    test = ctx.prepared.test
    pred, ms = timed_predictions(
        lambda x: knn_predict(train.x, train.y, x, k=3), test.x, ctx.device
    )
    error = float((pred != test.y).double().mean())
    return Measured(error, seconds, ms, f"k = 3 on {len(train):,} digits")


def _svm(row: Classifier, ctx: Context) -> Measured:
    from lecnn.compare import svm

    d = ctx.data
    n = ctx.limit or len(d.train_labels)
    pred, seconds, ms, support = svm.fit_predict(
        d.train_images[:n].float() / 255, d.train_labels[:n], d.test_images.float() / 255
    )
    error = float((pred != d.test_labels).double().mean())
    settings = f"scikit-learn SVC, (γ x·x′ + 1)⁴, C = 10, {support:,} support vectors"
    return Measured(error, seconds, ms, settings)


def _boosted(row: Classifier, ctx: Context) -> Measured:
    from lecnn.compare import boost

    net1 = ctx.done[row.needs or ""]
    first = net1.trainer
    b = boost.train_boosted(first.data, ctx.device, ctx.seed, epochs=ctx.passes.get(row.needs or ""),
                            size=ctx.boost_size, log=ctx.log, first=first)  # fmt: skip
    pred, ms = timed_predictions(b.predict, first.data.test.x, ctx.device)
    error = float((pred != first.data.test.y).double().mean())
    singles = ", ".join(f"{e:.2%}" for e in b.single_errors)
    settings = (f"3 LeNet-4s (alone: {singles}); nets 2 and 3 on {b.set_sizes[0]:,} and "
                f"{b.set_sizes[1]:,} filtered distorted digits")  # fmt: skip
    return Measured(error, net1.train_seconds + b.seconds, ms, settings)


#: LeNet-5's row trains by the 1998 protocol (the model's own defaults are a quicker recipe)
LENET5_PROTOCOL = dict(
    optimizer="sdlm", batch_size=1, lr=0.0005, schedule=LENET_STEPS, augment=False
)


#: the rows in the paper's order (its Fig. 9, test error on MNIST)
CLASSIFIERS: tuple[Classifier, ...] = (
    Classifier("linear", "linear classifier", 0.120, _trained, passes=5, model="linear",
               how="Adam"),
    Classifier("knn", "k-NN Euclidean", 0.050, _knn),
    Classifier("mlp-300", "2-layer NN, 300 hidden units", 0.047, _trained, passes=10,
               model="mlp-300", how="SGD α 5, batch 32"),
    Classifier("svm-poly4", "SVM, polynomial kernel of degree 4", 0.011, _svm),
    Classifier("lenet1", "LeNet-1 (16×16 digits)", 0.017, _trained, model="lenet1"),
    Classifier("lenet4", "LeNet-4", 0.011, _trained, model="lenet4"),
    Classifier("boosted-lenet4", "boosted LeNet-4 (distortions)", 0.007, _boosted,
               needs="lenet4"),
    Classifier("lenet5", "LeNet-5", 0.0095, _trained, passes=20, model="lenet5",
               overrides=LENET5_PROTOCOL),
)  # fmt: skip
BY_KEY = {c.key: c for c in CLASSIFIERS}
KEYS = tuple(BY_KEY)


def order(keys: tuple[str, ...]) -> list[Classifier]:
    """The rows to measure for ``keys``, in the paper's order, each after any row it needs."""
    wanted = set(keys)
    for key in keys:
        while BY_KEY[key].needs:
            key = BY_KEY[key].needs or ""
            wanted.add(key)
    return [c for c in CLASSIFIERS if c.key in wanted]
