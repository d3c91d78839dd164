"""What made a run, recorded in its summary: the code (lecnn's commit, and whether its source was
as committed), the software, the machine and the settings that move the numbers, and the data by
name and checksum. A report row names its commits from these; a rerun compares against them."""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import torch

from lecnn import __version__
from lecnn.data import Digits
from lecnn.device import describe_device

#: the checkout lecnn runs from (the package's parent folder)
SOURCE = Path(__file__).resolve().parents[2]


def source_commit(root: Path = SOURCE) -> tuple[str | None, bool | None]:
    """(commit, clean): ``git rev-parse HEAD`` of the checkout lecnn runs from, and whether its
    ``lecnn/`` matches that commit (the code that makes the numbers; a reproduction writes into
    runs/, which says nothing of the code). (None, None) outside a git checkout (a wheel)."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=30, check=False)  # fmt: skip

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None, None
        status = git("status", "--porcelain", "--untracked-files=no", "--", "lecnn")
    except (OSError, subprocess.SubprocessError):
        return None, None
    return head.stdout.strip(), status.returncode == 0 and status.stdout.strip() == ""


#: the commit of the code this process imported: taken once, when lecnn.repro is first imported
#: (a worker of lecnn reproduce imports it when it starts), so a commit made while runs train is
#: not taken for the one that made them
IMPORTED = source_commit()


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
    commit, clean = IMPORTED
    cfg = trainer.config
    return {
        "lecnn": {"version": __version__, "commit": commit, "clean": clean},
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
