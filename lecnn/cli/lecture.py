"""``lecnn lecture STEP`` and ``lecnn compare``: the lecture's path, runnable."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from lecnn.cli.common import add_data_args, positive_int, seed
from lecnn.compare.classifiers import KEYS as ROWS

STEPS = ("linreg", "logistic", "xor", "sgd", "capacity", "classifiers")
#: lecnn compare's flags that say how to train: meaningless with --merge, so refused there
TRAINING_FLAGS = ("--seed", "--seeds", "--rows", "--limit", "--epochs", "--boost-size",
                  "--device", "--dataset", "--data-dir", "--jobs")  # fmt: skip


def _rows(text: str) -> tuple[str, ...]:
    rows = tuple(r.strip() for r in text.split(",") if r.strip())
    unknown = [r for r in rows if r not in ROWS]
    if unknown or not rows:
        raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(ROWS)}")
    return rows


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--logdir", help="TensorBoard folder (default runs/lecture-<step>-<time>)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=seed, default=0)


def add_parsers(sub) -> None:
    _add_lecture(sub)
    _add_compare(sub)


def _add_lecture(sub) -> None:
    p = sub.add_parser(
        "lecture", help="the lecture's steps: linreg, logistic, xor, sgd, capacity, classifiers"
    )
    p.add_argument("step", choices=STEPS)
    _common(p)
    add_data_args(p)
    p.add_argument(
        "--trials",
        type=positive_int,
        default=20,
        help="xor/classifiers: random starts of the XOR net",
    )
    p.add_argument(
        "--passes", type=positive_int, help="sgd/capacity/classifiers: passes over the data"
    )
    p.add_argument(
        "--limit", type=positive_int, help="sgd/capacity/classifiers: training digits used"
    )
    p.add_argument(
        "--out", metavar="DIR", type=Path, help="also write the step's picture there as a PNG"
    )
    p.set_defaults(run=run_lecture)


def _add_compare(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="LeCun 1998's comparison: linear, k-NN, MLP, SVM, LeNet-1, LeNet-4, boosted LeNet-4, "
        "LeNet-5 on MNIST",
        description="LeCun 1998's comparison (its Fig. 9) measured here: a table (compare.md), "
        "the figures (compare.json) and a chart (compare.png). The CNN rows train by the paper's "
        "protocol (20 per-example SDLM passes): about 40 minutes per seed on one CPU thread; "
        "--rows, --epochs and --limit give a quicker look. --seeds N repeats every row with seeds "
        "--seed … --seed+N-1 (the table gives mean ± std); --merge joins comparisons run "
        "separately, e.g. one seed per process.",
    )
    _common(p)
    p.add_argument("--seeds", type=positive_int, default=1, help="seeds per row (default 1)")
    p.add_argument(
        "--jobs",
        type=positive_int,
        help="seeds measured at once, each in its own process on one thread (default: one per "
        "usable core; 1: one after another)",
    )
    p.add_argument(
        "--merge",
        nargs="+",
        metavar="DIR",
        help="train nothing: one table in --logdir from these folders' compare.json",
    )
    add_data_args(p)
    p.add_argument("--limit", type=positive_int, help="train on the first N digits (quick look)")
    p.add_argument("--epochs", type=positive_int, help="passes for every trained classifier")
    p.add_argument(
        "--rows",
        type=_rows,
        help="comma-separated rows (default all): " + ", ".join(ROWS),
    )
    p.add_argument(
        "--boost-size",
        type=positive_int,
        help="filtered digits for boosted LeNet-4's nets 2 and 3 (default: 60,000 each)",
    )
    p.set_defaults(run=run_compare)


def run_lecture(args: argparse.Namespace) -> int:
    from lecnn.device import select_device
    from lecnn.lecture import capacity, linreg, logistic, sgd, xor

    device = select_device(args.device)
    out = args.out
    if args.step == "linreg":
        linreg.run(args.logdir, seed=args.seed, out=out)
    elif args.step == "logistic":
        logistic.run(args.logdir, seed=args.seed, out=out)
    elif args.step == "xor":
        xor.run(args.logdir, seed=args.seed, trials=args.trials, out=out)
    elif args.step == "classifiers":
        from lecnn.data import load_mnist
        from lecnn.errors import LecnnError

        if args.device not in ("auto", "cpu"):
            raise LecnnError(f"lecture classifiers runs on the CPU, so that the six rows' times "
                             f"compare (scikit-learn's models have no GPU form): leave out "
                             f"--device {args.device}")  # fmt: skip
        from lecnn.lecture import classifiers

        digits = load_mnist(args.data_dir, dataset=args.dataset)
        classifiers.run(digits, args.logdir, seed=args.seed, limit=args.limit,
                        passes=args.passes or 10, xor_starts=args.trials, out=out,
                        command=shlex.join(["lecnn", *args.argv]))  # fmt: skip
    else:
        from lecnn.data import load_mnist, prepare

        data = prepare(load_mnist(args.data_dir, dataset=args.dataset), "mnist28", device)
        if args.step == "sgd":
            train = data.train.head(args.limit or 5000)
            sgd.run(train, args.logdir, seed=args.seed, passes=args.passes or 5, out=out)
        else:
            train, test = data.train.head(args.limit or 1000), data.test.head(2000)
            capacity.run(
                train, test, args.logdir, seed=args.seed, passes=args.passes or 60, out=out
            )
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from lecnn import compare
    from lecnn.data import load_mnist
    from lecnn.device import select_device
    from lecnn.errors import LecnnError
    from lecnn.logs.tensorboard import timestamped_run_dir
    from lecnn.training.jobs import default_jobs

    if args.merge:
        given = [
            f for f in TRAINING_FLAGS if any(a == f or a.startswith(f + "=") for a in args.argv)
        ]
        if given:
            raise LecnnError(f"--merge trains nothing: leave out {', '.join(given)} (the merged "
                             f"folders' own settings are what the table shows)")  # fmt: skip
    made = not args.logdir  # a folder this command makes is removed again if nothing lands in it
    out = Path(args.logdir) if args.logdir else timestamped_run_dir("compare")
    if (out / "compare.json").exists():
        raise LecnnError(f"{out} already holds a comparison; give --logdir a new folder")
    if args.merge:
        try:
            rows = compare.merge([Path(d) for d in args.merge], out)
        except BaseException:
            if made and out.is_dir() and not any(out.iterdir()):
                out.rmdir()
            raise
        print(f"{len(rows)} rows from {len(args.merge)} folders; table: {out / 'compare.md'}")
        return 0
    device = select_device(args.device)
    data = load_mnist(args.data_dir, dataset=args.dataset)
    epochs = dict.fromkeys(compare.KEYS, args.epochs) if args.epochs else None
    seeds = range(args.seed, args.seed + args.seeds)
    jobs = min(args.jobs or default_jobs(), len(seeds))
    compare.run(data, device, seeds=seeds, epochs=epochs, limit=args.limit, out_dir=out,
                jobs=jobs, data_dir=args.data_dir, dataset=args.dataset,
                rows=args.rows or compare.KEYS, boost_size=args.boost_size,
                command=shlex.join(["lecnn", *args.argv]))  # fmt: skip
    print(f"table: {out / 'compare.md'}")
    return 0
