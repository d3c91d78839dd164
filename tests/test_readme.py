"""The README's example runs and does what it says."""

from __future__ import annotations

import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_example_solves_xor():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no python example"
    scope: dict = {}
    exec(blocks[0], scope)
    out = scope["net"].forward(scope["X"])
    assert torch.equal((out > 0.5).float(), scope["Y"])
