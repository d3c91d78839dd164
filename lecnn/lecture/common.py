"""What every lecture step shares: its run folder, its TensorBoard writer, plots as images."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.tensorboard import SummaryWriter

from lecnn.logs.tensorboard import timestamped_run_dir
from lecnn.training.checkpoint import write_atomically


def run_dir(step: str, logdir: str | None) -> Path:
    if logdir:
        return Path(logdir)
    return timestamped_run_dir(f"lecture-{step}")


def writer(step: str, logdir: str | None) -> SummaryWriter:
    path = run_dir(step, logdir)
    path.mkdir(parents=True, exist_ok=True)
    return SummaryWriter(str(path))


def figure_image(fig: Any) -> np.ndarray:
    """A matplotlib figure as an HWC uint8 array (for ``add_image``)."""
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[:, :, :3].copy()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return image


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend, or None when matplotlib is not installed
    (``pip install lecnn[plot]``): the steps then log numbers but no pictures."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def keep_figure(fig: Any, tb: SummaryWriter, tag: str, out: Path | None) -> Path | None:
    """Log ``fig`` to TensorBoard as the image ``tag`` and, with ``out``, write it there as a
    PNG named after the tag (``linreg/loss_surface`` → ``linreg-loss_surface.png``), atomically.
    Returns the PNG's path (None without ``out``); the figure is closed."""
    path = None
    if out is not None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        Path(out).mkdir(parents=True, exist_ok=True)
        path = write_atomically(Path(out) / f"{tag.replace('/', '-')}.png",
                                lambda f: f.write(buf.getvalue()))  # fmt: skip
    tb.add_image(tag, figure_image(fig), 0, dataformats="HWC")
    return path
