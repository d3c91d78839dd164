"""scripts/mutation.py's own arithmetic: the stratified sample, the interval, the counting."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("mutation", ROOT / "scripts" / "mutation.py")
mutation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mutation)


def _meta(root: Path, rel: str, codes: dict) -> None:
    path = root / (rel + ".meta")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes}))


def test_the_sample_takes_the_same_fraction_of_every_file_and_depends_on_the_seed():
    names = {"a.py": [f"a_{i}" for i in range(200)], "b.py": [f"b_{i}" for i in range(20)]}
    names["c.py"] = ["c_0", "c_1"]
    one = mutation.sample(names, 0.1, seed=0)
    assert sum(n.startswith("a_") for n in one) == 20
    assert sum(n.startswith("b_") for n in one) == 2
    assert sum(n.startswith("c_") for n in one) == 1  # a small file still has one
    assert len(set(one)) == len(one)
    assert mutation.sample(names, 0.1, seed=0) == one
    assert set(mutation.sample(names, 0.1, seed=1)) != set(one)
    assert sorted(mutation.sample(names, 1.0, seed=3)) == sorted(sum(names.values(), []))


def test_the_interval_is_wilsons():
    lo, hi = mutation.wilson(90, 100)
    assert lo == pytest.approx(0.8256, abs=1e-4) and hi == pytest.approx(0.9448, abs=1e-4)
    assert mutation.wilson(0, 10)[0] == 0.0 and mutation.wilson(0, 10)[1] == pytest.approx(
        0.2775, abs=1e-4
    )
    assert mutation.wilson(10, 10)[1] == 1.0
    assert mutation.wilson(0, 0) == (0.0, 1.0)


def test_collect_counts_only_the_sample_and_names_the_survivors(tmp_path):
    _meta(tmp_path, "lecnn/manual/x.py", {"m1": 1, "m2": 0, "m3": None, "m4": 33})
    _meta(tmp_path, "lecnn/data/y.py", {"d1": 0, "d2": -24})
    _meta(tmp_path, "lecnn/cli/z.py", {"z1": 0})  # not a mutated package
    all_ = mutation.collect(tmp_path)
    assert all_["lecnn/manual"] == {"killed": 1, "survived": 1, "not checked": 1, "no tests": 1}
    assert all_["lecnn/data"] == {"survived": 1, "timeout": 1}
    assert "lecnn/cli" not in all_ and list(all_["survivors:lecnn/manual"]) == ["m2"]
    some = mutation.collect(tmp_path, only={"m1", "d2"})
    assert some["lecnn/manual"] == {"killed": 1} and some["lecnn/data"] == {"timeout": 1}
    assert mutation.score(all_["lecnn/manual"] + all_["lecnn/data"]) == (2, 4)
    assert mutation.mutant_names(tmp_path) == {
        "lecnn/data/y.py": ["d1", "d2"],
        "lecnn/manual/x.py": ["m1", "m2", "m3", "m4"],
    }
