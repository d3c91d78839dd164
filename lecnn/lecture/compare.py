"""The lecture's "pros and cons of different classifiers" and LeCun 1998's comparison (its
Fig. 9), measured on MNIST here: test error, training time and classification time per digit."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from lecnn.data import Digits, prepare
from lecnn.data.derived import Split
from lecnn.device import describe_machine
from lecnn.errors import LecnnError
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
    seed: int = 0


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


def run(data: Digits, device: torch.device, seeds: Sequence[int] = (0,),
        epochs: dict | None = None, limit: int | None = None, out_dir: Path | None = None,
        log=print, rows: tuple[str, ...] = ROWS, boost_size: int | None = None,
        command: str = "") -> list[Row]:  # fmt: skip
    """Train and time each classifier in ``rows`` once per seed in ``seeds``; ``epochs``
    overrides passes per key (quick runs); ``boost_size``: examples for boosted LeNet-4's second
    and third nets. With ``out_dir``, the table aggregates the seeds (see ``write``)."""
    begin = time.perf_counter()
    out: list[Row] = []
    for seed in seeds:
        if len(seeds) > 1:
            log(f"seed {seed}")
        out += _one_seed(data, device, seed, epochs, limit, log, rows, boost_size)
    if out_dir is not None:
        seconds = time.perf_counter() - begin
        write(out, out_dir, describe_machine(device), limit, seconds, command)
    return out


def _one_seed(data: Digits, device: torch.device, seed: int, epochs: dict | None,
              limit: int | None, log, rows: tuple[str, ...],
              boost_size: int | None) -> list[Row]:  # fmt: skip
    passes = {**PASSES, **(epochs or {})}
    out: list[Row] = []

    def add(key: str, test_error: float, seconds: float, ms: float, settings: str) -> None:
        what, published = PUBLISHED[key]
        out.append(Row(key, what, test_error, seconds, ms, published, settings, seed))
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
    return out


def _percent(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2%}"
    return f"{statistics.mean(values):.2%} ± {statistics.stdev(values):.2%}"


def _aggregate(rows: list[Row]) -> list[list[Row]]:
    """Each classifier's rows, ordered by seed, the classifiers in the paper's order."""
    by_key: dict[str, list[Row]] = {}
    for r in sorted(rows, key=lambda r: (ROWS.index(r.key), r.seed)):
        by_key.setdefault(r.key, []).append(r)
    return list(by_key.values())


def write(rows: list[Row], out_dir: Path, machine: str, limit: int | None, seconds: float,
          command: str = "") -> None:  # fmt: skip
    """compare.md, compare.json and compare.png (the paper's Fig. 9 with lecnn beside it).
    Each classifier's test error is the mean ± standard deviation over its seeds (each seed's
    listed), its times the means; its settings are its first seed's."""
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = _aggregate(rows)
    seeds = sorted({r.seed for r in rows})
    counts = sorted({len(g) for g in groups})
    seed_text = (f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} "
                 f"({', '.join(map(str, seeds))})"
                 + ("" if len(counts) == 1 else " (not every row has every seed)"))  # fmt: skip
    runs = [c for c in command.split("\n") if c]
    commands = "; ".join(f"`{c}`" for c in runs)
    took = (f"Its {len(runs)} runs took {seconds / 60:.1f} min added together"
            if len(runs) > 1 else f"The whole comparison took {seconds / 60:.1f} min")  # fmt: skip
    lines = [f"# Classifiers on MNIST, measured on {machine}", "",
             f"{seed_text}; test error is the mean ± standard deviation over the seeds, times "
             f"are means, settings are the first seed's. {took}"
             + (f" (training on the first {limit:,} digits only)" if limit else "") + "."
             + (f" Command: {commands}." if commands else ""), "",
             "| classifier | test error | each seed | LeCun 1998 | training time | classification time per digit | settings |",
             "|---|---:|---|---:|---:|---:|---|"]  # fmt: skip
    for group in groups:
        first = group[0]
        errors = [r.test_error for r in group]
        each = ", ".join(f"{r.seed}: {r.test_error:.2%}" for r in group)
        train_s = statistics.mean(r.train_seconds for r in group)
        ms = statistics.mean(r.ms_per_digit for r in group)
        lines.append(f"| {first.what} | {_percent(errors)} | {each} | {first.published:.2%} | "
                     f"{train_s:.1f} s | {ms:.4f} ms | {first.settings} |")  # fmt: skip
    lines += ["", "![test error per classifier, LeCun 1998 beside lecnn](compare.png)"]
    text = "\n".join(lines) + "\n"
    write_atomically(out_dir / "compare.md", lambda f: f.write(text.encode()))
    record = {"machine": machine, "limit": limit, "seconds": seconds, "command": command,
              "seeds": seeds, "rows": [asdict(r) for r in rows]}  # fmt: skip
    body = json.dumps(record, indent=2).encode()
    write_atomically(out_dir / "compare.json", lambda f: f.write(body))
    means = [(g[0].what, g[0].published, statistics.mean(r.test_error for r in g)) for g in groups]
    figure9.plot(means, out_dir / "compare.png",
                 f"MNIST test error: LeCun et al. 1998 (Fig. 9) and lecnn, mean of "
                 f"{seed_text} ({machine})")  # fmt: skip


def merge(sources: Sequence[Path], out_dir: Path) -> list[Row]:
    """One table from comparisons run separately (e.g. one seed per process): their rows
    together, their times added, their commands listed. The same classifier and seed twice, or
    different ``--limit``s, cannot be merged."""
    rows: list[Row] = []
    machines: list[str] = []
    commands: list[str] = []
    limits, seconds = set(), 0.0
    names = {f.name for f in fields(Row)}
    for src in sources:
        path = Path(src) / "compare.json"
        try:
            record = json.loads(path.read_text())
            new = [Row(**{k: v for k, v in r.items() if k in names}) for r in record["rows"]]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise LecnnError(f"{path}: not a comparison lecnn compare wrote ({e}); "
                             f"name folders that hold its compare.json") from None  # fmt: skip
        seen = {(r.key, r.seed) for r in rows}
        twice = sorted({f"{r.key} seed {r.seed}" for r in new if (r.key, r.seed) in seen})
        if twice:
            raise LecnnError(f"{path}: {', '.join(twice)} already in an earlier folder; merge "
                             f"each classifier and seed once")  # fmt: skip
        rows += new
        limits.add(record.get("limit"))
        seconds += float(record.get("seconds", 0.0))
        if record.get("machine") and record["machine"] not in machines:
            machines.append(record["machine"])
        commands += [c for c in str(record.get("command", "")).split("\n") if c]
    if len(limits) > 1:
        raise LecnnError("these comparisons trained on different --limit values; merge only "
                         "comparisons of the same data")  # fmt: skip
    write(rows, out_dir, "; ".join(machines), limits.pop(), seconds, "\n".join(commands))
    return rows
