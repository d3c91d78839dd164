"""TensorBoard logging for a run: curves, histograms, pictures, hparams and the config."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch.utils.tensorboard import SummaryWriter

from lecnn.logs.pictures import confusion_image, filter_grid, labelled_grid


def timestamped_run_dir(name: str) -> Path:
    """``runs/<name>-<YYYYmmdd-HHMMSS>``: where a run goes when no folder is given."""
    return Path("runs") / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"


class RunLogger:
    """Writes one run's events under its run folder. Tags:

    ``loss/train``, ``loss/test``, ``error/train``, ``error/test``, ``lr``, ``images_per_s``;
    ``weights/<param>`` and ``grads/<param>`` histograms; ``filters/first_layer`` and
    ``misclassified/test`` images; ``config`` text; hparams with the final metrics.
    """

    def __init__(self, logdir: str) -> None:
        self.writer = SummaryWriter(logdir)

    def config(self, config: dict[str, Any]) -> None:
        text = "```\n" + json.dumps(config, indent=2, default=str) + "\n```"
        self.writer.add_text("config", text, 0)

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, v in values.items():
            if v is not None:
                self.writer.add_scalar(tag, v, step)

    def histograms(
        self, params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], step: int
    ) -> None:
        for name, p in params.items():
            self.writer.add_histogram(f"weights/{name}", p.detach().float().cpu(), step)
            g = grads.get(name)
            if g is not None:
                self.writer.add_histogram(f"grads/{name}", g.detach().float().cpu(), step)

    def filters(self, weight: torch.Tensor, step: int) -> None:
        self.writer.add_image("filters/first_layer", filter_grid(weight), step, dataformats="HWC")

    def misclassified(
        self, images: torch.Tensor, predicted: torch.Tensor, truth: torch.Tensor, step: int
    ) -> None:
        captions = [f"{int(p)} (true {int(t)})" for p, t in zip(predicted, truth)]
        grid = labelled_grid(images, captions)
        self.writer.add_image("misclassified/test", grid, step, dataformats="HWC")

    def confusion(self, matrix: torch.Tensor, step: int) -> None:
        self.writer.add_image("confusion/test", confusion_image(matrix), step, dataformats="HWC")

    def hparams(self, hparams: dict[str, Any], metrics: dict[str, float]) -> None:
        clean = {
            k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in hparams.items()
        }
        self.writer.add_hparams(clean, {f"hparam/{k}": v for k, v in metrics.items()}, run_name=".")

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
