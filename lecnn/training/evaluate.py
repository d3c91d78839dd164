"""Evaluation of an engine on a split: loss, error, predictions, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lecnn.data import Split
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


def evaluate(engine: Engine, split: Split, batch_size: int = 2000) -> Evaluation:
    """Mean loss and error rate of ``engine`` on ``split`` (no gradients, the same loss as training)."""
    dtype = split.x.dtype
    engine.train(False)
    total = torch.zeros((), dtype=torch.float64, device=split.x.device)
    preds = []
    for start in range(0, len(split), batch_size):
        x = split.x[start : start + batch_size]
        y = split.y[start : start + batch_size]
        out = engine.outputs(x)
        target = encode_targets(y, engine.spec.target, dtype)
        total += engine.loss_value(out, target).double() * len(y)
        preds.append(engine.predict(out))
    engine.train(True)
    predicted = torch.cat(preds)
    misses = int((predicted != split.y).sum())
    return Evaluation(float(total) / len(split), misses / len(split), misses, predicted)
