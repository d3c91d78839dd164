"""lecnn's fastest recipe against two plain PyTorch peers, in one run, seeds alternated, on the
same tensors: the training seconds each needs and the test accuracy it reaches.

Peers (written here, plain PyTorch, data already in memory, no DataLoader):
- ``plain-lenet5``: the modern LeNet-5 (lenet5-modern's layers) with ``torch.optim.Adam`` and
  ``OneCycleLR``, 2 passes of batch 512, peak rate 2e-2;
- ``record``: the fast-MNIST record net (conv 24@5×5, pool, ReLU, conv 32@3×3, pool, ReLU,
  256 hidden, 10 out), Adam (β 0.7, 0.9) at 1e-2 with ``OneCycleLR``, 1 pass of batch 256.

    python scripts/bench_peers.py --data-dir ../shared/data/mnist      # keep the output in
                                                                       # runs/bench/bench_peers-cpu.txt
    python scripts/bench_peers.py --seeds 3 --lecnn "--recipe fast" --lecnn "--recipe fast --impl manual"

Each ``--lecnn`` is a ``lecnn train`` command line's flags, read by its own parser. Time them with
nothing else running.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import os
import shlex
import statistics
import tempfile
import time
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from lecnn.cli.train import config_from_flags
from lecnn.data import load_mnist
from lecnn.data.derived import standardize
from lecnn.device import describe_machine, select_device
from lecnn.training.config import TrainConfig
from lecnn.training.loop import Trainer, load_data


def plain_lenet5() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 120, 5), nn.ReLU(), nn.Flatten(),
        nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def record_net() -> nn.Module:
    # max-pooling before the ReLU, as the record does: the same function, a quarter of the ReLUs
    return nn.Sequential(
        nn.Conv2d(1, 24, 5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(24, 32, 3), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
        nn.Linear(800, 256), nn.ReLU(), nn.Linear(256, 10),
    )  # fmt: skip


#: peer name → (network, passes, batch size, peak rate, Adam's betas)
PEERS = {
    "plain-lenet5": (plain_lenet5, 2, 512, 2e-2, (0.9, 0.999)),
    "record": (record_net, 1, 256, 1e-2, (0.7, 0.9)),
}


def run_peer(name: str, seed: int, train, test, device) -> tuple[float, float]:
    """(training seconds, test accuracy) of one peer run."""
    make, passes, batch, lr, betas = PEERS[name]
    torch.manual_seed(seed)
    net = make().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=betas)
    steps = -(-len(train[1]) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=steps * passes, cycle_momentum=False
    )
    gen = torch.Generator(device=device).manual_seed(seed)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(passes):
        order = torch.randperm(len(train[1]), device=device, generator=gen)
        for i in range(steps):
            idx = order[i * batch : (i + 1) * batch]
            loss = F.cross_entropy(net(train[0][idx]), train[1][idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    sync()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        net.eval()
        correct = sum(
            int((net(test[0][i : i + 2000]).argmax(1) == test[1][i : i + 2000]).sum())
            for i in range(0, len(test[1]), 2000)
        )
    return seconds, correct / len(test[1])


def run_lecnn(flags: str, seed: int, data, device) -> tuple[float, float]:
    """(training seconds, final test accuracy) of one ``lecnn train`` run with these flags."""
    with tempfile.TemporaryDirectory() as tmp:
        given = config_from_flags(shlex.split(flags))
        cfg = replace(given, seed=seed, device=str(device), logdir=tmp)
        cfg.eval_every = cfg.resolved().epochs  # test once, at the end, like the peers
        with contextlib.redirect_stdout(io.StringIO()):
            result = Trainer(cfg, data=data, progress_bar=False).run()
    return result.results["train_seconds"], 1 - result.results["final"]["test_error"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("LECNN_DATA"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument(
        "--lecnn", action="append", help="lecnn train flags to time (default --recipe fast)"
    )
    args = ap.parse_args()
    device = select_device(args.device)
    print(f"# {describe_machine(device)}; threads {torch.get_num_threads()}; {args.seeds} seeds, "
          "alternated; training seconds exclude data loading and testing", flush=True)  # fmt: skip
    digits = load_mnist(args.data_dir)
    train = (standardize(digits.train_images).to(device), digits.train_labels.to(device))
    test = (standardize(digits.test_images).to(device), digits.test_labels.to(device))
    data = load_data(TrainConfig(model="lenet5-modern", data_dir=args.data_dir), device,
                     torch.float32)  # fmt: skip
    contenders = {  # name → one run for a seed: (training seconds, test accuracy)
        **{
            f"lecnn {flags}": functools.partial(run_lecnn, flags, data=data, device=device)
            for flags in args.lecnn or ["--recipe fast"]
        },
        **{
            p: functools.partial(run_peer, p, train=train, test=test, device=device)
            for p in args.peers.split(",")
            if p
        },
    }
    if device.type == "cuda":  # CUDA's start and cuDNN's search belong to no contender
        for one in contenders.values():
            one(0)
    rows: dict[str, list[tuple[float, float]]] = {c: [] for c in contenders}
    for seed in range(args.seeds):
        for c, one in contenders.items():
            r = one(seed)
            rows[c].append(r)
            print(f"seed {seed} {c}: {r[0]:.2f} s, {r[1]:.2%}", flush=True)
    print(f"\n{'contender':44s} {'mean s':>7s} {'median s':>8s} {'mean acc':>8s} {'worst':>7s}")
    summary = {}
    for c, rs in rows.items():
        secs, accs = [s for s, _ in rs], [a for _, a in rs]
        summary[c] = statistics.median(secs)
        print(f"{c:44s} {statistics.mean(secs):7.2f} {summary[c]:8.2f} "
              f"{statistics.mean(accs):8.2%} {min(accs):7.2%}")  # fmt: skip
    peers = [c for c in contenders if not c.startswith("lecnn ")]
    reached = [c for c in peers if statistics.mean(a for _, a in rows[c]) >= 0.99]
    for label, among in (("the best peer", peers), ("the best peer at 99% or more", reached)):
        if not among:
            continue
        best = min(among, key=summary.get)
        for c in contenders:
            if c.startswith("lecnn "):
                print(f"{c}: {summary[c] / summary[best]:.2f}× the training time of {label} "
                      f"({best}), medians")  # fmt: skip


if __name__ == "__main__":
    main()
