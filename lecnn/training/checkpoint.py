"""Checkpoints: plain dicts of tensors and numbers, written atomically, read with
``torch.load(weights_only=True)`` so a file is never unpickled as arbitrary objects."""

from __future__ import annotations

import errno
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch

from lecnn.errors import LecnnError

FORMAT = "lecnn-checkpoint"
VERSION = 1
FILENAME = "checkpoint.pt"
TEMP_SUFFIX = ".tmp"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Have ``write`` fill a temp file in ``path``'s folder, then rename it to ``path`` and sync the
    folder, so a crash mid-write leaves the previous file intact. The file gets the mode a plain
    ``open`` would give it (0644 under the usual umask). A full disk is a LecnnError that says
    the previous file is kept."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            kept = f"the previous {path.name} is kept" if path.exists() else "nothing was written"
            raise LecnnError(
                f"{path}: the disk is full; {kept}; free some space, then continue with --resume"
            ) from e
        raise
    return path


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete the temp files an interrupted ``write_atomically`` (kill -9, power loss) left in
    ``folder``; call it only while holding the folder's lock."""
    stale = [p for p in folder.glob(f".*{TEMP_SUFFIX}") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically (see ``write_atomically``). It is serialised in
    memory first, so a failing disk surfaces as the OSError it is, not inside torch's writer."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **payload}, buffer)
    return write_atomically(path, lambda f: f.write(buffer.getbuffer()))


def resolve(path: str | os.PathLike[str]) -> Path:
    """A run folder means its ``checkpoint.pt``."""
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    if not path.is_file():
        raise LecnnError(f"{path}: no such checkpoint; give a run folder or a checkpoint.pt file")
    return path


def load_checkpoint(path: str | os.PathLike[str], map_location="cpu") -> dict[str, Any]:
    """Read and validate a lecnn checkpoint (run folder or file)."""
    path = resolve(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # an untrusted file: whatever the unpickler raises means "unreadable"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise LecnnError(f"{path}: not a readable lecnn checkpoint ({first[:160]})") from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise LecnnError(f"{path}: not a lecnn checkpoint (no '{FORMAT}' marker)")
    if payload.get("version") != VERSION:
        raise LecnnError(f"{path}: checkpoint version {payload.get('version')} is not supported")
    problem = _payload_problem(payload)
    if problem:
        raise LecnnError(f"{path}: a damaged lecnn checkpoint ({problem}); it cannot be used")
    return payload


#: what a run's checkpoint holds, by kind (lecnn.training.state writes it)
PAYLOAD = {"config": dict, "model_state": dict, "optimizer_state": dict,
           "generator_state": torch.Tensor, "progress": dict, "history": list}  # fmt: skip
PROGRESS: dict[str, type | tuple[type, ...]] = {"epoch": int, "batch": int, "step": int, "loss_sum": (int, float), "correct": int,
            "seen": int, "train_seconds": (int, float)}  # fmt: skip


def _payload_problem(payload: dict[str, Any]) -> str | None:
    """Why ``payload`` is not a run's checkpoint lecnn can resume or read, or None."""
    for key, kind in PAYLOAD.items():
        if not isinstance(payload.get(key), kind):
            return f"no valid {key!r}"
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor)
               for k, v in payload["model_state"].items()):  # fmt: skip
        return "its weights are not tensors by name"
    if not isinstance(payload["optimizer_state"].get("state"), dict):
        return "no valid optimizer state"
    progress = payload["progress"]
    for key, number in PROGRESS.items():
        value = progress.get(key)
        if not isinstance(value, (int, float)) or not isinstance(value, number):
            return f"no valid progress {key!r}"
        if isinstance(value, bool) or value < 0:
            return f"no valid progress {key!r}"
    order = progress.get("order", "missing")
    if order is not None and not isinstance(order, torch.Tensor):
        return "no valid progress 'order'"
    if not isinstance(payload["config"].get("model"), str):
        return "no model in its config"
    dropout = payload.get("dropout_generator_state")  # absent from checkpoints before it existed
    if dropout is not None and not isinstance(dropout, torch.Tensor):
        return "no valid 'dropout_generator_state'"
    return None
