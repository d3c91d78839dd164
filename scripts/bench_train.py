"""Training speed: seconds per pass, images/s and µs per update for each model × implementation ×
device, eager and compiled (``--compile off,on``: the same run both ways, side by side), and the
training time lenet5-modern needs to reach 99.0% test accuracy. Prints measured figures, asserts
nothing. A compiled run's first pass includes its compilation: the table shows the second pass
and the compilation's cost (first pass minus second) apart.

    python scripts/bench_train.py --data-dir ../shared/data/mnist
    OMP_NUM_THREADS=1 python scripts/bench_train.py --models lecun1989,lenet5 --compile off,on
    python scripts/bench_train.py --models lenet5-modern --batch-size 512,128 \\
        --memory-formats channels-last,contiguous --repeats 3 --epochs-to-99 0
    python scripts/bench_train.py --devices cuda --models lenet5-modern --batch-sizes 128,512
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile

import torch

from lecnn.device import describe_device, select_device
from lecnn.models import MODELS
from lecnn.training import compiled
from lecnn.training.config import RECIPES, TrainConfig
from lecnn.training.loop import Trainer, load_data


def machine(device: torch.device) -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{describe_device(device)}; host {cpu}, {os.cpu_count()} cores; torch {torch.__version__}"
    )


def warm_up(model, impl, device, data, batch_size=None):
    """A short untimed run first on a GPU: CUDA's context, cuDNN's algorithm search and the
    kernels' loading belong to no pass."""
    if device.type != "cuda":
        return
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(model=model, impl=impl, device=str(device), epochs=1, logdir=tmp,
                          batch_size=batch_size)  # fmt: skip
        bs = batch_size or cfg.resolved().batch_size
        cfg.limit = min(len(data.train), 20 * bs)
        Trainer(cfg, data=data, progress_bar=False).run()


def timed_passes(
    model, impl, device, data, compile_="off", batch_size=None, optimizer=None, limit=None,
    memory_format="auto",
):  # fmt: skip
    """(seconds of each pass, batch size): one pass eagerly, two when compiled (the first holds
    the compilation)."""
    warm_up(model, impl, device, data, batch_size)
    passes = 1 if compile_ == "off" else 2
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(model=model, impl=impl, device=str(device), epochs=passes, logdir=tmp,
                          batch_size=batch_size, compile=compile_, optimizer=optimizer,
                          eval_every=passes, limit=limit, memory_format=memory_format)  # fmt: skip
        trainer = Trainer(cfg, data=data, progress_bar=False)
        trainer.run()
        seconds = [h["train_seconds"] for h in trainer.progress.history]
        seconds = [b - a for a, b in zip([0.0, *seconds], seconds)]
        return seconds, trainer.config.batch_size


def time_to_99(impl, device, data, epochs, batch_size):
    """Training seconds until lenet5-modern's test accuracy first reaches 99.0% (evaluated after
    each pass), with Adam's rate scaled as √(batch / 128) from the model's default."""
    warm_up("lenet5-modern", impl, device, data, batch_size)
    default = TrainConfig().resolved()
    lr = default.lr * (batch_size / default.batch_size) ** 0.5
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(impl=impl, device=str(device), epochs=epochs, logdir=tmp,
                          batch_size=batch_size, lr=lr)  # fmt: skip
        trainer = Trainer(cfg, data=data, progress_bar=False)
        trainer.run()
        for h in trainer.progress.history:
            if h["test_error"] <= 0.01:
                return h["train_seconds"], h["epoch"], 1 - h["test_error"]
        last = trainer.progress.history[-1]
        return None, last["epoch"], 1 - last["test_error"]


def recipe_runs(recipe, impl, device, data, seeds, compile_):
    """Each seed's training seconds (evaluation excluded) and final test accuracy."""
    warm_up(RECIPES[recipe]["model"], impl, device, data)
    rows = []
    for seed in range(seeds):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = TrainConfig(model=RECIPES[recipe]["model"], recipe=recipe, impl=impl, seed=seed,
                              device=str(device), logdir=tmp, compile=compile_)  # fmt: skip
            trainer = Trainer(cfg, data=data, progress_bar=False)
            result = trainer.run()
            rows.append(
                (result.results["train_seconds"], 1 - result.results["final"]["test_error"])
            )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir")
    p.add_argument("--devices", default="cpu" + (",cuda" if torch.cuda.is_available() else ""))
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--impls", default="autograd,manual")
    p.add_argument(
        "--epochs-to-99", type=int, default=3, help="passes for the 99%% run (0: no such run)"
    )
    p.add_argument("--batch-sizes", default="128", help="batch sizes to try for the 99%% run")
    p.add_argument("--compile", default="off", help="off, on, or off,on for both side by side")
    p.add_argument("--optimizer", help="instead of each model's own (e.g. sdlm for lenet5)")
    p.add_argument("--batch-size", help="instead of each model's own; several: 512,128")
    p.add_argument(
        "--memory-formats", default="auto", help="--memory-format values, alternating: auto, "
        "channels-last, contiguous or channels-last,contiguous"
    )  # fmt: skip
    p.add_argument("--per-call", type=int, help="updates per compiled call (default: PER_CALL)")
    p.add_argument("--limit", type=int, help="passes over the first N training digits only")
    p.add_argument("--recipe", help="time this recipe instead (e.g. fast), --seeds runs each")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=1, help="timed passes per implementation")
    args = p.parse_args()
    if args.per_call:
        for kind in compiled.PER_CALL:
            compiled.PER_CALL[kind] = args.per_call
    modes = args.compile.split(",")
    layouts = args.memory_formats.split(",")
    batch_sizes = [int(b) for b in args.batch_size.split(",")] if args.batch_size else [None]
    print(f"# threads: {torch.get_num_threads()}, updates per compiled call: {compiled.PER_CALL}")
    for dev_name in args.devices.split(","):
        device = select_device(dev_name)
        print(f"\n## {machine(device)}")
        if args.recipe:
            model = RECIPES[args.recipe]["model"]
            data = load_data(
                TrainConfig(model=model, data_dir=args.data_dir), device, torch.float32
            )
            for impl in args.impls.split(","):
                for mode in modes:
                    rows = recipe_runs(args.recipe, impl, device, data, args.seeds, mode)
                    secs = [r[0] for r in rows]
                    accs = [r[1] for r in rows]
                    print(f"recipe {args.recipe} ({model}), {impl}, compile {mode}: test accuracy "
                          + ", ".join(f"{100 * a:.2f}%" for a in accs)
                          + f"; mean {100 * sum(accs) / len(accs):.2f}%; training seconds "
                          + ", ".join(f"{t:.2f}" for t in secs)
                          + f"; mean {sum(secs) / len(secs):.2f} s", flush=True)  # fmt: skip
            continue
        print(f"{'model':16s} {'impl':9s} {'compile':8s} {'layout':13s} {'batch':>5s} "
              f"{'s/pass':>8s} {'images/s':>10s} {'µs/update':>10s} "
              f"{'compiling s':>12s}")  # fmt: skip
        cache = {}
        per_impl = {}
        for model in args.models.split(","):
            spec_input = MODELS[model].input
            if spec_input not in cache:
                cfg = TrainConfig(model=model, data_dir=args.data_dir)
                cache[spec_input] = load_data(cfg, device, torch.float32)
            n = min(len(cache[spec_input].train), args.limit or len(cache[spec_input].train))
            # --repeats: every variant takes its turn each round, so a slow spell of the machine
            # falls on all of them; the implementations innermost, so the two sides of each ratio
            # run one after the other; the ratio is of the medians
            variants = [(i, m, f, b) for m in modes for f in layouts for b in batch_sizes
                        for i in args.impls.split(",")]  # fmt: skip
            for impl, mode, layout, batch in variants * args.repeats:
                seconds, bs = timed_passes(
                    model, impl, device, cache[spec_input], mode, batch, args.optimizer,
                    args.limit, layout,
                )  # fmt: skip
                per_impl.setdefault((model, impl, mode, layout, bs), []).append(s := seconds[-1])
                compiling = f"{seconds[0] - seconds[1]:12.1f}" if len(seconds) > 1 else ""
                print(f"{model:16s} {impl:9s} {mode:8s} {layout:13s} {bs:5d} {s:8.2f} "
                      f"{n / s:10,.0f} {1e6 * s / -(-n // bs):10.1f} {compiling}",
                      flush=True)  # fmt: skip
        for (model, impl, mode, layout, bs), times in per_impl.items():
            auto = per_impl.get((model, "autograd", mode, layout, bs))
            if impl == "manual" and auto:
                manual, auto_s = statistics.median(times), statistics.median(auto)
                print(f"{model} ({mode}, {layout}, batch {bs}): manual / autograd time per pass = "
                      f"{manual / auto_s:.2f} (medians of {len(times)}: {manual:.2f} s / "
                      f"{auto_s:.2f} s)")  # fmt: skip
        if "lenet5-modern" in args.models.split(",") and args.epochs_to_99 > 0:
            data = cache[MODELS["lenet5-modern"].input]
            for bs in (int(b) for b in args.batch_sizes.split(",")):
                for impl in args.impls.split(","):
                    seconds, epoch, acc = time_to_99(impl, device, data, args.epochs_to_99, bs)
                    reached = (
                        f"{seconds:.2f} s of training (pass {epoch})" if seconds else "not reached"
                    )
                    print(
                        f"lenet5-modern {impl}, batch {bs}, {args.epochs_to_99} passes: "
                        f"99.0% test accuracy {reached}; final {acc:.2%}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
