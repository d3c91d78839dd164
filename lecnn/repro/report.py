"""``runs/REPRODUCTION.md``: the measured numbers beside the published ones, from the run
summaries in ``runs/summaries/``, with a figure of test error per pass for each paper."""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from lecnn.repro.protocols import PROTOCOLS
from lecnn.training.checkpoint import write_atomically

PAPERS = {
    "lecun1989": "LeCun et al. 1989, “Backpropagation Applied to Handwritten Zip Code Recognition”",
    "lenet5": "LeCun, Bottou, Bengio & Haffner 1998, “Gradient-Based Learning Applied to Document "
    "Recognition” (LeNet-5)",
}


#: what a summary must hold for the report to use it (lecnn.repro.run writes all of it)
REQUIRED: dict[str, type | tuple[type, ...]] = {"paper": str, "variant": str, "impl": str, "seed": int, "status": str,
            "machine": str, "command": str, "wall_seconds": (int, float), "shortened": bool,
            "curve": list}  # fmt: skip
NUMBERS = ("test_error", "train_error")


def load_summaries(runs_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The finished runs' summaries under ``runs_dir/summaries``, and a line for each file left
    out: one that cannot be read (truncated, not JSON, not a summary) or a run not finished."""
    good, left_out = [], []
    for path in sorted((runs_dir / "summaries").glob("*.json")):
        problem = None
        try:
            s = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            s, problem = None, f"not readable JSON ({str(e).splitlines()[0][:80]})"
        if problem is None:
            problem = summary_problem(s)
        if problem is None and s["status"] != "finished":
            problem = f"a run that did not finish ({s['status']})"
        if problem is None:
            good.append(s)
        else:
            left_out.append(f"`{path.name}`: {problem}")
    return good, left_out


def summary_problem(s: Any) -> str | None:
    """Why ``s`` is not a run summary the report can use, or None."""
    if not isinstance(s, dict):
        return "not a run summary"
    for key, kind in REQUIRED.items():
        if not isinstance(s.get(key), kind) or isinstance(s.get(key), bool) != (kind is bool):
            return f"no valid {key!r}"
    if s["status"] == "finished":
        for key in NUMBERS:
            if not isinstance(s.get(key), (int, float)) or not 0 <= s[key] <= 1:
                return f"no valid {key!r}"
    return None


def _pct(values: list[float]) -> str:
    if not values:
        return "—"
    mean = statistics.mean(values) * 100
    if len(values) == 1:
        return f"{mean:.2f}%"
    return f"{mean:.2f} ± {statistics.stdev(values) * 100:.2f}%"


def _misses(values: list[int | None]) -> str:
    vals = [v for v in values if v is not None]
    return "—" if not vals else f"{statistics.mean(vals):.1f}" if len(vals) > 1 else str(vals[0])


def _device_type(summary: dict[str, Any]) -> str:
    # summaries written before device_type was recorded name the device first in "machine"
    return summary.get("device_type") or summary["machine"].split(":")[0].split(" ")[0]


def _label(variant: str, impl: str, device_type: str) -> str:
    return f"{variant} / {impl}" + ("" if device_type == "cpu" else f" on {device_type}")


def _mean_curve(runs: list[dict]) -> tuple[list[int], list[float]]:
    """(passes, the runs' mean test error in % after each), passes with no figure left out."""
    xs, ys = [], []
    for i in range(max(len(r["curve"]) for r in runs)):
        vals = [r["curve"][i]["test_error"] for r in runs if len(r["curve"]) > i]
        vals = [v for v in vals if v is not None]
        if vals:
            xs.append(i + 1)
            ys.append(100 * statistics.mean(vals))
    return xs, ys


def _figure(paper: str, groups: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for key, runs in sorted(groups.items()):
        xs, ys = _mean_curve(runs)
        ax.plot(xs, ys, marker=".", label=f"{_label(*key)} (mean of {len(runs)})")
    for proto in PROTOCOLS.values():
        if proto.paper != paper:
            continue
        for pub in proto.published:
            ax.axhline(100 * pub.test_error, linestyle="--", linewidth=1, color="gray")
            ax.annotate(f"{pub.source}: {100 * pub.test_error:.2f}%",
                        (ax.get_xlim()[1], 100 * pub.test_error), fontsize=7, color="dimgray",
                        va="bottom", ha="right")  # fmt: skip
    ax.set_xlabel("pass")
    ax.set_ylabel("test error (%)")
    ax.set_yscale("log")
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.set_title(f"{paper}: measured test error per pass vs published")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(runs_dir: str | Path = "runs", failed: list[str] | None = None) -> Path:
    """Write ``REPRODUCTION.md`` (and one PNG per paper) under ``runs_dir``; ``failed`` names the
    runs of the last ``lecnn reproduce`` that failed (the others are in the tables)."""
    runs_dir = Path(runs_dir)
    summaries, left_out = load_summaries(runs_dir)
    for line in left_out:
        print(f"lecnn report: left out {line.replace('`', '')}", file=sys.stderr)
    lines = [
        "# Reproductions",
        "",
        "Generated by `lecnn report` from the run summaries in `runs/summaries/` (each a real run; "
        "the machine, the lecnn commit that trained it — `+` where its source differed from that "
        'commit, "not recorded" for runs from before summaries kept it — and the command are on '
        "every row). Errors are mean ± standard deviation over "
        "seeds, both measured on the whole split after training; misses are the mean count; wall "
        "time includes loading the data and the evaluations, and says whether the updates ran eagerly "
        "or as one compiled program (`--compile`, compilation time included).",
        "",
    ]
    by_paper: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    for s in summaries:
        by_paper[s["paper"]][(s["variant"], s["impl"], _device_type(s))].append(s)
    for paper, title in PAPERS.items():
        lines += _paper_section(paper, title, by_paper.get(paper, {}), runs_dir)
    if failed:
        lines += ["## Runs that failed", ""] + [f"- {f}" for f in failed] + [""]
    if left_out:
        lines += ["## Summaries left out", ""] + [f"- {f}" for f in left_out] + [""]
    out = runs_dir / "REPRODUCTION.md"
    text = ("\n".join(lines) + "\n").encode()
    return write_atomically(out, lambda f: f.write(text))


def _paper_section(paper: str, title: str, groups: dict, runs_dir: Path) -> list[str]:
    """One paper's table (its published rows, then one row per measured protocol and
    implementation), its departures and its figure."""
    lines = [f"## {title}", ""]
    lines += [
        "| row | train error | train misses | test error | test misses | seeds | machine | "
        "wall time per run | code | command |",
        "|---|---:|---:|---:|---:|---|---|---:|---|---|",
    ]
    for proto in PROTOCOLS.values():
        if proto.paper != paper:
            continue
        for pub in proto.published:
            train = f"{100 * pub.train_error:.2f}%" if pub.train_error is not None else "—"
            lines.append(
                f"| published ({proto.variant}): {pub.source} | {train} | {pub.train_misses or '—'} | "
                f"{100 * pub.test_error:.2f}% | {pub.test_misses or '—'} | | | | | |"
            )
    lines += [_measured_row(key, runs) for key, runs in sorted(groups.items())]
    lines.append("")
    for proto in PROTOCOLS.values():
        if proto.paper == paper and any(key[0] == proto.variant for key in groups):
            lines.append(f"**{proto.variant}** — {proto.title}. Where this run departs from it:")
            lines += [f"- {d}" for d in proto.departures]
            lines.append("")
            for finding in proto.findings:
                lines += [finding, ""]
    figure = runs_dir / f"reproduction-{paper}.png"
    if groups and _figure(paper, groups, figure):
        lines += [f"![{paper} test error per pass]({figure.name})", ""]
    if not groups:
        lines += ["No runs yet: `lecnn reproduce " + paper + "`.", ""]
    return lines


def _commit(summary: dict[str, Any]) -> str:
    """The lecnn commit that made a run, short (``+`` when its source differed from the commit);
    "not recorded" for summaries written before provenance was."""
    code = summary.get("provenance", {}).get("lecnn", {})
    if not code.get("commit"):
        return "not recorded"
    return code["commit"][:7] + ("" if code.get("clean") else "+")


def _code(runs: list[dict[str, Any]]) -> str:
    """The commit(s) of a row's runs; several are said plainly, with their seeds."""
    by: dict[str, list[int]] = defaultdict(list)
    for r in runs:
        by[_commit(r)].append(r["seed"])
    if len(by) == 1:
        return next(iter(by))
    return "different commits: " + "; ".join(
        f"{c} (seed{'s' if len(v) > 1 else ''} {', '.join(map(str, v))})" for c, v in by.items()
    )


def _measured_row(key: tuple, runs: list[dict]) -> str:
    """A protocol and implementation's runs: their errors over seeds, wall time, commands."""
    runs = sorted(runs, key=lambda r: r["seed"])
    note = " (shortened)" if any(r["shortened"] for r in runs) else ""
    per_seed = ", ".join(f"{r['seed']}: {100 * r['test_error']:.2f}%" for r in runs)
    wall = statistics.mean(r["wall_seconds"] for r in runs)
    compiled = sum(bool(r.get("compiled")) for r in runs)  # older summaries: eager
    how = "eager" if not compiled else "compiled" if compiled == len(runs) else "mixed"
    return (
        f"| measured: {_label(*key)}{note} | {_pct([r['train_error'] for r in runs])} | "
        f"{_misses([r['train_misses'] for r in runs])} | {_pct([r['test_error'] for r in runs])} | "
        f"{_misses([r['test_misses'] for r in runs])} | {len(runs)} ({per_seed}) | "
        f"{runs[0]['machine']} | {wall:.0f} s ({how}) | {_code(runs)} | "
        + "; ".join(f"`{c}`" for c in dict.fromkeys(r["command"] for r in runs))
        + " |"
    )
