"""The comparison's table: one ``Row`` per classifier and seed, written as compare.md (mean ±
standard deviation over the seeds), compare.json and compare.png (the paper's Fig. 9 with lecnn
beside it), and comparisons run apart merged into one."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from lecnn.compare import figure9
from lecnn.compare.classifiers import KEYS
from lecnn.errors import LecnnError
from lecnn.training.checkpoint import write_atomically


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


def _percent(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2%}"
    return f"{statistics.mean(values):.2%} ± {statistics.stdev(values):.2%}"


def _aggregate(rows: list[Row]) -> list[list[Row]]:
    """Each classifier's rows, ordered by seed, the classifiers in the paper's order."""
    by_key: dict[str, list[Row]] = {}
    for r in sorted(rows, key=lambda r: (KEYS.index(r.key), r.seed)):
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
    _write_record(out_dir, rows, machine, limit, seconds, command, seeds)
    means = [(g[0].what, g[0].published, statistics.mean(r.test_error for r in g)) for g in groups]
    figure9.plot(means, out_dir / "compare.png",
                 f"MNIST test error: LeCun et al. 1998 (Fig. 9) and lecnn, mean of "
                 f"{seed_text} ({machine})")  # fmt: skip


def _write_record(out_dir: Path, rows: list[Row], machine: str, limit: int | None,
                  seconds: float, command: str, seeds: list[int]) -> None:  # fmt: skip
    """compare.json: every row of every seed, and how they were made."""
    record = {"machine": machine, "limit": limit, "seconds": seconds, "command": command,
              "seeds": seeds, "rows": [asdict(r) for r in rows]}  # fmt: skip
    body = json.dumps(record, indent=2).encode()
    write_atomically(out_dir / "compare.json", lambda f: f.write(body))


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
            bad = next((r for r in new if not _sound(r)), None)
            if bad is not None or not isinstance(record.get("seconds", 0.0), (int, float)):
                raise ValueError(f"a row that is not one lecnn wrote: {bad}"[:120])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
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


def _sound(r: Row) -> bool:
    """Whether a row read back has what ``write`` needs: a known classifier, finite numbers in
    their ranges (error rates from 0 to 1, times ≥ 0: what the table and the chart can show), texts."""
    numbers = (r.test_error, r.train_seconds, r.ms_per_digit, r.published)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        return False
    rates, times = (r.test_error, r.published), (r.train_seconds, r.ms_per_digit)
    return (
        r.key in KEYS
        and all(math.isfinite(v) for v in numbers)
        and all(0 <= v <= 1 for v in rates)
        and all(v >= 0 for v in times)
        and isinstance(r.seed, int)
        and isinstance(r.what, str)
        and isinstance(r.settings, str)
    )
