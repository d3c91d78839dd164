"""``lecnn reproduce --verify``: rerun a committed run's exact configuration and say whether it
gives the same numbers.

Where the rerun's device, torch, threads and compile mode are the committed run's, the runs are
deterministic and must agree digit for digit: the misses, the final losses and the curve. Where
one of those differs, float sums are taken in another order and the digits may move: the rerun's
test misses are then held to the committed row's spread instead (mean ± the larger of 2 sd and
2√mean, the binomial noise of a count of misses)."""

from __future__ import annotations

import json
import math
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lecnn.errors import LecnnError
from lecnn.repro.protocols import PROTOCOLS

SAME, DIFFERENT = 0, 1
#: what must agree exactly between a run and its rerun in the same environment
EXACT = ("test_misses", "train_misses", "test_error", "train_error", "test_loss", "train_loss")
#: what makes the environment (a summary's provenance): equal, the rerun must equal its digits
ENVIRONMENT = ("device", "torch", "threads", "compile", "dtype", "memory_format")


@dataclass
class Verdict:
    """The comparison's outcome: the exit status (0 same, 1 different) and what to print."""

    status: int
    lines: list[str] = field(default_factory=list)


def find_summary(what: str, seed: int | None, runs_dir: Path) -> Path:
    """The committed summary ``what`` names: a summary file, or a row (``lenet5/faithful/manual``
    or ``lenet5-faithful-manual``) with ``seed`` (default: the row's lowest seed)."""
    path = Path(what)
    if path.suffix == ".json" or path.is_file():
        if not path.is_file():
            raise LecnnError(f"--verify {what}: no such summary file")
        if seed is not None:
            raise LecnnError("--seed picks a seed of a row; a summary file names its own")
        return path
    name = what.strip("/").replace("/", "-")
    found = {}
    for p in (runs_dir / "summaries").glob(f"{name}-seed*.json"):
        if p.stem.removeprefix(f"{name}-seed").isdigit():
            found[int(p.stem.removeprefix(f"{name}-seed"))] = p
    if not found:
        raise LecnnError(
            f"--verify {what}: no summary of that row in {runs_dir / 'summaries'}; name a summary "
            "file or a row such as lecun1989/faithful/manual"
        )
    if seed is not None and seed not in found:
        raise LecnnError(f"--verify {what}: no seed {seed} (seeds: {sorted(found)})")
    return found[min(found) if seed is None else seed]


def load(path: Path) -> dict[str, Any]:
    """A finished run's summary, or a one-line refusal."""
    from lecnn.repro.report import summary_problem

    try:
        s = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise LecnnError(f"{path}: not a readable run summary ({str(e).splitlines()[0]})") from e
    problem = summary_problem(s)
    if problem is None and f"{s['paper']}/{s['variant']}" not in PROTOCOLS:
        problem = f"no protocol {s['paper']}/{s['variant']} in this lecnn"
    if problem is None and s["status"] != "finished":
        problem = f"a run that did not finish ({s['status']})"
    if problem is not None:
        raise LecnnError(f"{path}: cannot verify it: {problem}")
    return s


def compile_flag(summary: dict[str, Any]) -> str:
    """The ``--compile`` the run was made with: recorded (``compiled (--compile auto)``), or for
    older summaries the mode it ran in."""
    recorded = (summary.get("provenance") or {}).get("compile", "")
    if "--compile " in recorded:
        return recorded.split("--compile ")[1].rstrip(")")
    return "on" if summary.get("compiled") else "off"


def rerun(summary: dict[str, Any], data_dir: str | None, device: str) -> dict[str, Any]:
    """The summary's run again, in a folder thrown away after: its protocol, implementation,
    seed, passes and digits, compile flag and threads."""
    from lecnn.repro.run import run_one

    threads = (summary.get("provenance") or {}).get("threads") or torch.get_num_threads()
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        with tempfile.TemporaryDirectory(prefix="lecnn-verify-") as tmp:
            return run_one(
                PROTOCOLS[f"{summary['paper']}/{summary['variant']}"], summary["impl"],
                summary["seed"], runs_dir=Path(tmp), device=device, data_dir=data_dir,
                epochs=summary["epochs"] if summary.get("shortened") else None,
                limit=summary.get("limit"), compile=compile_flag(summary), progress_bar=False,
            )  # fmt: skip
    finally:
        torch.set_num_threads(before)


def environment_differences(committed: dict[str, Any], again: dict[str, Any]) -> list[str]:
    """What of the environment differs between the two runs (empty: the same), each named; a
    summary without provenance differs in all of it."""
    old, new = committed.get("provenance"), again.get("provenance") or {}
    if not old:
        return ["the committed run recorded no provenance (device, torch, threads, compile)"]
    out = []
    for key in ENVIRONMENT:
        if old.get(key) != new.get(key):
            out.append(f"{key}: {old.get(key)} committed, {new.get(key)} here")
    return out


def compare_exact(committed: dict[str, Any], again: dict[str, Any]) -> Verdict:
    """Digit for digit: the final figures and the curve."""
    differ = [
        f"{key}: {again.get(key)} here, {committed[key]} committed"
        for key in EXACT
        if key in committed and committed[key] != again.get(key)
    ]
    absent = [key for key in EXACT if key not in committed]
    for old, new in zip(committed["curve"], again["curve"], strict=False):
        if old != new:
            differ.append(f"pass {old.get('epoch')}: {new} here, {old} committed")
            break
    if len(committed["curve"]) != len(again["curve"]):
        differ.append(f"{len(again['curve'])} passes here, {len(committed['curve'])} committed")
    compared = [key for key in EXACT if key in committed] + ["the curve"]
    note = f" (the summary has no {', '.join(absent)})" if absent else ""
    if differ:
        return Verdict(DIFFERENT, ["different:", *[f"  {d}" for d in differ]])
    return Verdict(SAME, [
        f"same: {again['test_misses']} test and {again['train_misses']} training misses; "
        f"{', '.join(compared)} equal{note}"
    ])  # fmt: skip


def compare_spread(again: dict[str, Any], row: list[dict[str, Any]]) -> Verdict:
    """Another environment: the rerun's test misses within the committed row's spread."""
    misses = [r["test_misses"] for r in row if isinstance(r.get("test_misses"), int)]
    mean = statistics.mean(misses)
    sd = statistics.stdev(misses) if len(misses) > 1 else 0.0
    allowed = max(2 * sd, 2 * math.sqrt(mean))
    here = again["test_misses"]
    figures = (
        f"{here} test misses here; the committed row {mean:.1f} ± {sd:.1f} over {len(misses)} "
        f"seed(s), allowed ± {allowed:.1f}"
    )
    if abs(here - mean) <= allowed:
        return Verdict(SAME, [f"same within the row's spread: {figures}"])
    return Verdict(DIFFERENT, [f"different, beyond the row's spread: {figures}"])


def committed_row(summary: dict[str, Any], folder: Path) -> list[dict[str, Any]]:
    """The committed runs of the summary's row (read as the report reads them): same protocol,
    implementation, device type, passes and digits."""
    from lecnn.repro.report import load_summaries

    keys = ("paper", "variant", "impl", "device_type", "epochs", "limit")
    finished, _ = load_summaries(folder.parent)
    row = [s for s in finished if all(s.get(k) == summary.get(k) for k in keys)]
    return row or [summary]


def describe(s: dict[str, Any]) -> str:
    """Where a run was made: commit, device, torch, compile mode."""
    p = s.get("provenance") or {}
    if not p:
        return f"{s.get('machine', 'an unrecorded machine')}, provenance not recorded"
    code = p["lecnn"]
    commit = (code.get("commit") or "no commit")[:7] + ("" if code.get("clean") else "+")
    return f"commit {commit}, {p['device']}, torch {p['torch']}, {p['compile']}"


def verify(path: Path, data_dir: str | None, device: str = "auto") -> Verdict:
    """Rerun the run of the summary at ``path``; the verdict, with what was compared."""
    committed = load(path)
    name = (
        f"{committed['paper']}/{committed['variant']} {committed['impl']} seed {committed['seed']}"
    )
    if committed.get("device_type", "cpu") == "cuda" and not torch.cuda.is_available():
        device = "cpu"  # rerun what can be: another device, so compared by spread
    again = rerun(committed, data_dir, device)
    lines = [f"{name}: committed {describe(committed)}", f"rerun here: {describe(again)}"]
    differences = environment_differences(committed, again)
    if not differences:
        lines.append("the same device, torch, threads, dtype, compile mode and memory format: "
                     "compared digit for digit")  # fmt: skip
        verdict = compare_exact(committed, again)
    else:
        lines += ["the environment differs, so the digits may too:"] + [
            f"  {d}" for d in differences
        ]
        verdict = compare_spread(again, committed_row(committed, path.parent))
    verdict.lines = lines + verdict.lines
    return verdict
