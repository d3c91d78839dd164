"""Ship a reproduction row's trained network with lecnn: the row's median seed by test error, its
weights from the run's checkpoint, its provenance from the run's summary, into
lecnn/models/weights/ (NAME.pt and an entry of index.json with the file's SHA-256).

    python scripts/ship_weights.py lecun1989/faithful/manual --name lecun1989 --runs-dir runs

The run must be one made by the code that ships it (its summary's commit, clean), and its
folder (``RUNS/reproduce/<run>``, with checkpoint.pt) still there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lecnn.models.shipped import FOLDER  # noqa: E402
from lecnn.repro.protocols import PROTOCOLS  # noqa: E402


def median_seed(runs_dir: Path, row: str) -> tuple[dict, str]:
    """The row's run with the median test error (the lower middle one for an even count), and
    the sentence that says which seed and why."""
    name = row.replace("/", "-")
    summaries = [
        json.loads(p.read_text())
        for p in sorted((runs_dir / "summaries").glob(f"{name}-seed*.json"))
    ]
    runs = sorted((s for s in summaries if s["status"] == "finished" and not s["shortened"]),
                  key=lambda s: (s["test_misses"], s["seed"]))  # fmt: skip
    if not runs:
        raise SystemExit(f"no finished full run of {row} in {runs_dir}/summaries")
    chosen = runs[(len(runs) - 1) // 2]
    errors = ", ".join(f"{s['seed']}: {100 * s['test_error']:.2f}%" for s in runs)
    mean = statistics.mean(s["test_error"] for s in runs)
    why = (f"the median of the row's {len(runs)} seeds by test error ({errors}; mean "
           f"{100 * mean:.2f}%)")  # fmt: skip
    return chosen, why


def ship(row: str, name: str, runs_dir: Path) -> dict:
    summary, why = median_seed(runs_dir, row)
    code = summary["provenance"]["lecnn"]
    if not code.get("clean"):
        raise SystemExit(f"{row} seed {summary['seed']}: made by edited code ({code['commit']}+)")
    run = runs_dir / "reproduce" / Path(summary["run_dir"]).name
    state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)["model_state"]
    FOLDER.mkdir(parents=True, exist_ok=True)
    path = FOLDER / f"{name}.pt"
    torch.save({k: v.contiguous() for k, v in state.items()}, path)
    paper, variant, impl = row.split("/")
    entry = {
        "name": name, "model": PROTOCOLS[f"{paper}/{variant}"].config["model"],
        "file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "protocol": f"{paper}/{variant}", "impl": impl, "seed": summary["seed"],
        "seed_choice": why, "test_error": summary["test_error"],
        "test_misses": summary["test_misses"], "test_digits": summary["test_digits"],
        "command": summary["command"], "commit": code["commit"],
    }  # fmt: skip
    index = FOLDER / "index.json"
    entries = json.loads(index.read_text()) if index.exists() else []
    entries = [e for e in entries if e["name"] != name] + [entry]
    index.write_text(json.dumps(entries, indent=2) + "\n")
    return entry


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("row", help="paper/variant/impl, e.g. lecun1989/faithful/manual")
    p.add_argument("--name", required=True, help="the name users load it by")
    p.add_argument("--runs-dir", type=Path, default=ROOT / "runs")
    args = p.parse_args()
    print(json.dumps(ship(args.row, args.name, args.runs_dir), indent=2))
