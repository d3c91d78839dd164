"""The authors' small LeNet-5 demo as eblearn's test runs it (Augertron/eblearn
eblearn/tester/src/NetTest.cpp, test_lenet5_mnist): the first 2,000 training digits, the 1,000
test digits 4,500–5,499, the curvature estimated once on the first 100 training digits (μ = 0.02),
5 passes at η = 1e-4 in file order; eblearn's test records ε in [0.985363, 49.851524] and 97.15%
training / 95.80% test accuracy for its generator (seed 0 of its own drand). Run with
lecnn's ``lenet5-lush`` network and seeds; prints measured figures, asserts nothing (output kept
in runs/bench/lush_demo-cpu.txt).

    OMP_NUM_THREADS=1 python scripts/lush_demo.py --data-dir ../shared/data/mnist --seeds 3
"""

from __future__ import annotations

import argparse
import tempfile

import torch

from lecnn import manual as M
from lecnn.training.config import TrainConfig
from lecnn.training.loop import Trainer, load_data


def kept(trainer: Trainer, name: str, t: torch.Tensor) -> torch.Tensor:
    """``t``'s entries for weights the network has: C3's unconnected ones, which lecnn holds at 0
    and Lush does not allocate, left out (their curvature is 0, their ε exactly 1/μ)."""
    index, _, key = name.partition(".")
    layer = trainer.engine.manual_net().layers[int(index)]
    if isinstance(layer, M.Conv2d) and key == "weight":
        return t[layer.mask.bool()]
    return t.flatten()


def accuracy(trainer: Trainer, x: torch.Tensor, y: torch.Tensor) -> float:
    engine = trainer.engine
    engine.train(False)
    with torch.no_grad():
        return float((engine.predict(engine.outputs(x)) == y).double().mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--impl", default="manual")
    args = p.parse_args()
    base = TrainConfig(model="lenet5-lush", data_dir=args.data_dir)
    data = load_data(base, torch.device("cpu"), torch.float32)
    test_x, test_y = data.test.x[4500:5500], data.test.y[4500:5500]
    print(f"# lenet5-lush, {args.impl}, the eblearn demo's protocol; torch {torch.__version__}")
    for seed in range(args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = TrainConfig(model="lenet5-lush", impl=args.impl, seed=seed, limit=2000,
                              epochs=5, lr=1e-4, schedule="constant", logdir=tmp,
                              optimizer="sdlm:samples=100,every=5", eval_every=5)  # fmt: skip
            trainer = Trainer(cfg, data=data, progress_bar=False)
            trainer.run()
            scale = torch.cat(
                [kept(trainer, k, s["scale"]) for k, s in trainer.setup.optimizer.state.items()]
            )
            train = accuracy(trainer, data.train.x[:2000], data.train.y[:2000])
            print(f"seed {seed}: ε in [{float(scale.min()):.6f}, {float(scale.max()):.6f}]; "
                  f"training {100 * train:.2f}%, test 4,500–5,499 "
                  f"{100 * accuracy(trainer, test_x, test_y):.2f}%", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
