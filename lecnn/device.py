"""Device selection and determinism (every random draw comes from a generator its run owns:
nothing here seeds torch's global one)."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable

import torch

from lecnn.errors import LecnnError

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N or mps"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def select_device(spec: str = "auto") -> torch.device:
    """Turn ``auto|cpu|cuda|cuda:N|mps`` into a ``torch.device``; ``auto`` prefers cuda, then mps.

    Raises LecnnError when the device asked for is not present.
    """
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not _mps_available():
            raise LecnnError("--device mps: MPS is not available on this machine; use --device cpu")
        return torch.device("mps")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise LecnnError(
                f"--device {spec}: CUDA is not available on this machine "
                "(no GPU or a CPU-only torch); use --device cpu or --device auto"
            )
        if spec.startswith("cuda:"):
            index = spec[5:]
            if not index.isdigit():
                raise LecnnError(f"--device {spec}: the GPU index must be a number, e.g. cuda:0")
            count = torch.cuda.device_count()
            if int(index) >= count:
                raise LecnnError(
                    f"--device {spec}: there are {count} CUDA device(s), numbered 0 to {count - 1}"
                )
        return torch.device(spec)
    raise LecnnError(f"--device {spec!r} is not a device; choose {DEVICE_CHOICES}")


def describe_device(device: torch.device) -> str:
    """A human name for the device, e.g. ``cuda:0 (NVIDIA H100 80GB HBM3)``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    if device.type == "cpu":
        n = torch.get_num_threads()
        return f"cpu ({n} thread{'' if n == 1 else 's'})"
    return str(device)


def describe_machine(device: torch.device) -> str:
    """The device, the host and torch's version: what a measured number is tagged with."""
    host = f"{platform.machine()}, {os.cpu_count()} cores"
    return f"{describe_device(device)}; host {host}; torch {torch.__version__}"


def set_deterministic(enabled: bool) -> Callable[[], None]:
    """Switch torch's deterministic algorithms on or off (CUDA also needs the cuBLAS workspace)
    for a run; returns what puts the process's settings back as they were (the run calls it
    when it ends, so one run's choice does not outlive it)."""
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark)
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.benchmark = not enabled

    def restore() -> None:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.benchmark = before[1]

    return restore
