"""What made a run, recorded in its summary: the code (lecnn's commit, and whether its source was
as committed), the software, the machine and the settings that move the numbers, and the data by
name and checksum. A report row names its commits from these; a rerun compares against them."""

from __future__ import annotations

import hashlib
import os
import shlex
from pathlib import Path
from typing import Any

import torch

from lecnn.data import Digits
from lecnn.device import describe_device
from lecnn.source import IMPORTED, code_record, source_commit

__all__ = ["IMPORTED", "data_checksum", "pasteable", "provenance", "source_commit"]


def data_checksum(digits: Digits) -> str:
    """SHA-256 over the digits as stored: training images, labels, test images, labels (uint8
    each), in that order — the same for the gzip or raw files, whatever folder holds them."""
    h = hashlib.sha256()
    for t in (digits.train_images, digits.train_labels, digits.test_images, digits.test_labels):
        h.update(t.to(torch.uint8).contiguous().numpy().tobytes())
    return h.hexdigest()


def provenance(trainer: Any, dataset: str, checksum: str) -> dict[str, Any]:
    """The run's provenance, from the ``Trainer`` that trained it; its commit is ``IMPORTED``, the
    code the process imported (not whatever the checkout holds when the run starts or ends)."""
    cfg = trainer.config
    return {
        "lecnn": code_record(),
        "torch": torch.__version__,
        "device": describe_device(trainer.device),
        "threads": torch.get_num_threads(),
        "dtype": cfg.dtype,
        "compile": f"{'compiled' if trainer.compiled else 'eager'} (--compile {cfg.compile})",
        "memory_format": "channels-last" if trainer.engine.is_channels_last else "contiguous",
        "data": {"name": dataset, "sha256": checksum},
    }


def pasteable(argv: list[str], cwd: Path | None = None) -> str:
    """``argv`` as a command a reader can paste: paths under the working folder relative to it,
    the data folder ``$LECNN_DATA`` when that is what it names."""
    cwd = (cwd or Path.cwd()).resolve()
    data = os.environ.get("LECNN_DATA")
    data_dir = Path(data).expanduser().resolve() if data else None
    out = []
    for arg in argv:
        word = shlex.quote(arg)
        if arg.startswith("/"):
            path = Path(arg).resolve()
            if data_dir is not None and path == data_dir:
                word = '"$LECNN_DATA"'
            elif path.is_relative_to(cwd):
                word = shlex.quote(str(path.relative_to(cwd)))
        out.append(word)
    return " ".join(out)
