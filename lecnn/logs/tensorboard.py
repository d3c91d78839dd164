"""TensorBoard logging for a run: curves, histograms, pictures, the graph, hparams and the config.

A run folder ``RUN/`` holds three TensorBoard runs, in the layout Keras and most PyTorch loggers
use, so that one quantity's training and test curves share a chart:

- ``RUN/train``: ``loss/step``, ``error_pct/step`` and ``accuracy_pct/step`` (the mean over the
  last ``--log-every`` updates) and ``loss/pass``, ``error_pct/pass``, ``accuracy_pct/pass``
  (the pass's running values);
- ``RUN/test``: ``loss/pass``, ``error_pct/pass``, ``accuracy_pct/pass`` after each evaluation;
- ``RUN/`` itself: ``optimizer/lr`` (from the first update on), ``speed/images_per_s``,
  ``time/train_seconds``; ``weights/<layer>.<param>`` and ``grads/<layer>.<param>`` histograms
  named as the papers name the layers (C1, S2, H1, F6, ...); ``filters/<first layer>``,
  ``misclassified/test`` and ``confusion/test`` images; the ``config`` text; the model graph
  (autograd); the HParams session.

Every scalar is on the global-step axis (updates done); per-pass values sit at the pass's last
update. Error and accuracy are in percent, as the command line prints them.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch.utils.tensorboard import SummaryWriter

from lecnn.logs.hparams import hparams_summaries, session_end_summary
from lecnn.logs.pictures import confusion_image, filter_grid, labelled_grid


def timestamped_run_dir(name: str) -> Path:
    """``runs/<name>-<YYYYmmdd-HHMMSS>``, created here: where a run goes when no folder is given.
    Two runs started in the same second get their own folders (``...-2``, ``...-3``)."""
    base = Path("runs") / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"
    base.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            path.mkdir()  # atomic: of two processes, one gets each name
            return path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "too many runs started this second", str(base))


def _same(name: str) -> str:
    return name


class Silent:
    """A RunLogger that writes nothing (ranks other than 0 in a data-parallel run)."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


class RunLogger:
    """Writes one run's events under its run folder (layout in the module docstring).

    ``names`` maps a state-dict key (``0.weight``) to the name shown (``C1.weight``)."""

    def __init__(self, logdir: str | Path, names: Callable[[str], str] = _same) -> None:
        self.root = Path(logdir)
        self.names = names
        self._writer: SummaryWriter | None = None
        self._splits: dict[str, SummaryWriter] = {}
        self._health_layout = False  # the health charts' layout, written with the first sample

    @property
    def writer(self) -> SummaryWriter:
        """The run-level writer, opened on first use (``lecnn evaluate`` writes only a sub-run)."""
        if self._writer is None:
            self._writer = SummaryWriter(str(self.root))
        return self._writer

    def split(self, name: str) -> SummaryWriter:
        """The writer of sub-run ``name`` (``train``, ``test``, ``evaluate``)."""
        if name not in self._splits:
            self._splits[name] = SummaryWriter(str(self.root / name))
        return self._splits[name]

    def config(self, config: dict[str, Any]) -> None:
        text = "```\n" + json.dumps(config, indent=2, default=str) + "\n```"
        self.writer.add_text("config", text, 0)

    def scalars(self, values: dict[str, float | None], step: int) -> None:
        """Run-level scalars (``optimizer/lr``, ``speed/images_per_s``, ...)."""
        for tag, v in values.items():
            if v is not None:
                self.writer.add_scalar(tag, v, step)

    def health(
        self, layers: dict[str, dict[str, float]], updates: dict[str, float], step: int
    ) -> None:
        """``health/<quantity>/<layer>`` scalars (``health/update_ratio/<layer>.<param>``), shown
        in TensorBoard's Custom Scalars as one chart per quantity with a line per layer."""
        if not self._health_layout:
            quantities = ("mean", "std", "saturated", "dead", "delta_rms", "update_ratio")
            layout = {q: ["Multiline", [rf"health/{q}/.*"]] for q in quantities}
            self.writer.add_custom_scalars({"health": layout})
            self._health_layout = True
        for layer, stats in layers.items():
            for quantity, v in stats.items():
                self.writer.add_scalar(f"health/{quantity}/{layer}", v, step)
        for param, ratio in updates.items():
            if ratio != float("-inf"):
                self.writer.add_scalar(f"health/update_ratio/{param}", ratio, step)

    def metrics(self, split: str, suffix: str, loss: float, error: float, step: int) -> None:
        """``loss/<suffix>``, ``error_pct/<suffix>`` and ``accuracy_pct/<suffix>`` of ``split``;
        ``error`` is a fraction."""
        w = self.split(split)
        w.add_scalar(f"loss/{suffix}", loss, step)
        w.add_scalar(f"error_pct/{suffix}", 100.0 * error, step)
        w.add_scalar(f"accuracy_pct/{suffix}", 100.0 * (1.0 - error), step)

    def histograms(
        self, params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], step: int
    ) -> None:
        for name, p in params.items():
            shown = self.names(name)
            self._histogram(f"weights/{shown}", p, step)
            g = grads.get(name)
            if g is not None:
                self._histogram(f"grads/{shown}", g, step)

    def _histogram(self, tag: str, values: torch.Tensor, step: int) -> None:
        try:
            self.writer.add_histogram(tag, values.detach().double().cpu(), step)
        except ValueError:
            # TensorBoard cannot bin values near float64's limits (a run on its way to diverging):
            # that histogram is left out, the run goes on to its finite-value check
            pass

    def filters(self, name: str, weight: torch.Tensor, step: int) -> None:
        """The kernels of the convolution whose weight is ``name``, enlarged."""
        layer = self.names(name).rsplit(".", 1)[0]
        self.writer.add_image(f"filters/{layer}", filter_grid(weight), step, dataformats="HWC")

    def misclassified(
        self, images: torch.Tensor, predicted: torch.Tensor, truth: torch.Tensor, step: int
    ) -> None:
        captions = [f"pred {int(p)}\ntrue {int(t)}" for p, t in zip(predicted, truth)]
        grid = labelled_grid(images, captions)
        self.writer.add_image("misclassified/test", grid, step, dataformats="HWC")

    def confusion(self, matrix: torch.Tensor, step: int, split: str | None = None) -> None:
        """The test confusion matrix, in the run itself or in sub-run ``split``."""
        writer = self.split(split) if split else self.writer
        writer.add_image("confusion/test", confusion_image(matrix), step, dataformats="HWC")

    def graph(self, module: torch.nn.Module, example: torch.Tensor) -> None:
        """The model graph (Graphs tab), traced on one example."""
        self.writer.add_graph(module, example)

    def hparams(
        self, hparams: dict[str, Any], shown: tuple[str, ...], metrics: dict[str, tuple[str, str]]
    ) -> None:
        """Start the HParams session: ``hparams`` (``shown`` first, visible by default) and the
        ``metrics`` read from the curves, {display name: (sub-run, tag)}."""
        for summary in hparams_summaries(hparams, shown, metrics):
            self._file_writer().add_summary(summary)

    def end_session(self, status: str) -> None:
        """Close the HParams session with the run's ``status`` (finished, interrupted, ...)."""
        self._file_writer().add_summary(session_end_summary(status))

    def _file_writer(self) -> Any:
        """The writer's event file (SummaryWriter opens it when it is made)."""
        writer = self.writer.file_writer
        assert writer is not None
        return writer

    def _open(self) -> list[SummaryWriter]:
        return [w for w in (self._writer, *self._splits.values()) if w is not None]

    def flush(self) -> None:
        for w in self._open():
            w.flush()

    def close(self) -> None:
        for w in self._open():
            w.flush()
            w.close()


#: what a run logs to: its events (rank 0), or nothing (the other ranks of a data-parallel run)
Logger = RunLogger | Silent
