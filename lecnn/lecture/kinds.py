"""The lecture's five kinds of classifier trained on the same MNIST split and measured the same
way: training seconds, classification µs per digit, test and training error, and the number of
parameters a person would have to read. ``lecnn.lecture.slide`` turns the figures into the
slide's verdicts; ``lecnn.lecture.interpret`` draws what the parameters look like."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from lecnn.data import Digits, Split, prepare
from lecnn.errors import LecnnError

#: training digits the training error is measured on (the first ones; all of them when fewer)
TRAIN_ERROR_DIGITS = 10_000
#: the decision tree's depths tried on the held-out part (None: grown until its leaves are pure)
DEPTHS: tuple[int | None, ...] = (6, 9, 12, 15, 20, None)
#: the overfitting measurement: 1-nearest neighbour trained on this many digits
SMALL_TRAIN = 1_000
#: the distance measurement: k-NN with two distances on the first this many test digits
DISTANCE_QUERIES = 1_000


@dataclass
class Figures:
    """One classifier measured: what the slide's table is decided from."""

    key: str
    name: str
    settings: str
    train_seconds: float
    us_per_digit: float  # classifying the whole test set at once, per digit
    test_error: float
    train_error: float  # on the first TRAIN_ERROR_DIGITS training digits
    parameters: int  # numbers a person would have to read to know the classifier


@dataclass
class Measured:
    """Every row's figures and the side measurements some claims need (``extras``), plus the
    fitted models the pictures are drawn from (``models``: not saved)."""

    rows: dict[str, Figures]
    extras: dict[str, float]
    models: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The figures and the side measurements as plain data (the models left out)."""
        return {"rows": {k: asdict(f) for k, f in self.rows.items()}, "extras": self.extras}


@dataclass
class Data:
    """The split in the two forms the classifiers take: raw pixels in [0, 1] as N×784 (the
    scikit-learn models, k-NN, the perceptron) and lecnn's standardized 1×28×28 (the MLP)."""

    digits: Digits
    train_x: torch.Tensor  # N×784 float32 in [0, 1]
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    standardized: Split
    standardized_test: Split


def load(digits: Digits, limit: int | None = None) -> Data:
    """``digits`` in both forms, the training set cut to its first ``limit`` digits."""
    n = limit or len(digits.train_labels)
    digits = Digits(digits.train_images[:n], digits.train_labels[:n], digits.test_images,
                    digits.test_labels, digits.source, digits.verified)  # fmt: skip
    prepared = prepare(digits, "mnist28")

    def flat(images: torch.Tensor) -> torch.Tensor:
        return images.reshape(len(images), -1).float() / 255.0

    return Data(digits, flat(digits.train_images), digits.train_labels,
                flat(digits.test_images), digits.test_labels, prepared.train,
                prepared.test)  # fmt: skip


def error(pred: torch.Tensor | np.ndarray, y: torch.Tensor) -> float:
    """The fraction of ``pred`` that differs from the labels ``y``."""
    return float((torch.as_tensor(pred) != y).double().mean())


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()`` and its wall time in seconds."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def figures(key: str, name: str, settings: str, seconds: float, classify: Callable[[Any], Any],
            data: Data, parameters: int, train_input: Any = None,
            test_input: Any = None) -> Figures:  # fmt: skip
    """Time ``classify`` over the whole test set, then measure both errors."""
    from lecnn.compare.classifiers import timed_predictions

    test_input = data.test_x if test_input is None else test_input
    train_input = data.train_x if train_input is None else train_input
    pred, ms = timed_predictions(classify, test_input, torch.device("cpu"))
    train_pred = classify(train_input[:TRAIN_ERROR_DIGITS])
    return Figures(key, name, settings, seconds, ms * 1e3,
                   error(pred, data.test_y), error(train_pred, data.train_y[:TRAIN_ERROR_DIGITS]),
                   parameters)  # fmt: skip


def knn(data: Data, extras: dict[str, float], models: dict[str, Any]) -> Figures:
    """k-NN (k = 3, Euclidean), lecnn's own: training is storing the set. Beside it the two
    measurements its claims need: k = 1 on ``SMALL_TRAIN`` digits (overfitting) and the
    city-block distance against the Euclidean one on the first ``DISTANCE_QUERIES`` test digits."""
    from lecnn.compare.knn import knn_predict

    (tx, ty), seconds = timed(lambda: (data.train_x.clone(), data.train_y.clone()))
    row = figures("knn", "k-nearest neighbours", f"k = 3, Euclidean, {len(ty):,} stored digits",
                  seconds, lambda q: knn_predict(tx, ty, q, k=3), data,
                  tx.numel() + len(ty))  # fmt: skip
    small_x, small_y = tx[:SMALL_TRAIN], ty[:SMALL_TRAIN]
    extras["knn1_small_train_error"] = error(knn_predict(small_x, small_y, small_x, k=1), small_y)
    extras["knn1_small_test_error"] = error(knn_predict(small_x, small_y, data.test_x, k=1),
                                            data.test_y)  # fmt: skip
    queries, labels = data.test_x[:DISTANCE_QUERIES], data.test_y[:DISTANCE_QUERIES]
    extras["knn_euclidean_error"] = error(knn_predict(tx, ty, queries, k=3), labels)
    extras["knn_cityblock_error"] = error(
        knn_predict(tx, ty, queries, k=3, batch_size=100, distance=cityblock), labels
    )
    return row


def cityblock(queries: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """The city-block distance Σ|q − p| for every pair (Q×D, P×D → Q×P)."""
    return torch.cdist(queries, points, p=1)


def mlp(data: Data, seed: int, passes: int, extras: dict[str, float],
        models: dict[str, Any]) -> Figures:  # fmt: skip
    """The lecture's 784-100-10 logistic MLP on the hand-written layers, trained by its SGD."""
    from lecnn.lecture.capacity import fit

    net, seconds = timed(lambda: fit(100, data.standardized, passes, seed))
    models["mlp"] = net
    count = sum(p.numel() for layer in net.layers for p in layer.params.values())

    def classify(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return net.forward(x).argmax(1)

    return figures("mlp", "neural network: the lecture's MLP",
                   f"784-100-10 sigmoid, squared error, SGD α 2, batch 32, {passes} passes",
                   seconds, classify, data, count, data.standardized.x,
                   data.standardized_test.x)  # fmt: skip


def lenet5(data: Data, seed: int, limit: int | None) -> Figures:
    """LeNet-5 (its modern form) trained by ``lecnn train --recipe fast``: the network with the
    structure of images built in (local receptive fields, shared weights, subsampling)."""
    from lecnn.compare.classifiers import trained

    trainer, seconds = trained(data.digits, torch.device("cpu"), recipe="fast",
                               model="lenet5-modern", seed=seed, limit=limit)  # fmt: skip
    engine, prepared = trainer.engine, trainer.data
    count = sum(p.numel() for p in engine.state_dict().values())
    c = trainer.config

    def classify(x: torch.Tensor) -> torch.Tensor:
        return engine.predict(engine.outputs(x))

    return figures("lenet5", "neural network: LeNet-5",
                   f"lenet5-modern, --recipe fast ({c.epochs} passes of batch {c.batch_size})",
                   seconds, classify, data, count, prepared.train.x,
                   prepared.test.x)  # fmt: skip


def naive_bayes(data: Data, extras: dict[str, float], models: dict[str, Any]) -> Figures:
    """Naive Bayes, the simplest Bayes net (each pixel independent of the others given the
    class), on pixels binarized at ½; beside it a denser net, every pixel linked to every other
    through one shared covariance (linear discriminant analysis), for the structure claim."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.naive_bayes import BernoulliNB

    x, y = data.train_x.numpy(), data.train_y.numpy()
    nb, seconds = timed(lambda: BernoulliNB(binarize=0.5).fit(x, y))
    models["naive-bayes"] = nb
    row = figures("naive-bayes", "Bayes net: naive Bayes", "Bernoulli, pixels on above ½",
                  seconds, lambda q: nb.predict(q.numpy()), data,
                  nb.feature_log_prob_.size + nb.class_log_prior_.size)  # fmt: skip
    extras["bayes_naive_error"] = row.test_error
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(x, y)
    extras["bayes_linked_error"] = error(lda.predict(data.test_x.numpy()), data.test_y)
    return row


def tree(data: Data, seed: int, extras: dict[str, float], models: dict[str, Any]) -> Figures:
    """A decision tree (scikit-learn, CART) whose depth is chosen on the last sixth of the
    training set held out, then grown on the whole set at that depth."""
    from sklearn.tree import DecisionTreeClassifier

    x, y = data.train_x.numpy(), data.train_y.numpy()
    cut = len(y) - len(y) // 6
    held: dict[int | None, tuple[float, float]] = {}  # depth → (held-out error, test error)
    start = time.perf_counter()
    for depth in DEPTHS:
        t = DecisionTreeClassifier(max_depth=depth, random_state=seed).fit(x[:cut], y[:cut])
        held[depth] = (error(t.predict(x[cut:]), data.train_y[cut:]),
                       error(t.predict(data.test_x.numpy()), data.test_y))  # fmt: skip
    extras["tree_search_seconds"] = time.perf_counter() - start
    depth = min(DEPTHS, key=lambda d: held[d][0])
    extras["tree_depth"] = float(depth if depth is not None else -1)
    extras["tree_chosen_test_error"] = held[depth][1]
    extras["tree_best_test_error"] = min(test for _, test in held.values())
    fitted, seconds = timed(lambda: DecisionTreeClassifier(max_depth=depth,
                                                           random_state=seed).fit(x, y))  # fmt: skip
    models["tree"] = fitted
    internal = int((fitted.tree_.children_left >= 0).sum())
    leaves = fitted.tree_.node_count - internal
    return figures("tree", "decision tree",
                   f"CART, depth {fitted.get_depth()} (chosen on held-out digits), {leaves:,} leaves",
                   seconds, lambda q: fitted.predict(q.numpy()), data,
                   2 * internal + leaves)  # fmt: skip


@torch.no_grad()
def perceptron_rule(x: torch.Tensor, y: torch.Tensor, passes: int, generator: torch.Generator,
                    alpha: float = 1.0) -> torch.Tensor:  # fmt: skip
    """Ten threshold units, one per digit, each trained by the lecture's perceptron learning rule
    ``w_i ← w_i + α (y − h_w(x)) x_i`` with ``h_w(x) = Threshold(w · x)``, one example at a time
    in an order drawn from ``generator``. ``x``: N×D, ``y``: N labels → weights 10×(D + 1), the
    last column the bias (its input is always 1)."""
    x = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
    targets = torch.nn.functional.one_hot(y, 10).to(x.dtype)
    w = torch.zeros(10, x.shape[1], dtype=x.dtype)
    for _ in range(passes):
        for i in torch.randperm(len(x), generator=generator).tolist():
            wrong = targets[i] - (w @ x[i] > 0).to(x.dtype)  # y − h_w(x) for each unit
            if wrong.any():
                w.addr_(wrong, x[i], alpha=alpha)
    return w


def perceptron_classify(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The unit whose weighted sum is largest names the digit."""
    return (x @ w[:, :-1].T + w[:, -1]).argmax(1)


def perceptron(data: Data, seed: int, passes: int, extras: dict[str, float],
               models: dict[str, Any]) -> Figures:  # fmt: skip
    """The perceptron rule over the raw pixels for ``passes`` passes, from the run's seed."""
    g = torch.Generator().manual_seed(seed)
    w, seconds = timed(lambda: perceptron_rule(data.train_x, data.train_y, passes, g))
    models["perceptron"] = w
    return figures("perceptron", "perceptron", f"10 threshold units, the perceptron rule, "
                   f"α 1, {passes} passes", seconds, lambda q: perceptron_classify(w, q), data,
                   w.numel())  # fmt: skip


def check_limit(digits: Digits, limit: int | None) -> None:
    """Refuse, in one line, a training set too small for the overfitting measurement."""
    available = min(limit or len(digits.train_labels), len(digits.train_labels))
    if available < SMALL_TRAIN:
        raise LecnnError(f"the classifiers need at least {SMALL_TRAIN:,} training digits (the "
                         f"overfitting measurement trains on {SMALL_TRAIN:,}), not {available:,}: "
                         f"give --limit {SMALL_TRAIN} or more")  # fmt: skip


#: the rows in the slide's order (the neural networks' row measured twice: MLP and LeNet-5)
KEYS = ("knn", "mlp", "lenet5", "naive-bayes", "tree", "perceptron")


def measure(digits: Digits, seed: int = 0, limit: int | None = None, passes: int = 10,
            xor_starts: int = 20, log: Callable[[str], object] = print) -> Measured:  # fmt: skip
    """Every classifier on the same split (the first ``limit`` training digits, the whole test
    set), one after another on this process's threads, and the XOR step's random starts."""
    from lecnn.lecture import xor

    check_limit(digits, limit)
    data = load(digits, limit)
    extras: dict[str, float] = {}
    models: dict[str, Any] = {}
    steps: dict[str, Callable[[], Figures]] = {
        "knn": lambda: knn(data, extras, models),
        "mlp": lambda: mlp(data, seed, passes, extras, models),
        "lenet5": lambda: lenet5(data, seed, limit),
        "naive-bayes": lambda: naive_bayes(data, extras, models),
        "tree": lambda: tree(data, seed, extras, models),
        "perceptron": lambda: perceptron(data, seed, passes, extras, models),
    }
    rows = {}
    for key in KEYS:
        rows[key] = f = steps[key]()
        log(f"{f.name:36s} trained in {f.train_seconds:8.2f} s, {f.us_per_digit:9.1f} µs/digit, "
            f"test error {f.test_error:6.2%}, training error {f.train_error:6.2%}, "
            f"{f.parameters:,} parameters")  # fmt: skip
    stalled = sum(not xor.fit([2, 2, 1], seed + t)[1] for t in range(xor_starts))
    extras["xor_starts"], extras["xor_stalled"] = float(xor_starts), float(stalled)
    models["mean_digit"] = data.train_x.mean(0).reshape(28, 28)
    return Measured(rows, extras, models)
