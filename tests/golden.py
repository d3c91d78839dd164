"""Golden numerics: short, fixed training runs whose final misses, losses and weights are kept in
tests/fixtures/golden.json, so a change that moves lecnn's numbers cannot pass unnoticed.

    python tests/golden.py --write       # after a change that moves the numbers on purpose

A moved number means every report made by the older code is stale: regenerate it (README,
"Rerun a row"). The runs take one thread; on the machine and torch that wrote the file the figures
must agree to the last digit, elsewhere (another CPU's kernels) to a stated closeness."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from any folder, the checkout's lecnn first

from lecnn.training.config import TrainConfig  # noqa: E402
from lecnn.training.loop import train  # noqa: E402

FILE = ROOT / "tests" / "fixtures" / "golden.json"
REGENERATE = (
    "the numerics moved: if on purpose, run `python tests/golden.py --write` and regenerate the "
    "reports whose runs it touches (`lecnn reproduce all`, `lecnn compare`; README: Rerun a row)"
)


@dataclass(frozen=True)
class Case:
    """One short run: ``settings`` for TrainConfig beside the implementation and compile mode."""

    name: str
    settings: dict[str, Any]


#: the protocols' kinds of update, each short: per-example SGD (1989), per-example SDLM (1998),
#: a batched Adam pass (the modern net)
KINDS = {
    "lecun1989-faithful": {"model": "lecun1989", "optimizer": "sgd", "lr": 0.03, "batch_size": 1,
                           "epochs": 2, "schedule": "constant", "order": "fixed",
                           "augment": False, "limit": 1000},
    "lenet5-sdlm": {"model": "lenet5", "optimizer": "sdlm:samples=100", "lr": 0.0005,
                    "batch_size": 1, "epochs": 1, "schedule": "constant", "augment": False,
                    "limit": 300},
    "lenet5-modern": {"model": "lenet5-modern", "epochs": 1, "limit": 2048, "augment": False},
}  # fmt: skip
#: compiled where lecnn compiles by default (per-example updates); a batched pass runs eagerly
MODES = {
    "lecun1989-faithful": ("off", "on"),
    "lenet5-sdlm": ("off", "on"),
    "lenet5-modern": ("off",),
}

CASES = [
    Case(f"{kind}/{impl}/{'compiled' if mode == 'on' else 'eager'}",
         {**settings, "impl": impl, "compile": mode})
    for kind, settings in KINDS.items() for impl in ("manual", "autograd") for mode in MODES[kind]
]  # fmt: skip


def environment() -> dict[str, str]:
    """What the digits depend on besides lecnn: torch, the CPU's kernels, the architecture."""
    return {
        "torch": torch.__version__.split("+")[0],
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.machine(),
    }


def measure(case: Case, data_dir: str | Path) -> dict[str, Any]:
    """Run ``case`` on one thread, seed 0, on the CPU; its final figures and a sum of its
    weights (float64, so the order of the sum is the only rounding)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="lecnn-golden-") as tmp:
            config = TrainConfig(**case.settings, seed=0, device="cpu", data_dir=str(data_dir),
                                 logdir=tmp)  # fmt: skip
            result = train(config, progress_bar=False)
            state = torch.load(Path(tmp) / "checkpoint.pt", weights_only=True)["model_state"]
    finally:
        torch.set_num_threads(threads)
    final = result.results["final"]
    return {
        "test_misses": final["test_misses"],
        "train_misses": final["train_misses"],
        "test_loss": final["test_loss"],
        "train_loss": final["train_loss"],
        "weights_sum": sum(float(v.double().sum()) for v in state.values()),
        "weights_abs_sum": sum(float(v.double().abs().sum()) for v in state.values()),
    }


def measure_apart(case: Case, data_dir: str | Path) -> dict[str, Any]:
    """``measure`` in a fresh process, as every lecnn run is made: what an earlier compilation in
    the same process left behind (torch.compile's caches and recompilation counts) cannot reach it."""
    import subprocess

    cmd = [sys.executable, str(Path(__file__).resolve()), "--case", case.name, "--data-dir",
           str(data_dir)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{case.name}: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def differences(golden: dict[str, Any], now: dict[str, Any], exact: bool) -> list[str]:
    """What ``now`` gets wrong against ``golden``: every figure equal when ``exact``; otherwise
    the misses within 3 and the sums and losses within 1e-3 relative."""
    out = []
    for key, want in golden.items():
        got = now[key]
        if exact:
            ok = got == want
        elif key.endswith("misses"):
            ok = abs(got - want) <= 3
        else:
            ok = abs(got - want) <= 1e-3 * max(abs(want), 1e-12)
        if not ok:
            out.append(f"{key}: {got!r} now, {want!r} golden")
    return out


def write(data_dir: str | Path) -> None:
    cases = {}
    for case in CASES:
        cases[case.name] = measure_apart(case, data_dir)
        print(f"{case.name}: {cases[case.name]}", flush=True)
    body = {"environment": environment(), "threads": 1, "cases": cases}
    FILE.write_text(json.dumps(body, indent=2) + "\n")
    print(f"wrote {FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help="measure every case, write the file")
    p.add_argument("--case", help="measure this case alone; print its figures as JSON")
    p.add_argument("--data-dir", default=os.environ.get("LECNN_DATA"))
    args = p.parse_args()
    if not (args.write or args.case) or not args.data_dir:
        p.error("--write or --case NAME, with the data from --data-dir or LECNN_DATA")
    if args.case:
        import contextlib

        with contextlib.redirect_stdout(sys.stderr):  # the run's own lines: not the answer
            figures = measure(next(c for c in CASES if c.name == args.case), args.data_dir)
        print(json.dumps(figures))
    else:
        write(args.data_dir)
