"""Device selection, seeding and determinism."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from lecnn.device import select_device, set_deterministic
from lecnn.errors import LecnnError


def test_auto_prefers_cuda_then_mps_then_cpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if expected == "cpu" and torch.backends.mps.is_available():
        expected = "mps"
    assert select_device("auto").type == expected
    assert select_device("cpu") == torch.device("cpu")


def test_absent_devices_are_clear_errors():
    if not torch.cuda.is_available():
        with pytest.raises(LecnnError, match="CUDA is not available"):
            select_device("cuda")
        with pytest.raises(LecnnError, match="CUDA is not available"):
            select_device("cuda:1")
    else:
        with pytest.raises(LecnnError, match="CUDA device"):
            select_device(f"cuda:{torch.cuda.device_count()}")
    if not torch.backends.mps.is_available():
        with pytest.raises(LecnnError, match="MPS is not available"):
            select_device("mps")
    with pytest.raises(LecnnError, match="not a device"):
        select_device("tpu")


def test_cli_absent_device_exits_2_without_traceback():
    bad = "cuda" if not torch.cuda.is_available() else "tpu"
    proc = subprocess.run(
        [sys.executable, "-m", "lecnn", "train", "--device", bad, "--epochs", "1"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_deterministic_switch_and_its_restore(subset_dir, tmp_path):
    restore = set_deterministic(True)
    try:
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.backends.cudnn.benchmark
    finally:
        restore()
    assert not torch.are_deterministic_algorithms_enabled()
    # a run with --deterministic leaves the process as it found it
    from lecnn.training.config import TrainConfig
    from lecnn.training.loop import Trainer, load_data

    cfg = TrainConfig(model="linear", device="cpu", epochs=1, limit=64, batch_size=16, deterministic=True,
                      data_dir=str(subset_dir), logdir=str(tmp_path / "run"))  # fmt: skip
    data = load_data(cfg, torch.device("cpu"), torch.float32)
    trainer = Trainer(cfg, data=data, progress_bar=False)
    assert torch.are_deterministic_algorithms_enabled()
    cfg_dir = trainer.run_dir
    trainer.run()
    assert not torch.are_deterministic_algorithms_enabled() and cfg_dir.is_dir()
