"""How far healthy runs stay from the divergence rule (``lecnn.training.state.GROWTH``): for every
committed run's history (runs/ablations/*/results.json, the protocols' variants), the untrained
network's first-update loss as the run met it, and the largest pass-mean train loss over it.

    python scripts/divergence_margin.py [--data-dir DIR]

A rule that fires at 1e4 is safe where every ratio here is far below it; runs/bench/
divergence_margin.txt keeps the output.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

from lecnn.data import make_generator, pass_order
from lecnn.training.config import TrainConfig
from lecnn.training.engine import encode_targets, make_engine
from lecnn.training.setup import load_data
from lecnn.training.state import GROWTH

ROOT = Path(__file__).resolve().parent.parent
CPU = torch.device("cpu")


def first_loss(cfg: TrainConfig, data) -> float:
    """The loss of the run's first update, per example, before any step (no augmentation)."""
    spec_engine = make_engine(cfg_spec(cfg), cfg.impl, seed=cfg.seed, device=CPU)
    train = data.train.limited(cfg.limit) if hasattr(data.train, "limited") else data.train
    order = pass_order(len(train), device=CPU, generator=make_generator(CPU, cfg.seed),
                       shuffle=cfg.order != "fixed")  # fmt: skip
    idx = order[: cfg.batch_size]
    x, t = train.x[idx], encode_targets(train.y[idx], spec_engine.spec.target, torch.float32)
    spec_engine.train(False)
    loss = float(spec_engine.loss_value(spec_engine.outputs(x), t))
    return loss / len(idx) if spec_engine.spec.sums_examples else loss


def cfg_spec(cfg: TrainConfig):
    from lecnn.models import get_spec

    return get_spec(cfg.model)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("LECNN_DATA", "../shared/data/mnist"))
    args = ap.parse_args()
    print(f"# rule: diverged when a stretch's mean loss > {GROWTH:.0e} × the first loss")
    print(f"{'run':34s} {'first loss':>11s} {'largest pass mean':>18s} {'ratio':>9s}")
    worst, cache = 0.0, {}
    for path in sorted((ROOT / "runs" / "ablations").glob("*/results.json")):
        r = json.loads(path.read_text())
        cfg = TrainConfig.from_dict({**r["config"], "data_dir": args.data_dir}).resolved()
        key = (cfg.input_form(), cfg.data_seed)
        if key not in cache:
            cache[key] = load_data(cfg, CPU, torch.float32)
        first = first_loss(cfg, cache[key])
        largest = max(h["train_loss"] for h in r["history"])
        ratio = largest / first
        worst = max(worst, ratio)
        print(f"{path.parent.name:34s} {first:11.4g} {largest:18.4g} {ratio:9.3g}")
    print(f"largest ratio of any run: {worst:.3g} (the rule fires above {GROWTH:.0e})")


if __name__ == "__main__":
    main()
