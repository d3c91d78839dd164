"""The shell's ordinary plumbing: output piped into a reader that stops early, or sent to a full
disk. Each case failed before lecnn handled it: ``| head`` left "error: Broken pipe" and exit 2,
``--help > /dev/full`` said nothing and exited 0."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

LECNN = [sys.executable, "-m", "lecnn"]
FULL = Path("/dev/full")


def _closed_pipe(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    """``lecnn ARGS | reader`` where the reader has already gone: stdout's pipe is closed before
    lecnn writes, so its first write meets a broken pipe."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(LECNN + args, stdout=write, stderr=subprocess.PIPE, timeout=300,
                              check=False)  # fmt: skip
    finally:
        os.close(write)


@pytest.mark.parametrize("args", [["models"], ["--help"], ["train", "--help"]])
def test_a_reader_that_stops_early_gets_silence_and_the_pipe_status(args):
    done = _closed_pipe(args)
    assert done.stderr == b"", done.stderr.decode()
    assert done.returncode == 141  # 128 + SIGPIPE, what `head` leaves a shell with


@pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full (Linux) to fill a disk at will")
@pytest.mark.parametrize("args", [["models"], ["--help"], ["--version"]])
def test_output_to_a_full_disk_is_one_line_and_exit_2(args):
    with FULL.open("w") as full:
        done = subprocess.run(LECNN + args, stdout=full, stderr=subprocess.PIPE, timeout=300,
                              check=False)  # fmt: skip
    lines = done.stderr.decode().strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and "disk is full" in lines[0], lines


def test_output_redirected_to_a_file_is_whole(tmp_path):
    out = tmp_path / "models.txt"
    with out.open("w") as f:
        done = subprocess.run(LECNN + ["models"], stdout=f, stderr=subprocess.PIPE, timeout=300,
                              check=False)  # fmt: skip
    assert done.returncode == 0 and done.stderr == b""
    assert "lenet5-lush" in out.read_text()


@pytest.mark.parametrize("after", [0.4, 0.8])
def test_ctrl_c_while_lecnn_starts_is_one_line_and_exit_130(after):
    """Ctrl-C in the second lecnn spends importing torch: before lecnn held it there, the import's
    traceback ended the program, or the interrupt was lost and the command ran on."""
    p = subprocess.Popen(LECNN + ["models"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(after)  # past the interpreter's own start, inside the import of torch (1-4 s here)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=300)
    assert (p.returncode, err.decode(), out) == (130, "lecnn: interrupted\n", b"")


def test_a_dumb_terminal_without_colour_gets_no_escape_sequences(mnist_dir, tmp_path):
    """In a terminal (a pty, where the progress bar is drawn) with ``TERM=dumb`` and
    ``NO_COLOR``: plain text only, no escape sequence a dumb terminal would print as garbage."""
    env = dict(os.environ, TERM="dumb", NO_COLOR="1", LECNN_DATA=str(mnist_dir))
    main, sub = pty.openpty()
    args = ["train", "--limit", "1000", "--epochs", "1", "--device", "cpu", "--logdir",
            str(tmp_path / "run")]  # fmt: skip
    p = subprocess.Popen(LECNN + args, stdin=sub, stdout=sub, stderr=sub, env=env)
    os.close(sub)
    out = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the program ended and closed its side
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    assert p.wait(timeout=300) == 0, out.decode(errors="replace")
    assert b"done: lenet5-modern" in out and b"\x1b" not in out, out.decode(errors="replace")


def test_a_compiled_run_from_a_cold_cache_writes_nothing_on_stderr(mnist_dir, tmp_path):
    """Compiling afresh for the CPU, torch's C++ builder warned "No CUDA runtime is found, using
    CUDA_HOME=..." on stderr in the middle of the run's output (this machine: no GPU, a CUDA
    path); lecnn drops that one message."""
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "inductor"))
    args = ["train", "--model", "lecun1989", "--limit", "100", "--epochs", "1", "--compile", "on",
            "--device", "cpu", "--no-progress", "--data-dir", str(mnist_dir), "--logdir",
            str(tmp_path / "run")]  # fmt: skip
    done = subprocess.run(LECNN + args, capture_output=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr.decode() == "" and b"done: lecun1989" in done.stdout
