"""``lecnn diagnose``: what is wrong with a run, read from its health record (``RUN/health.jsonl``,
written by ``lecnn.training.health``), in plain words, each finding with the figure that shows it
and one line of advice.

The rules, each over a stretch of training (a pass: the mean of its samples):

- **saturated**: nine in ten or more of a squashing layer's units within 3% of their bounds, where
  g' ≈ 0 and nothing passes back through them;
- **dead**: half or more of a ReLU layer's units zero for every example of the probe's batch;
- **vanishing Δ**: the lowest layer's Δ under 1e-4 of the output layer's: the layers below learn
  nothing;
- **steps too large**: a parameter's update 10% or more of its size (log10 ratio ≥ −1; about −3
  is healthy);
- **not finite**: a NaN or infinity in any figure: the run diverged.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lecnn.errors import LecnnError

#: a trained tanh network saturates many units (the faithful LeNet-5: C5 72% by pass 2, while
#: learning well); a failing one nearly all of them (the printed initialisation: 94-100% in every
#: layer from pass 1 on)
SATURATED, DEAD, VANISHING, LARGE_STEP = 0.9, 0.5, 1e-4, -1.0

ADVICE = {
    "saturated": "start from smaller weights (U(±2.4/√F) rather than the printed ±2.4/F) or take "
    "smaller steps; subsampling that averages its inputs keeps the next layer in range",
    "dead": "take smaller steps, or start the biases above 0, so the units see positive inputs",
    "vanishing": "the gradient dies on its way down: smaller initial weights in the saturated "
    "layers above, or a per-layer step (SDLM's curvature) that scales up the low layers' steps",
    "large_step": "a smaller step size (--lr), or a schedule that starts lower",
    "not_finite": "the run diverged: a smaller step size, and check the data for NaNs",
}


@dataclass(frozen=True)
class Finding:
    """One problem: the layer, the kind (a key of ``ADVICE``), and the sentence with its figure."""

    layer: str
    kind: str
    text: str


def read_record(run_dir: Path) -> list[dict[str, Any]]:
    """The run's health samples in order; a one-line refusal for a folder that is not a run or
    has no record. A line cut short (a crash mid-write) is skipped."""
    if not run_dir.is_dir():
        raise LecnnError(f"{run_dir}: no such run folder")
    path = run_dir / "health.jsonl"
    # a run that diverged before its first checkpoint leaves only its health record: kept
    if not any((run_dir / f).exists() for f in ("results.json", "checkpoint.pt", path.name)):
        raise LecnnError(f"{run_dir}: not a lecnn run folder (no results.json or checkpoint.pt)")
    if not path.exists():
        raise LecnnError(
            f"{run_dir}: no health record (health.jsonl): a run from before lecnn recorded "
            "training health, or one trained with --health-every 0"
        )
    samples = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            sample = json.loads(line)
        except ValueError:
            continue
        if isinstance(sample, dict) and isinstance(sample.get("layers"), dict):
            samples.append(sample)
    if not samples:
        raise LecnnError(f"{path}: damaged: no readable health sample in it")
    return samples


def by_pass(samples: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """The samples of each pass (1, 2, ...): a sample after update ``step`` belongs to the pass
    that update was in."""
    out: dict[int, list[dict[str, Any]]] = {}
    for s in samples:
        out.setdefault(int(s.get("epoch", 0)) + 1, []).append(s)
    return out


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def _when(passes: list[int], last: int) -> str:
    """``from pass 3 on``, ``in pass 2``, ``in passes 2, 4``."""
    if len(passes) == 1:
        return f"in pass {passes[0]}"
    if passes == list(range(passes[0], last + 1)):
        return f"from pass {passes[0]} on"
    return f"in passes {', '.join(map(str, passes))}"


def diagnose(samples: list[dict[str, Any]]) -> list[Finding]:
    """Every finding of the rules above, layer by layer."""
    passes = by_pass(samples)
    last = max(passes)
    findings = _not_finite(samples)
    if findings:
        return findings
    layers = list(samples[0]["layers"])
    for kind, limit, words in (
        ("saturated", SATURATED, "of their units saturated (within 3% of the squashing "
         "function's bounds, where g' ≈ 0)"),
        ("dead", DEAD, "of their ReLUs dead (zero for every example of a batch)"),
    ):  # fmt: skip
        findings += _units(passes, layers, last, kind, limit, words)
    findings += _vanishing(passes, layers, last) + _large_steps(passes, last)
    return findings


def _units(passes: dict, layers: list[str], last: int, key: str, limit: float, words: str):
    """The layers with ``limit`` or more of their units ``key`` (saturated, dead) in a pass:
    one finding per stretch of passes, its layers with their worst figures."""
    stretches: dict[str, list[str]] = {}
    for layer in layers:
        per = {p: _mean([s["layers"][layer].get(key, math.nan) for s in ss])
               for p, ss in passes.items()}  # fmt: skip
        bad = [p for p, v in per.items() if v >= limit]
        if bad:
            worst = max(per[p] for p in bad)
            stretches.setdefault(_when(bad, last), []).append(f"{layer} {worst:.0%}")
    return [Finding(shown[0].split()[0], key, f"{', '.join(shown)} {words} {when}")
            for when, shown in stretches.items()]  # fmt: skip


def _not_finite(samples: list[dict[str, Any]]) -> list[Finding]:
    for s in samples:
        for layer, stats in s["layers"].items():
            for key, v in stats.items():
                if not isinstance(v, (int, float)) or not math.isfinite(v):
                    return [Finding(layer, "not_finite",
                                    f"{layer}: {key} is {v} at update {s['step']}")]  # fmt: skip
    return []


def _vanishing(passes: dict, layers: list[str], last: int) -> list[Finding]:
    """The lowest layer's Δ against the output layer's, pass by pass."""
    low, top = layers[0], layers[-1]
    ratio = {}
    for p, ss in passes.items():
        lo = _mean([s["layers"][low]["delta_rms"] for s in ss])
        hi = _mean([s["layers"][top]["delta_rms"] for s in ss])
        ratio[p] = lo / hi if hi > 0 else math.inf
    bad = [p for p, r in ratio.items() if r < VANISHING]
    if not bad:
        return []
    worst = min(ratio[p] for p in bad)
    return [Finding(low, "vanishing", f"{low}: its Δ is {worst:.0e} of {top}'s {_when(bad, last)}: "
                                      "the layers below stop learning")]  # fmt: skip


def _large_steps(passes: dict, last: int) -> list[Finding]:
    """The parameters whose median update/weight ratio in a pass is 10% or more: one finding,
    the largest first."""
    worst: dict[str, float] = {}
    bad: set[int] = set()
    for p, ss in passes.items():
        for param in ss[0].get("updates", {}):
            values = [
                s["updates"][param] for s in ss if math.isfinite(s["updates"].get(param, -math.inf))
            ]
            if values and statistics.median(values) >= LARGE_STEP:
                bad.add(p)
                worst[param] = max(worst.get(param, -math.inf), statistics.median(values))
    if not worst:
        return []
    ranked = sorted(worst, key=worst.__getitem__, reverse=True)
    shown = ", ".join(f"{k} {10 ** worst[k]:.0%}" for k in ranked[:4])
    more = f" and {len(ranked) - 4} more" if len(ranked) > 4 else ""
    text = (f"steps too large {_when(sorted(bad), last)}: each update changes {shown}{more} of "
            f"its size (log10 ratio up to {worst[ranked[0]]:.1f}; about −3 is healthy)")  # fmt: skip
    return [Finding(ranked[0], "large_step", text)]


def summary(samples: list[dict[str, Any]]) -> str:
    """The healthy run's figures in one line: the most saturated or dead layer, the lowest
    layer's Δ against the output's, the median update ratio."""
    layers = list(samples[0]["layers"])
    last = samples[-1]["layers"]
    parts = []
    for key in ("saturated", "dead"):
        values = {name: stats[key] for name, stats in last.items() if key in stats}
        if values:
            name = max(values, key=values.__getitem__)
            parts.append(f"most {key} {name} {values[name]:.0%}")
    low, top = last[layers[0]]["delta_rms"], last[layers[-1]]["delta_rms"]
    if top > 0:
        parts.append(f"Δ at {layers[0]} {low / top:.0e} of {layers[-1]}'s")
    ratios = [v for s in samples for v in s.get("updates", {}).values() if math.isfinite(v)]
    if ratios:
        parts.append(f"median update/weight 10^{statistics.median(ratios):.1f}")
    return "; ".join(parts)
