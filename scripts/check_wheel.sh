#!/usr/bin/env bash
# The wheel as a user gets it: built from this checkout, installed into a folder of its own (its
# dependencies from the environment that runs this), and run from outside the checkout: lecnn
# must import from the wheel and its shipped weights must read the committed sample digits.
#
#   bash scripts/check_wheel.sh        # .ci/run calls it
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python -m pip wheel -q --no-deps --no-build-isolation --wheel-dir "$work/dist" "$root"
python -m pip install -q --no-deps --target "$work/site" "$work"/dist/lecnn-*.whl
cd "$work"  # nothing of the checkout on the path: only the wheel's lecnn
PYTHONPATH="$work/site" python - "$root/tests/fixtures/digits" "$work/site" <<'PY'
import json, subprocess, sys
from pathlib import Path

digits, site = Path(sys.argv[1]), sys.argv[2]
import lecnn.models.shipped as p

assert p.__file__.startswith(site), f"lecnn imported from {p.__file__}, not the wheel"
assert p.shipped(), "the wheel holds no shipped weights"
expected = json.loads((digits / "digits.json").read_text())
cmd = [sys.executable, "-m", "lecnn", "predict", "--device", "cpu", *(str(digits / n) for n in expected)]
out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
got = {Path(line.split(":")[0]).name: int(line.split()[1]) for line in out.splitlines()}
assert got == expected, (got, expected)
print(f"wheel: lecnn from {site}, {len(p.shipped())} shipped network(s); "
      f"predict read {len(got)} sample digits with {p.default_name()}")
PY
