"""Evaluation of an engine on a split: loss, error, predictions, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lecnn.data import Split
from lecnn.training.distributed import ONE_PROCESS, Ranks
from lecnn.training.engine import Engine, encode_targets


@dataclass
class Evaluation:
    loss: float
    error: float
    misses: int
    predicted: torch.Tensor  # N int64, on the split's device

    def confusion(self, labels: torch.Tensor, classes: int = 10) -> torch.Tensor:
        """classes×classes counts, rows the true class, columns the predicted one."""
        flat = labels.to(self.predicted.device) * classes + self.predicted
        return torch.bincount(flat, minlength=classes * classes).view(classes, classes).cpu()


def evaluate(
    engine: Engine, split: Split, batch_size: int = 2000, ranks: Ranks = ONE_PROCESS
) -> Evaluation:
    """Mean loss and error rate of ``engine`` on ``split`` (no gradients, the same loss as
    training). Each of the ranks evaluates its shard, and the sums and
    predictions are gathered: every process gets the whole split's figures."""
    dtype = split.x.dtype
    engine.train(False)
    total = torch.zeros((), dtype=torch.float64, device=split.x.device)
    part = ranks.shard(len(split))
    xs, ys = split.x[part], split.y[part]
    preds = []
    for start in range(0, len(ys), batch_size):
        x = xs[start : start + batch_size]
        y = ys[start : start + batch_size]
        out = engine.outputs(x)
        target = encode_targets(y, engine.spec.target, dtype)
        total += engine.spec.loss_total(engine.loss_value(out, target).double(), len(y))
        preds.append(engine.predict(out))
    engine.train(True)
    predicted = torch.cat(preds) if preds else split.y[:0]
    loss_sum = ranks.total(total, device=split.x.device)[0]  # the shards' sums, predictions
    predicted = ranks.gather(predicted, len(split))
    misses = int((predicted != split.y).sum())
    return Evaluation(loss_sum / len(split), misses / len(split), misses, predicted)
