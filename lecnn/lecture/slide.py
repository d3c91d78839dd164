"""The lecture's "pros and cons of different classifiers" slide as data: each claim with the rule
that decides it from the measured figures (``lecnn.lecture.classifiers``), the verdict, and the
slide as a markdown table with the figure beside every claim.

Speed words are relative to the six measured rows: a time is *fast* when it is at most the
median of the rows' times, *slow* when above it, *moderate* when within 10× of the median either
way. Parameters are *intuitive to read* when there are at most ``READABLE`` of them (about 25
digit-sized pictures); every other rule is stated with its claim."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from lecnn.lecture.kinds import DISTANCE_QUERIES, SMALL_TRAIN, TRAIN_ERROR_DIGITS, Figures, Measured

READABLE = 20_000
#: "models any function": a network fits its training set to at most this error
FITS = 0.01
#: "very limited modeling power": the training set cannot be fitted below this error
CANNOT_FIT = 0.05


@dataclass(frozen=True)
class Claim:
    """One phrase of the slide, about one of its rows, and how a figure decides it."""

    row: str  # the slide's row: "nearest neighbors", …
    says: str  # the slide's words
    rule: str  # the rule, in words
    decide: Callable[[Measured], tuple[bool, str]]  # → (holds, the figure that decides it)


def _median(m: Measured, attr: str) -> float:
    return statistics.median(getattr(f, attr) for f in m.rows.values())


def _number(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def _seconds(x: float) -> str:
    return f"{_number(x)} s"


def _us(x: float) -> str:
    return f"{_number(x)} µs"


def _speed(key: str, attr: str, word: str) -> Callable[[Measured], tuple[bool, str]]:
    """fast / slow / moderate for ``m.rows[key].attr`` against the rows' median."""
    show = _seconds if attr == "train_seconds" else _us

    def decide(m: Measured) -> tuple[bool, str]:
        value, median = getattr(m.rows[key], attr), _median(m, attr)
        holds = {"fast": value <= median, "slow": value > median,
                 "moderate": median / 10 <= value <= median * 10}[word]  # fmt: skip
        return holds, f"{show(value)} (median of the rows {show(median)})"

    return decide


def _readable(key: str, want: bool) -> Callable[[Measured], tuple[bool, str]]:
    def decide(m: Measured) -> tuple[bool, str]:
        n = m.rows[key].parameters
        return (n <= READABLE) == want, f"{n:,} parameters"

    return decide


def _differs(a: str, b: str, what: str) -> Callable[[Measured], tuple[bool, str]]:
    """Holds when the two test errors in ``extras`` differ by at least 10% of the smaller."""

    def decide(m: Measured) -> tuple[bool, str]:
        x, y = m.extras[a], m.extras[b]
        return abs(x - y) >= 0.1 * min(x, y), what.format(x, y)

    return decide


def _overfits(m: Measured) -> tuple[bool, str]:
    train, test = m.extras["knn1_small_train_error"], m.extras["knn1_small_test_error"]
    return (
        train < test / 10,
        f"k = 1 on {SMALL_TRAIN:,} digits: training error {train:.2%}, test {test:.2%}",
    )


def _fits_all(m: Measured) -> tuple[bool, str]:
    train = m.extras["knn1_small_train_error"]
    return train <= 0.001, f"k = 1: training error {train:.2%} on its own {SMALL_TRAIN:,} digits"


def _any_function(m: Measured) -> tuple[bool, str]:
    best = min((m.rows["mlp"], m.rows["lenet5"]), key=lambda f: f.train_error)
    return (
        best.train_error <= FITS,
        f"{best.name.split(': ')[1]}: training error {best.train_error:.2%}",
    )


def _structure(m: Measured) -> tuple[bool, str]:
    cnn, mlp = m.rows["lenet5"].test_error, m.rows["mlp"].test_error
    return cnn <= mlp / 2, f"test error LeNet-5 {cnn:.2%}, MLP {mlp:.2%}"


def _local_minima(m: Measured) -> tuple[bool, str]:
    stalled, starts = int(m.extras["xor_stalled"]), int(m.extras["xor_starts"])
    return stalled > 0, f"XOR, 2-2-1 net: {stalled} of {starts} random starts stall"


def _limited(m: Measured) -> tuple[bool, str]:
    best = min(m.rows.values(), key=lambda f: f.test_error)
    own = m.rows["tree"].test_error
    return own >= 2 * best.test_error, f"test error {own:.2%}, best row {best.test_error:.2%}"


def _automatic(m: Measured) -> tuple[bool, str]:
    chosen, best = m.extras["tree_chosen_test_error"], m.extras["tree_best_test_error"]
    depth = int(m.extras["tree_depth"])
    return chosen - best <= 0.005, (
        f"depth {depth if depth >= 0 else 'unlimited'} chosen on held-out digits: test error "
        f"{chosen:.2%}, best depth tried {best:.2%}"
    )


def _very_limited(m: Measured) -> tuple[bool, str]:
    train = m.rows["perceptron"].train_error
    return train >= CANNOT_FIT, f"training error {train:.2%}"


def _claims() -> tuple[Claim, ...]:
    knn, nn, nb, dt, pc = ("nearest neighbors", "neural networks", "Bayes nets",
                           "decision trees", "perceptrons")  # fmt: skip
    fast, slow, mod = (
        "at most the rows' median",
        "above the rows' median",
        "within 10× of the median",
    )
    read, hard = f"at most {READABLE:,} parameters", f"more than {READABLE:,} parameters"
    return (
        Claim(knn, "can model any data", "k = 1 gets every training digit right (≤ 0.1%)", _fits_all),
        Claim(knn, "very prone to overfitting", "k = 1's training error under a tenth of its test error", _overfits),
        Claim(knn, "requires a distance function", "Euclidean and city-block errors differ by ≥ 10%",
              _differs("knn_euclidean_error", "knn_cityblock_error",
                       f"first {DISTANCE_QUERIES:,} test digits: Euclidean {{:.2%}}, "
                       "city-block {:.2%}")),
        Claim(knn, "fast learning", f"training time {fast}", _speed("knn", "train_seconds", "fast")),
        Claim(knn, "slow classification", f"time per digit {slow}", _speed("knn", "us_per_digit", "slow")),
        Claim(nn, "models any function", f"a network's training error ≤ {FITS:.0%}", _any_function),
        Claim(nn, "requires structure", "LeNet-5's test error at most half the MLP's", _structure),
        Claim(nn, "can suffer from local minima", "some random starts of the XOR net stall", _local_minima),
        Claim(nn, "slow learning", f"the MLP's training time {slow}", _speed("mlp", "train_seconds", "slow")),
        Claim(nn, "fast classification", f"the MLP's time per digit {fast}", _speed("mlp", "us_per_digit", "fast")),
        Claim(nn, "difficult to interpret", f"the MLP has {hard}", _readable("mlp", False)),
        Claim(nb, "requires setting network structure",
              "independent pixels and all pixels linked differ by ≥ 10% in test error",
              _differs("bayes_linked_error", "bayes_naive_error",
                       "pixels linked (shared covariance) {:.2%}, independent (naive) {:.2%}")),
        Claim(nb, "fast learning", f"training time {fast}", _speed("naive-bayes", "train_seconds", "fast")),
        Claim(nb, "fast classification", f"time per digit {fast}", _speed("naive-bayes", "us_per_digit", "fast")),
        Claim(nb, "intuitive interpretation of parameters", read, _readable("naive-bayes", True)),
        Claim(dt, "limited modeling power", "test error at least twice the best row's", _limited),
        Claim(dt, "mostly automatic", "the depth chosen on held-out digits is within 0.5 points of the best", _automatic),
        Claim(dt, "moderate learning speed", f"training time {mod}", _speed("tree", "train_seconds", "moderate")),
        Claim(dt, "fast classification", f"time per digit {fast}", _speed("tree", "us_per_digit", "fast")),
        Claim(dt, "intuitive interpretation of parameters", read, _readable("tree", True)),
        Claim(pc, "very limited modeling power", f"training error ≥ {CANNOT_FIT:.0%}", _very_limited),
        Claim(pc, "fast training", f"training time {fast}", _speed("perceptron", "train_seconds", "fast")),
        Claim(pc, "fast classification", f"time per digit {fast}", _speed("perceptron", "us_per_digit", "fast")),
        Claim(pc, "intuitive interpretation of parameters", read, _readable("perceptron", True)),
    )  # fmt: skip


CLAIMS = _claims()
HOLDS, FAILS = "holds", "does not hold here"


def verdicts(m: Measured) -> list[tuple[Claim, str, str]]:
    """(claim, verdict, the figure that decides it) for every claim of the slide."""
    out = []
    for claim in CLAIMS:
        holds, figure = claim.decide(m)
        out.append((claim, HOLDS if holds else FAILS, figure))
    return out


def summary(decided: list[tuple[str, str, str]]) -> str:
    """The slide at a glance from (row, claim, verdict) triples: per row, the claims that hold
    here and those that do not."""
    rows: dict[str, tuple[list[str], list[str]]] = {}
    for row, says, verdict in decided:
        rows.setdefault(row, ([], []))[verdict != HOLDS].append(says)
    lines = ["| the slide's row | holds here | does not hold here |", "|---|---|---|"]
    for row, (yes, no) in rows.items():
        lines.append(f"| {row} | {', '.join(yes) or '—'} | {', '.join(no) or '—'} |")
    return "\n".join(lines)


def _figures_row(f: Figures) -> str:
    return (f"| {f.name} | {f.settings} | {f.train_seconds:.3g} | {f.us_per_digit:.3g} | "
            f"{f.test_error:.2%} | {f.train_error:.2%} | {f.parameters:,} |")  # fmt: skip


def markdown(m: Measured, machine: str, command: str) -> str:
    """The slide's table with a measured figure and a verdict beside each claim, then the
    figures it was decided from."""
    lines = ["# The lecture's classifiers, measured", "",
             f"`{command}` on {machine}. Each claim of the slide with the figure that decides it "
             "and the rule it is decided by; the figures are below.", "",
             summary([(c.row, c.says, v) for c, v, _ in verdicts(m)]), "",
             "| the slide's row | says | rule | measured | verdict |", "|---|---|---|---|---|"]  # fmt: skip
    for claim, verdict, figure in verdicts(m):
        lines.append(f"| {claim.row} | {claim.says} | {claim.rule} | {figure} | {verdict} |")
    lines += ["", "| classifier | settings | training s | µs per digit | test error | "
              "training error | parameters |", "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    lines += [_figures_row(f) for f in m.rows.values()]
    lines += ["", f"Training error: on the first {TRAIN_ERROR_DIGITS:,} training digits (all, when fewer). "
              "Time per digit: the whole test set classified at once. Parameters: the numbers a "
              "person would read (k-NN: the stored digits and labels; the tree: a pixel and a "
              "threshold per split, a class per leaf). Speed words are relative to these rows: "
              "fast at most their median, slow above it, moderate within 10× of it.", ""]  # fmt: skip
    return "\n".join(lines)
