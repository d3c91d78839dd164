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


def test_a_rerun_keeps_the_other_mutants_results_where_their_function_is_unchanged(tmp_path):
    def meta(codes: dict, hashes: dict) -> None:
        path = tmp_path / "lecnn/manual/x.py.meta"
        path.parent.mkdir(parents=True, exist_ok=True)
        durations = {k: 2.0 for k, v in codes.items() if v is not None}
        path.write_text(json.dumps({"exit_code_by_key": codes, "hash_by_function_name": hashes,
                                    "durations_by_key": durations}))  # fmt: skip

    m = "lecnn.manual.x.xǁLayerǁforward__mutmut_"
    f = "lecnn.manual.x.x_helper__mutmut_"
    meta({m + "1": 1, m + "2": 0, m + "3": None, m + "4": 0, f + "1": 1, f + "2": 0},
         {"xǁLayerǁforward": "aaa", "x_helper": "bbb"})  # fmt: skip
    before = mutation.snapshot(tmp_path)
    # mutmut regenerated (every result forgotten), x_helper changed, m2 rerun and now killed,
    # m4's rerun stopped before it was checked
    meta({m + "1": None, m + "2": 1, m + "3": None, m + "4": None, f + "1": None, f + "2": None},
         {"xǁLayerǁforward": "aaa", "x_helper": "ccc"})  # fmt: skip
    assert mutation.restore(tmp_path, before, rerun={m + "2", m + "4"}) == 1
    after = json.loads((tmp_path / "lecnn/manual/x.py.meta").read_text())
    assert after["exit_code_by_key"] == {
        m + "1": 1,  # kept: its function is the same
        m + "2": 1,  # the rerun's result, not the old survival
        m + "3": None,  # never checked
        m + "4": None,  # rerun but not reached: unchecked, not the old result
        f + "1": None,  # its function changed: the old result no longer describes it
        f + "2": None,
    }
    assert after["durations_by_key"][m + "1"] == 2.0
    assert mutation._function(m + "12") == "xǁLayerǁforward"
